"""An app's acr request (acr_values, or the claims parameter's essential id_token acr) that the bridge cannot meet:
the app's verified redirect URI gets error=unmet_authentication_requirements with its state and iss (OpenID
Connect Core 1.0 errata set 2, §3.1.2.6), audited, and nothing is issued. See bridge.acr."""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error

from bridge import acr, events
from bridge.logs import log
from bridge.web.answers import return_error_to_app
from bridge.web.context import bridge, server

UNREACHABLE = "No means of identification this service allows can reach the requested acr."
NOT_REACHED = "The user's login did not reach the requested acr."


def unreachable(grant) -> tuple[str, ...]:
    """The app's requested acr values when no means its service allows can give them (else ())."""
    service, settings = grant.client.service, bridge().settings
    wanted = acr.requested(grant.request.payload.data)
    if wanted and not acr.reachable_request(wanted, service.min_acr, service.allowed_mie, settings):
        return wanted
    return ()


def unmet_at_authorize(grant, wanted: tuple[str, ...]):
    """At /authorize, before any login: no allowed means can reach `wanted`."""
    client = grant.client
    events.login_denied(bridge(), ("acr_unreachable",), service=client.service.service, client=client.client_id,
                        requested=" ".join(wanted))
    log.info("acr_unmet", client=client.client_id, requested=list(wanted), when="authorize")
    error = OAuth2Error(UNREACHABLE, error=acr.UNMET, state=grant.request.payload.state,
                        redirect_uri=grant.redirect_uri)
    return server().handle_error_response(None, error)


def unmet_after_login(txn, authn):
    """After a login whose acr is below what the app asked (bridge.login.complete decided it)."""
    events.login_denied(bridge(), ("acr_not_satisfied",), service=txn.service, client=txn.client_id,
                        national_id=authn.identity.national_id, mie=authn.mie, acr=authn.acr,
                        upstream_acr=authn.upstream_acr)
    return return_error_to_app(txn, acr.UNMET, NOT_REACHED)
