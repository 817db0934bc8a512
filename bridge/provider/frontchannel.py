"""OIDC Front-Channel Logout 1.0: the apps of an ending session that registered a `frontchannel_logout_uri`, each
with the URL the browser loads in a hidden iframe of the bridge's "logged out" page (bridge/web/logout.py).

Only a session ended in the browser can do it (RP-initiated logout, user switch): expiry, card removal and an
administrator's end have no page to hold the iframes, and rely on back-channel logout (docs/provider.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit


@dataclass(frozen=True)
class Frame:
    client_id: str
    name: str       # the app's name, for the iframe's title
    url: str

    @property
    def origin(self) -> str:
        """scheme://host[:port], the CSP frame-src source of this iframe."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}".lower()


def logout_url(uri: str, issuer: str, sid: str, session_required: bool) -> str:
    """The registered URI with `iss` and `sid` added to its query when the app asks for them (§2); a query the URI
    already has is kept (§2: the OP adds its parameters to it)."""
    if not session_required:
        return uri
    parts = urlsplit(uri)
    added = urlencode({"iss": issuer, "sid": sid})
    return urlunsplit(parts._replace(query=f"{parts.query}&{added}" if parts.query else added))


def frames(policies, issuer: str, session) -> list[Frame]:
    """One Frame per app of `session` (still active, or whose own timer ran out) with a front-channel URI."""
    found = []
    for client_id in sorted(set(session.clients) | set(session.expired_clients)):
        entry = policies.client(client_id)
        if entry is None or not entry[1].frontchannel_logout_uri:
            continue
        service, client = entry
        found.append(Frame(client_id, client.name or service.name or client_id,
                           logout_url(client.frontchannel_logout_uri, issuer, session.sid,
                                      client.frontchannel_logout_session_required)))
    return found
