"""CIBA poll mode (OpenID CIBA Core 1.0) for thick clients, relayed to Pro Santé Connect's CIBA.

POST /bc-authorize (client authenticated as at /token, policy grant_types lists GRANT_TYPE) starts a PSC CIBA
request for `login_hint` (the national id) and answers `auth_req_id` (random, stored by its SHA-256),
`expires_in`, `interval`. The client then polls /token with grant_type=GRANT_TYPE. PSC is polled lazily, on the
client's polls once PSC's own interval has passed (no background thread): pending -> authorization_pending, denied
-> access_denied, expired -> expired_token. PSC's tokens are checked and mapped like a browser login's
(PscClient.authentication), then the same login pipeline and policy run (bridge.login.complete): a refusal is
access_denied with no session; an allowed login opens an SSO session without a browser cookie (logout, back-channel
logout and the idle/absolute limits apply as to any) and the client gets tokens with an ID token.

Authlib has no CIBA grant: CibaGrant is a BaseGrant + TokenEndpointMixin, as RefreshGrant is.
"""
from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    grants,
)
from authlib.oauth2.rfc8628 import AuthorizationPendingError, ExpiredTokenError, SlowDownError

from bridge import acr, events, metrics
from bridge.login.complete import complete
from bridge.login.flow import after_login
from bridge.logs import log
from bridge.policy import eligible_activities
from bridge.policy.calendar import effective_limits
from bridge.provider import dpop, mtls
from bridge.provider.grants import TOKEN_ENDPOINT_AUTH_METHODS, BridgeOpenIDCode, Grantee, StoredCode
from bridge.upstream.psc import PscError
from bridge.upstream.psc_ciba import GRANT_TYPE, CibaAnswerInvalid, PscCiba
from bridge.upstream.psc_tokens import keep_psc_tokens

MIN_INTERVAL = 5            # seconds between a client's polls (CIBA Core §7.3 default)
SLOW_DOWN_STEP = 5          # CIBA Core §11: the interval grows by at least 5 s after slow_down
MAX_EXPIRY = 600            # requested_expiry is capped here, and by PSC's own expires_in
KEEP_AFTER = 600            # an answered or expired request is remembered this long (expired_token, invalid_grant)
LOCK_TTL = 60
MAX_BINDING_MESSAGE = 64    # shown on the professional's phone; PSC's samples send a 2-digit number
LIMITS = {"login_hint": 64, "acr_values": 256, "scope": 1024, "requested_expiry": 10,
          "channel": 8}
CHANNELS = ("CARD", "MOBILE")
UPSTREAM = "psc-ciba"


class CibaUnavailable(OAuth2Error):
    """PSC could not be asked (unreachable, timeout, bad answer): retry later, nothing was issued."""
    error = "temporarily_unavailable"
    status_code = 503


class UnknownUserId(OAuth2Error):
    error = "unknown_user_id"


class InvalidBindingMessage(OAuth2Error):
    error = "invalid_binding_message"


def _key(auth_req_id: str) -> str:
    return "ciba:" + hashlib.sha256(auth_req_id.encode()).hexdigest()


def _error(error: OAuth2Error) -> tuple[dict, int]:
    body = {"error": error.error}
    if error.description:
        body["error_description"] = error.description
    return body, error.status_code or (401 if error.error == "invalid_client" else 400)


def _printable(value: str) -> bool:
    return all(c.isprintable() for c in value)


