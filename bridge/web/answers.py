"""What the bridge answers an app's /authorize with: a code, an OAuth error on its verified redirect URI, the
denial page, or the start of a login. Shared by /authorize and by every way a login ends (bridge/web/completion.py)."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from flask import make_response, redirect, render_template, request

from bridge import events
from bridge.login.transactions import BROWSER_COOKIE
from bridge.logs import log
from bridge.policy import reason_message
from bridge.provider.grants import PARAM_LIMITS
from bridge.web.context import bridge, server
from bridge.web.errors import error_page
from bridge.web.grantee import grantee_for
from bridge.web.i18n import current_lang
from bridge.web.pending import login_entry
from bridge.web.security import browser_secret, cookie_args


def oauth_error(error: OAuth2Error, query=None):
    """Redirect with the error only when the client and redirect_uri were verified; otherwise a page, in French,
    with the client's home page when the client is known (`query`: the /authorize parameters)."""
    if error.redirect_uri:
        return server().handle_error_response(None, error)
    query = request.values if query is None else query
    code, reason = error.error, None
    description = error.description or ""
    if code == "invalid_request" and ("redirect_uri" in description or "redirect uri" in description.lower()):
        code = "invalid_redirect_uri"
        client_id = query.get("client_id") or ""
        found = bridge().policies.client(client_id) if client_id else None
        reason = {"uri": query.get("redirect_uri") or "",
                  "client": (found[1].name or found[0].name or client_id) if found else client_id}
    log.info("authorize_refused", error=error.error, description=error.description)
    if code == "invalid_client":   # no policy registers this app (e.g. PSC delegating with a wrong client_id)
        events.login_failed(bridge(), upstream="", reason="invalid_client", client=(query.get("client_id") or "")[:128])
    return error_page(code, 400, detail=f"{error.error}: {description}".strip(": "), reason=reason,
                      client_id=query.get("client_id") or "")


def return_error_to_app(txn, error: str, description: str):
    """End a pending login without a user: the app's redirect URI gets `error` with its state and iss (RFC 6749
    §4.1.2.1, RFC 9207), if the client and that URI are still registered (a policy reload may have removed them:
    then a page)."""
    bridge().transactions.consume(txn.id)
    if txn.device:   # a device approval (RFC 8628): the kiosk gets access_denied at its next poll
        from bridge.web.device import refused

        return refused(txn, "cancelled" if error == "access_denied" else error)
    client = _still_registered(txn)
    if client is None:
        return error_page("txn_invalid", 400, client_id=txn.client_id)
    log.info("authorize_error_returned", client=txn.client_id, error=error)
    state = dict(parse_qsl(txn.query)).get("state")
    return server().handle_error_response(None, OAuth2Error(description, error=error, state=state,
                                                            redirect_uri=txn.redirect_uri))


def _still_registered(txn):
    """The client of a pending login, if it and the redirect URI /authorize validated are still registered."""
    client = server().query_client(txn.client_id)
    if client is None or not txn.redirect_uri or not client.check_redirect_uri(txn.redirect_uri):
        return None
    return client


def issue_code(grant, session):
    """/authorize with a session that satisfies the service: answer with a code."""
    return server().create_authorization_response(grant_user=grantee_for(grant.client, session), grant=grant)


def issue_code_after_login(txn, session):
    """After the login: the code comes from the request /authorize validated and stored with the login — nothing
    replays /authorize. Only what may have changed meanwhile is checked again: the client and its redirect URI."""
    if txn.device:   # a device approval (RFC 8628): no code, the kiosk's next poll gets the tokens
        from bridge.web.device import approved

        return approved(txn, session)
    client = _still_registered(txn)
    if client is None:
        return error_page("txn_invalid", 400, client_id=txn.client_id)
    request = OAuth2Request("GET", f"{bridge().settings.issuer}/authorize")
    request.payload = BasicOAuth2Payload(dict(parse_qsl(txn.query)))
    request.client, request.scope = client, txn.scope
    grant = server().get_authorization_grant(request)
    response = server().handle_response(*grant.create_authorization_response(txn.redirect_uri,
                                                                             grantee_for(client, session)))
    # What Authlib's create_authorization_response would run after the grant: its hooks (RFC 9207 iss among them).
    grant.execute_hook("after_authorization_response", response)
    server().execute_hook("after_create_authorization_response", response)
    return response


def start_login(grant, *, authenticated: bool, forced: bool = False, consent: bool = False):
    """`consent`: the session serves, only the professional's consent to this third-party client is missing."""
    b = bridge()
    secret, new = browser_secret()
    txn = b.transactions.begin(grant.client.client_id, grant.client.service.service,
                               validated_query(grant.request.payload.data), secret, forced=forced,
                               authenticated=authenticated, consent=consent,
                               login_hint=(grant.request.payload.data.get("login_hint") or "")[:256],
                               redirect_uri=grant.redirect_uri, scope=grant.request.scope or "")
    if not authenticated:
        events.login_started(b, service=grant.client.service.service, client=grant.client.client_id)
    response = make_response(redirect(login_entry(txn)))
    if new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    return response


def validated_query(data: dict) -> str:
    """Only the parameters the bridge understands, each within its cap (checked at validation): what an
    anonymous /authorize may store for the length of a login."""
    return urlencode([(k, v) for k, v in data.items() if k in PARAM_LIMITS and isinstance(v, str) and v])


def render_denial(service, reasons, authn=None, client_id: str = ""):
    events.login_denied(bridge(), reasons, service=service.service, client=client_id,
                        national_id=authn.identity.national_id if authn else "", mie=authn.mie if authn else "")
    texts = [reason_message(code, current_lang()) for code in reasons]
    return render_template("denied.html", service=service, reasons=texts), 403
