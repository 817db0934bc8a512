"""Pro Santé Connect CIBA relying party (OpenID CIBA Core 1.0, poll mode), used by the provider's /bc-authorize.

start() asks PSC to authenticate a professional on their e-CPS app or card (login_hint = national id, PSC's custom
`channel` CARD|MOBILE, binding_message); poll() asks PSC's token endpoint once. The tokens PSC returns are checked
and mapped exactly like the code flow's (PscClient.authentication: ID token without nonce, userinfo, authMode).
The endpoint: BRIDGE_PSC_CIBA_ENDPOINT, else discovery's backchannel_authentication_endpoint, else PSC's Keycloak
path {issuer}/protocol/openid-connect/ext/ciba/auth (confirmed for the sandbox, inferred for production).
"""
from __future__ import annotations

from dataclasses import dataclass

from bridge.model import Authentication
from bridge.upstream.psc import PscClient, PscError

GRANT_TYPE = "urn:openid:params:grant-type:ciba"
DEFAULT_INTERVAL = 5          # CIBA Core §7.3: the client waits 5 s when the answer names no interval
CIBA_PATH = "/protocol/openid-connect/ext/ciba/auth"
POLL_STATES = {"authorization_pending": "pending", "slow_down": "slow_down", "access_denied": "denied",
               "expired_token": "expired"}


@dataclass(frozen=True)
class Started:
    auth_req_id: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class Poll:
    status: str                        # pending | slow_down | denied | expired | done
    authn: Authentication | None = None
    token: dict | None = None          # PSC's token response when done (never logged)


class CibaAnswerInvalid(PscError):
    """PSC answered with tokens that fail the checks (or userinfo failed after): final, PSC's auth_req_id is spent."""


class PscCiba:
    def __init__(self, psc: PscClient):
        self.psc = psc

    def endpoint(self, meta: dict) -> str:
        s = self.psc.settings
        return s.psc_ciba_endpoint or meta.get("backchannel_authentication_endpoint") or meta["issuer"] + CIBA_PATH

    def start(self, login_hint: str, *, binding_message: str = "", acr_values: str | None = None,
              channel: str | None = None) -> Started:
        s, meta = self.psc.settings, self.psc.metadata()
        data = {"scope": s.psc_scope, "login_hint": login_hint, "acr_values": acr_values or s.psc_acr_values,
                "channel": channel or s.psc_ciba_channel}
        if binding_message:
            data["binding_message"] = binding_message
        status, body = self._post(self.endpoint(meta), data, "ciba")
        auth_req_id, expires_in = body.get("auth_req_id"), body.get("expires_in")
        if status == 200 and isinstance(auth_req_id, str) and auth_req_id and isinstance(expires_in, int) \
                and expires_in > 0:
            interval = body.get("interval")
            interval = interval if isinstance(interval, int) and 0 < interval <= 60 else DEFAULT_INTERVAL
            return Started(auth_req_id, expires_in, interval)
        error = str(body.get("error", ""))[:64]
        if error == "unknown_user_id":
            raise PscError("psc_unknown_user_id", "Pro Sante Connect does not know this login_hint")
        raise PscError("psc_error", f"CIBA request: HTTP {status} {error}".strip())

    def poll(self, auth_req_id: str) -> Poll:
        meta = self.psc.metadata()
        status, body = self._post(meta["token_endpoint"], {"grant_type": GRANT_TYPE, "auth_req_id": auth_req_id},
                                  "token")
        if status == 200:
            if not isinstance(body.get("id_token"), str) or not isinstance(body.get("access_token"), str):
                raise PscError("psc_error", "CIBA token response without id_token or access_token")
            try:
                authn, token = self.psc.authentication(meta, body, nonce=None)
            except PscError as exc:
                raise CibaAnswerInvalid(exc.code, exc.detail) from None
            return Poll("done", authn, token)
        error = str(body.get("error", ""))[:64]
        if error in POLL_STATES:
            return Poll(POLL_STATES[error])
        raise PscError("psc_error", f"CIBA token: HTTP {status} {error}".strip())

    def _post(self, url: str, data: dict, name: str) -> tuple[int, dict]:
        return self.psc.token_request(url, data, name, f"CIBA {name}")