# -- /bc-authorize ------------------------------------------------------------------------------------------------
def backchannel_authentication(server, http_request) -> tuple[dict, int]:
    """POST /bc-authorize (CIBA Core §7): (body, status)."""
    bridge = server.bridge
    request = server.create_oauth2_request(http_request)
    try:
        client = server.authenticate_client(request, TOKEN_ENDPOINT_AUTH_METHODS, endpoint="bc-authorize")
        params = _validated(client, request.form)
    except OAuth2Error as error:
        return _error(error)
    service = client.service
    wanted = acr.requested({"acr_values": params["acr_values"]} if params["acr_values"] else {})
    try:
        started = PscCiba(bridge.psc).start(params["login_hint"], binding_message=params["binding_message"],
                                            acr_values=acr.to_psc(wanted, service.min_acr, bridge.settings),
                                            channel=params["channel"] or None)
    except PscError as exc:
        events.login_failed(bridge, upstream=UPSTREAM, reason=exc.code, service=service.service,
                            client=client.client_id, detail=exc.detail)
        if exc.code == "psc_unknown_user_id":
            return _error(UnknownUserId("Pro Sante Connect does not know this login_hint."))
        metrics.ciba("unavailable")
        return _error(CibaUnavailable("Pro Sante Connect could not be reached or failed; retry later."))
    now = bridge.clock.now()
    expires_in = min(started.expires_in, params["requested_expiry"] or MAX_EXPIRY, MAX_EXPIRY)
    interval = max(MIN_INTERVAL, started.interval)
    auth_req_id = secrets.token_urlsafe(32)
    record = {"client_id": client.client_id, "service": service.service, "scope": params["scope"],
              "acr_values": params["acr_values"], "national_id": params["login_hint"], "status": "pending",
              "exp": now + expires_in, "interval": interval, "next_poll": now,
              "psc_id": started.auth_req_id, "psc_interval": started.interval, "psc_next": now + started.interval}
    bridge.record("ciba_requested", "info", service=service.service, client=client.client_id,
                  national_id=params["login_hint"], channel=params["channel"] or bridge.settings.psc_ciba_channel)
    bridge.store.set_json(_key(auth_req_id), record, expires_in + KEEP_AFTER)
    metrics.ciba("requested")
    log.info("ciba_requested", client=client.client_id, service=service.service, expires_in=expires_in)
    return {"auth_req_id": auth_req_id, "expires_in": expires_in, "interval": interval}, 200


def _validated(client, form) -> dict:
    if not client.check_grant_type(GRANT_TYPE):
        raise UnauthorizedClientError(f"This client may not use CIBA ({GRANT_TYPE} is not in its policy's "
                                      "grant_types).")
    if client.client.public:
        raise UnauthorizedClientError("CIBA needs a confidential client (CIBA Core section 7.1).")
    if client.client.consent == "required":
        raise UnauthorizedClientError("CIBA has no consent page: a client with consent: required cannot use it.")
    if any(len(form.getlist(k)) > 1 for k in form):
        raise InvalidRequestError("A parameter is repeated (RFC 6749 section 3.1).")
    for name, limit in LIMITS.items():
        if len(form.get(name) or "") > limit:
            raise InvalidRequestError(f"{name} is longer than {limit} characters.")
    if form.get("login_hint_token") or form.get("id_token_hint"):
        raise InvalidRequestError("Only login_hint (the national id) is supported.")
    hint = (form.get("login_hint") or "").strip()
    if not hint or not _printable(hint):
        raise InvalidRequestError("login_hint (the professional's national id) is required.")
    scope = form.get("scope") or ""
    if "openid" not in scope.split():
        raise InvalidScopeError("scope must contain openid.")
    binding = form.get("binding_message") or ""
    if len(binding) > MAX_BINDING_MESSAGE or not _printable(binding):
        raise InvalidBindingMessage(f"binding_message must be printable text of at most {MAX_BINDING_MESSAGE} "
                                    "characters.")
    expiry = form.get("requested_expiry") or ""
    if expiry and (not expiry.isdigit() or int(expiry) < 1):
        raise InvalidRequestError("requested_expiry must be a positive number of seconds.")
    channel = (form.get("channel") or "").upper()
    if channel and channel not in CHANNELS:
        raise InvalidRequestError("channel must be CARD or MOBILE.")
    if form.get("acr_values") and not _printable(form["acr_values"]):
        raise InvalidRequestError("acr_values must be printable text.")
    return {"login_hint": hint, "scope": client.get_allowed_scope(scope), "binding_message": binding,
            "requested_expiry": int(expiry) if expiry else 0, "channel": channel,
            "acr_values": form.get("acr_values") or ""}


