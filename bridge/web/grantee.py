"""The Grantee an app's tokens are issued to once a session serves it (a code, a device approval)."""
from __future__ import annotations

from bridge.logs import log
from bridge.policy import effective_limits
from bridge.provider.grants import Grantee
from bridge.web.context import bridge


def grantee_for(client, session) -> Grantee:
    """The session serves this client now: its activity is recorded, and the grant carries the service's bounds."""
    b = bridge()
    service = client.service
    limits = effective_limits(service, b.clock.now())  # a lapsed reserve falls back to 30 min / 4 h
    b.sessions.touch(session, client.client_id, limits.idle_timeout, limits.max_session)
    deadline = min(session.deadline, session.authn.auth_time + limits.max_session)
    log.info("code_issued", client=client.client_id, service=service.service, mie=session.authn.mie)
    return Grantee(session.authn, session.sid, service.service, deadline=deadline)