# -- /token ---------------------------------------------------------------------------------------------------
class CibaGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    GRANT_TYPE = GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS

    def validate_token_request(self):
        jkt = dpop.token_endpoint_jkt(self.server.bridge, self.request)
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(GRANT_TYPE):
            raise UnauthorizedClientError(f"This client may not use the {GRANT_TYPE} grant "
                                          "(its policy's grant_types).")
        if not self.request.form.get("auth_req_id"):
            raise InvalidRequestError("Missing 'auth_req_id' in request.")
        dpop.require(client, jkt)
        self.request.client, self.request.dpop_jkt = client, jkt or mtls.binding(self.server.bridge)

    def create_token_response(self):
        bridge, client = self.server.bridge, self.request.client
        key = _key(self.request.form["auth_req_id"])
        record = bridge.store.get_json(key)
        if record is None or record["client_id"] != client.client_id:
            raise InvalidGrantError("auth_req_id is unknown, too old or another client's.")
        status, now = record["status"], bridge.clock.now()
        if status == "issued":
            bridge.record("token_revoked", "failure", client=client.client_id, reason="ciba_reuse")
            raise InvalidGrantError("auth_req_id was already used.")
        if status in ("denied", "refused", "failed"):
            raise AccessDeniedError("The professional or the service's policy refused the login.")
        if status == "expired" or now >= record["exp"]:
            if status == "pending":
                self._end(key, record, "expired", "ciba_expired")
            raise ExpiredTokenError("The authentication request expired.")
        if now < record["next_poll"]:
            record["interval"] += SLOW_DOWN_STEP
            record["next_poll"] = now + record["interval"]
            self._save(key, record)
            raise SlowDownError(f"Poll at most every {record['interval']} seconds.")
        record["next_poll"] = now + record["interval"]
        self._save(key, record)
        if now < record["psc_next"] or not bridge.store.add(f"{key}:lock", "1", LOCK_TTL):
            raise AuthorizationPendingError()
        try:
            return self._ask_psc(key, record, now)
        finally:
            bridge.store.delete(f"{key}:lock")

    def _save(self, key: str, record: dict) -> None:
        ttl = int(record["exp"] - self.server.bridge.clock.now()) + KEEP_AFTER
        self.server.bridge.store.set_json(key, record, max(ttl, 1))

    def _end(self, key: str, record: dict, status: str, reason: str) -> None:
        record["status"] = status
        self._save(key, record)
        metrics.ciba(status)
        events.login_failed(self.server.bridge, upstream=UPSTREAM, reason=reason, service=record["service"],
                            client=record["client_id"])

    def _ask_psc(self, key: str, record: dict, now: float):
        bridge = self.server.bridge
        try:
            answer = PscCiba(bridge.psc).poll(record["psc_id"])
        except CibaAnswerInvalid as exc:   # PSC approved but its answer is not acceptable: no way to retry it
            record["status"] = "failed"
            self._save(key, record)
            metrics.ciba("failed")
            events.login_failed(bridge, upstream=UPSTREAM, reason=exc.code, service=record["service"],
                                client=record["client_id"], detail=exc.detail)
            raise AccessDeniedError(f"The answer of Pro Sante Connect could not be accepted ({exc.code}).") from None
        except PscError as exc:
            record["psc_next"] = now + record["psc_interval"]
            self._save(key, record)
            events.login_failed(bridge, upstream=UPSTREAM, reason=exc.code, service=record["service"],
                                client=record["client_id"], detail=exc.detail)
            metrics.ciba("unavailable")
            raise CibaUnavailable("Pro Sante Connect could not be reached or failed; retry later.") from None
        if answer.status in ("pending", "slow_down"):
            if answer.status == "slow_down":
                record["psc_interval"] += SLOW_DOWN_STEP
            record["psc_next"] = now + record["psc_interval"]
            self._save(key, record)
            raise AuthorizationPendingError()
        if answer.status == "denied":
            self._end(key, record, "denied", "psc_access_denied")
            raise AccessDeniedError("The professional refused the request at Pro Sante Connect.")
        if answer.status == "expired":
            self._end(key, record, "expired", "psc_expired_token")
            raise ExpiredTokenError("The request expired at Pro Sante Connect.")
        return self._login(key, record, answer.authn, now, answer.token)

    def _login(self, key: str, record: dict, authn, now: float, psc_token: dict | None = None):
        """The login pipeline, as for a browser login: the policy decides before any session exists."""
        bridge, client = self.server.bridge, self.request.client
        service = bridge.policies.services[record["service"]]
        authn = _with_only_activity(service, authn, now)
        record["status"] = "refused"      # until the tokens are out: a failure below leaves no way back in
        self._save(key, record)
        verdict = after_login(service, authn, now)
        if verdict.action == "activity" and verdict.reasons:   # a situation is required, and several fit
            self._refuse(service, authn, (*verdict.reasons, "activity_choice_unavailable"))
        txn = bridge.transactions.begin(client.client_id, service.service,
                                        urlencode({"acr_values": record["acr_values"]} if record["acr_values"]
                                                  else {}), secrets.token_urlsafe(16), forced=True)
        txn.scope = record["scope"]

        def succeeded(authn) -> None:
            events.login_succeeded(bridge, authn, service=service.service, client=client.client_id, channel="ciba")

        outcome = complete(bridge.sessions, bridge.transactions, service, txn, authn, None, now,
                           device={"ip": "", "browser": "CIBA"}, succeeded=succeeded)
        if outcome.kind in ("deny", "unmet"):
            self._refuse(service, authn, outcome.reasons)
        bridge.transactions.consume(txn.id)   # "activity": several situations, none required; nothing to pick
        session = outcome.session
        if psc_token:   # for the token relay (RFC 8693 at /token), as after a browser PSC login
            keep_psc_tokens(bridge, session.sid, psc_token)
        limits = effective_limits(service, now)
        bridge.sessions.touch(session, client.client_id, limits.idle_timeout, limits.max_session)
        grantee = Grantee(session.authn, session.sid, service.service, secrets.token_urlsafe(12),
                          min(session.deadline, session.authn.auth_time + limits.max_session))
        record["status"] = "issued"
        self._save(key, record)
        token = self.server.generate_token(GRANT_TYPE, client, grantee, record["scope"],
                                           jkt=self.request.dpop_jkt)
        metrics.ciba("approved")
        if "openid" in record["scope"].split():
            self.request.user = grantee
            self.request.authorization_code = StoredCode({"authn": session.authn.to_dict()})
            token["id_token"] = BridgeOpenIDCode(bridge).encode_id_token(token, self.request)
        return 200, token, self.TOKEN_RESPONSE_HEADER


    def _refuse(self, service, authn, reasons) -> None:
        metrics.ciba("refused")
        events.login_denied(self.server.bridge, reasons, service=service.service,
                            client=self.request.client.client_id, national_id=authn.identity.national_id,
                            mie=authn.mie, channel="ciba")
        raise AccessDeniedError(f"The service's policy refused this login ({', '.join(reasons)}).")


def _with_only_activity(service, authn, now: float):
    """No page to choose the 'situation d'exercice': when the policy requires one and only one fits, it is that
    one; several fitting ones cannot be chosen here and the policy refuses (activity_required)."""
    verdict = after_login(service, authn, now)
    if verdict.action == "activity" and verdict.reasons:
        eligible = list(eligible_activities(service, authn))
        if len(eligible) == 1:
            return authn.with_activity(*eligible[0])
    return authn
