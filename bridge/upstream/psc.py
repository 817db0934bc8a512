"""Pro Santé Connect relying party, with Authlib's OAuth2Session and joserfc.

start() builds the authorization URL and keeps state, nonce and PKCE verifier in the store (single use);
finish() exchanges the code, verifies the ID token, reads userinfo and returns a neutral Authentication.
Every failure raises PscError with a machine code that the web layer shows in French.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import quote_plus

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet, OctKey
from joserfc.jws import extract_compact

from bridge import acr as acr_table
from bridge import metrics
from bridge.config import Settings
from bridge.errors import BridgeError
from bridge.model import Authentication
from bridge.store import Store
from bridge.upstream.environment import environment_once
from bridge.upstream.psc_claims import ClaimsError, identity_from_userinfo, mie_from_claims, upstream_facts

STATE_TTL = 600          # the user may take a few minutes on the PSC page
SKEW = 30                # seconds of clock skew accepted on iat/exp (AT lives only 120 s)
METADATA_TTL = 3600
SIGNED_ALGS = ("RS256", "PS256", "ES256")
# PSC's JWKS is kept as its Cache-Control max-age (or Expires) says, within these bounds; without either header,
# JWKS_TTL_DEFAULT. A key PSC removed is thus trusted at most JWKS_TTL_CEILING more.
JWKS_TTL_FLOOR, JWKS_TTL_DEFAULT, JWKS_TTL_CEILING = 60, 300, 3600
MAX_RESPONSE_BYTES = 1 << 20  # any PSC answer (discovery, JWKS, token, userinfo); decoded size
CHUNK = 64 * 1024


class ResponseTooLarge(requests.RequestException):
    pass


class DeadlineExceeded(requests.Timeout):
    pass


def cache_lifetime(headers, now: float) -> float:
    """Seconds a response may be reused per its Cache-Control max-age / Expires, clamped to the JWKS bounds."""
    control = headers.get("Cache-Control", "").lower()
    if "no-store" in control or "no-cache" in control:
        return JWKS_TTL_FLOOR
    match = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", control)
    if match:
        age = str(headers.get("Age", "")).strip()
        ttl = float(match.group(1)) - (float(age) if age.isdigit() else 0.0)
    elif headers.get("Expires"):
        try:
            expires = parsedate_to_datetime(headers["Expires"]).timestamp()
            date = parsedate_to_datetime(headers["Date"]).timestamp() if headers.get("Date") else now
            ttl = expires - date
        except (TypeError, ValueError, IndexError, OverflowError):
            ttl = 0.0  # RFC 9111 §5.3: an invalid Expires means already expired
    else:
        ttl = JWKS_TTL_DEFAULT
    return min(JWKS_TTL_CEILING, max(JWKS_TTL_FLOOR, ttl))


def _socket(raw):
    """The socket under a urllib3 response (to bound each read by the time left), or None."""
    connection = getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock


def read_bounded(response: requests.Response, deadline: float, read_timeout: float,
                 abort: threading.Event | None = None, limit: int = MAX_RESPONSE_BYTES) -> requests.Response:
    """Read a streamed response body within the deadline (time.monotonic) and the size limit (decoded bytes).
    Each read waits at most what is left of the deadline, so a peer trickling bytes cannot stretch the call."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise ResponseTooLarge(f"{declared} bytes announced (limit {limit})")
    raw, chunks, size = response.raw, [], 0
    sock = _socket(raw)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (abort is not None and abort.is_set()):
                raise DeadlineExceeded("no complete answer before the deadline")
            if sock is not None:
                try:
                    sock.settimeout(min(read_timeout, left))
                except OSError:  # the peer closed: what is left is already buffered
                    sock = None
            try:
                chunk = raw.read1(CHUNK, decode_content=True)
            except Exception as exc:  # urllib3 wraps socket timeouts (ReadTimeoutError / ProtocolError)
                if time.monotonic() >= deadline or "timed out" in str(exc).lower():
                    raise DeadlineExceeded(f"reading the answer: {type(exc).__name__}") from None
                raise requests.ConnectionError(f"reading the answer: {type(exc).__name__}") from None
            if not chunk:  # urllib3's read1 returns b"" only at the end of the body
                break
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(f"more than {limit} bytes")
            chunks.append(chunk)
    except BaseException:
        response.close()
        raise
    response._content, response._content_consumed = b"".join(chunks), True
    try:
        raw.release_conn()
    except Exception:  # noqa: BLE001 - best effort: the pool opens another connection
        pass
    return response


# PSC refusals the app handles itself: relayed to its redirect URI as the same OAuth error (RFC 6749 §4.1.2.1,
# OIDC Core §3.1.2.6), with these descriptions (ASCII: Authlib refuses others; PSC's own text is not copied).
# Any other error (invalid_request, invalid_scope, server_error...) is the bridge's problem: an error page.
RELAYED_ERRORS = {
    "access_denied": "The user cancelled or refused the login at Pro Sante Connect.",
    "login_required": "Pro Sante Connect requires the user to log in.",
    "consent_required": "Pro Sante Connect requires the user's consent.",
    "interaction_required": "Pro Sante Connect requires an interaction with the user.",
    "account_selection_required": "Pro Sante Connect requires the user to select an account.",
    "temporarily_unavailable": "Pro Sante Connect is temporarily unavailable; retry later.",
    "unmet_authentication_requirements": "Pro Sante Connect could not authenticate the user at the requested acr.",
}


class PscError(BridgeError):
    """A PSC login that cannot go on: PSC's own failures (psc_*) are 502 (504 on a timeout), bad callbacks 400."""

    def __init__(self, code: str, detail: str = "", *, relay: str | None = None):
        super().__init__(code, detail)
        self.relay = relay      # an RELAYED_ERRORS key: the app gets this error rather than a bridge page
        self.txn: str | None = None  # the login transaction the callback's state named, once known

    @property
    def default_status(self) -> int:
        return 502 if self.code.startswith("psc_") else 400


class PscRefused(PscError):
    """PSC refused a refresh (invalid_grant): its session ended (logout elsewhere, idle, revoked)."""


class PscClient:
    def __init__(self, settings: Settings, store: Store, clock):
        self.settings, self.store, self.clock = settings, store, clock
        self._metadata: dict | None = None
        self._metadata_at = 0.0
        self._jwks: KeySet | None = None
        self._jwks_until = 0.0       # clock time the cached JWKS expires at (Cache-Control / Expires, clamped)
        self._lock = threading.Lock()
        self._local = threading.local()  # one pooled requests.Session and one OAuth2Session per thread

    # -- HTTP plumbing ---------------------------------------------------------------------------------------
    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.psc_connect_timeout, self.settings.psc_read_timeout)

    @staticmethod
    def _no_cookies(session: requests.Session) -> requests.Session:
        """A pooled session is shared by the logins a thread serves: it must not carry one user's upstream
        cookies into another user's calls."""
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        return environment_once(session)   # and reads the proxy variables once, not on every call

    def _http(self) -> requests.Session:
        """This thread's pooled session (keep-alive connections to PSC) for discovery, JWKS and userinfo.
        TLS settings and timeouts are passed per request (see _tls), never stored on the session."""
        session = getattr(self._local, "http", None)
        if session is None:
            session = self._local.http = self._no_cookies(requests.Session())
        return session

    def _session(self, redirect_uri: str) -> OAuth2Session:
        """This thread's OAuth2Session (itself a pooled requests.Session) for the authorization URL and the
        token call; per-login state (redirect URI, token) is reset on every use."""
        session = getattr(self._local, "oauth", None)
        if session is None:
            s = self.settings
            # tls_client_auth: the client certificate authenticates; Authlib's "none" puts client_id in the body.
            method = "none" if s.psc_token_auth_method == "tls_client_auth" else s.psc_token_auth_method
            session = self._local.oauth = self._no_cookies(OAuth2Session(
                client_id=s.psc_client_id, client_secret=s.psc_client_secret or None,
                token_endpoint_auth_method=method, scope=s.psc_scope, code_challenge_method="S256"))
        session.redirect_uri = redirect_uri
        session.token = None  # never let a previous login's token ride along
        return session

    def _tls(self) -> dict:
        """Client certificate (mTLS, on every PSC call) and CA bundle, passed per request: requests lets
        REQUESTS_CA_BUNDLE override a Session's own `verify`."""
        s, tls = self.settings, {}
        if s.psc_client_cert:
            tls["cert"] = (str(s.psc_client_cert), str(s.psc_client_key))
        if s.psc_ca_bundle:
            tls["verify"] = str(s.psc_ca_bundle)
        return tls

    def _bounded(self, send):
        """Run one PSC call, send(hooks) -> result, under a wall-clock deadline of connect + read timeout for
        the whole call (DNS, connect, TLS, headers, body) and a MAX_RESPONSE_BYTES cap on the body. requests'
        own timeouts bound each socket operation only: a peer trickling bytes would hold the login far longer.
        The call runs in a helper thread; past the deadline the login gets psc_timeout at once and the helper
        gives up at its next read."""
        total = sum(self.timeout)
        deadline, abort, box = time.monotonic() + total, threading.Event(), {}

        def hook(response, *args, **kwargs):
            return read_bounded(response, deadline, self.settings.psc_read_timeout, abort)

        def run():
            try:
                box["result"] = send({"response": [hook]})
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=run, name="psc-call", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            abort.set()
            self._local.__dict__.clear()  # the helper may still use this thread's pooled sessions: new ones
            raise DeadlineExceeded(f"no complete answer within {total:g} s")
        if "error" in box:
            raise box["error"]
        return box["result"]

    def _get(self, url: str, **kwargs) -> requests.Response:
        session = self._http()
        try:
            with metrics.upstream_call(self._endpoint_name(url)):
                return self._bounded(lambda hooks: session.get(url, timeout=self.timeout, stream=True, hooks=hooks,
                                                               **self._tls(), **kwargs))
        except requests.Timeout as exc:
            raise PscError("psc_timeout", url) from exc
        except ResponseTooLarge as exc:
            raise PscError("psc_unreachable", f"{url}: answer too large ({exc})") from exc
        except requests.RequestException as exc:
            raise PscError("psc_unreachable", f"{url}: {type(exc).__name__}") from exc

    def _endpoint_name(self, url: str) -> str:
        """Metric label of a PSC URL: discovery, jwks, userinfo... (never the URL itself)."""
        if url == self.settings.psc_discovery_url:
            return "discovery"
        names = {"jwks_uri": "jwks", "userinfo_endpoint": "userinfo", "token_endpoint": "token",
                 "introspection_endpoint": "introspection", "end_session_endpoint": "end_session"}
        return next((names[k] for k, v in (self._metadata or {}).items() if k in names and v == url), "other")

    def metadata(self) -> dict:
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata_at < METADATA_TTL:
                return self._metadata
        response = self._get(self.settings.psc_discovery_url)
        try:
            data = response.json()
        except ValueError:
            data = None
        # `python -O` strips asserts: a discovery document is checked with a plain condition.
        if not response.ok or not isinstance(data, dict) or \
                not all(k in data for k in ("issuer", "authorization_endpoint", "token_endpoint")):
            raise PscError("psc_discovery", f"HTTP {response.status_code} from discovery")
        with self._lock:
            self._metadata, self._metadata_at = data, time.monotonic()
        return data

    def jwks(self, refresh: bool = False) -> KeySet:
        """PSC's keys, cached as long as its cache headers say (JWKS_TTL_FLOOR..JWKS_TTL_CEILING); refresh=True
        (unknown kid or bad signature, once per token) refetches. Tokens come from PSC's own endpoints over TLS,
        so a refetch costs one call per login at most, never one per attacker request."""
        if self._jwks is not None and not refresh and self.clock.now() < self._jwks_until:
            return self._jwks
        response = self._get(self.metadata()["jwks_uri"])
        try:
            if not response.ok:
                raise ValueError(f"HTTP {response.status_code}")
            keys = KeySet.import_key_set(response.json())
        except (ValueError, JoseError, TypeError, KeyError) as exc:
            raise PscError("psc_jwks", str(exc)) from None
        now = self.clock.now()
        self._jwks, self._jwks_until = keys, now + cache_lifetime(response.headers, now)
        return self._jwks

    # -- the flow -------------------------------------------------------------------------------------------
    def start(self, txn: str, redirect_uri: str, *, prompt: str | None = None, login_hint: str | None = None,
              max_age: int | None = None, acr_values: str | None = None, idp_hint: str = "") -> str:
        """`acr_values`: what to ask PSC (bridge.acr.to_psc); BRIDGE_PSC_ACR_VALUES when None. `idp_hint`: the
        service's psc_idp_hint, sent as kc_idp_hint (PSC hands the login to that establishment IdP)."""
        meta = self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_hex(32), secrets.token_urlsafe(48)
        extra = {"acr_values": acr_values or self.settings.psc_acr_values}
        if prompt:
            extra["prompt"] = prompt
        if login_hint:
            extra["login_hint"] = login_hint
        if max_age is not None:
            extra["max_age"] = str(max_age)
        if idp_hint:
            extra["kc_idp_hint"] = idp_hint
        url, _ = self._session(redirect_uri).create_authorization_url(
            meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier, **extra)
        self.store.set_json(f"psc:state:{state}", {"txn": txn, "nonce": nonce, "verifier": verifier,
                                                   "redirect_uri": redirect_uri}, STATE_TTL)
        return url

    def finish(self, args: dict) -> tuple[str, Authentication]:
        """Handle the callback query; returns (login transaction id, Authentication)."""
        txn, authn, _ = self.finish_with_tokens(args)
        return txn, authn

    def finish_with_tokens(self, args: dict) -> tuple[str, Authentication, dict]:
        """finish(), plus PSC's token response (kept for the token relay: bridge.upstream.psc_tokens)."""
        state = args.get("state")
        pending = self.store.consume_json(f"psc:state:{state}") if state else None
        if pending is None:
            raise PscError("state_invalid", "unknown, expired or already used state")
        try:
            authn, token = self._finish(args, pending)
            return pending["txn"], authn, token
        except PscError as exc:
            exc.txn = pending["txn"]
            raise

    def _finish(self, args: dict, pending: dict) -> tuple[Authentication, dict]:
        meta = self.metadata()
        if "iss" in args and args["iss"] != meta["issuer"]:  # RFC 9207 mix-up defence (an empty iss too)
            raise PscError("issuer_mismatch", args["iss"])
        if "iss" not in args and self.require_iss(meta):      # RFC 9207 §2.4, errors included: checked first
            raise PscError("issuer_mismatch", "no iss in the callback although the issuer sends it")
        if args.get("error"):
            error, detail = str(args["error"]), f"{args['error']}: {args.get('error_description', '')}".strip(": ")
            if error in RELAYED_ERRORS:
                raise PscError(f"psc_{error}", detail, relay=error)
            raise PscError("psc_error", detail)
        if not args.get("code"):
            raise PscError("psc_error", "no code in the callback")
        return self.authentication(meta, self._exchange(meta, args["code"], pending), nonce=pending["nonce"])

    def authentication(self, meta: dict, token: dict, *, nonce: str | None) -> tuple[Authentication, dict]:
        """PSC's token response (code flow, or CIBA without nonce: bridge.upstream.psc_ciba) -> (Authentication,
        the token response): ID token, userinfo and access token checked against each other, then mapped."""
        id_claims = self.verify_id_token(token.get("id_token"), nonce=nonce)
        userinfo = self.userinfo(meta, token["access_token"])
        if userinfo.get("sub") != id_claims.get("sub"):
            raise PscError("sub_mismatch", "userinfo sub differs from the ID token sub")
        try:
            identity = identity_from_userinfo(userinfo)
        except ClaimsError as exc:
            raise PscError(exc.code, exc.detail) from None
        key = "PSISubjectNameID" if identity.kind == "psi" else "SubjectNameID"   # the claim the id came from
        if id_claims.get(key) not in (None, identity.national_id):
            raise PscError("sub_mismatch", f"ID token {key} differs from userinfo {key}")
        at_claims = self._access_token_claims(token["access_token"])
        if at_claims.get(key) not in (None, identity.national_id):
            raise PscError("sub_mismatch", f"access token {key} differs from userinfo")
        mie, amr = mie_from_claims([at_claims, id_claims, userinfo], self.settings.psc_authmode_mie)
        auth_mode, auth_level = upstream_facts([at_claims, id_claims, userinfo])
        try:
            acr = acr_table.from_psc(id_claims.get("acr"), self.settings)
        except acr_table.UnknownAcr as exc:
            raise PscError("acr_unknown", f"Pro Sante Connect returned acr {exc.acr!r}, which the bridge's acr "
                           f"table does not map (mapped: {', '.join(acr_table.psc_table(self.settings))})") from None
        now = self.clock.now()
        auth_time = int(id_claims.get("auth_time") or at_claims.get("auth_time") or now)
        # PSC's `sub` is not kept: users are keyed on SubjectNameID, and its format changed across PSC eras.
        upstream = {"sid": id_claims.get("sid") or at_claims.get("sid", ""),
                    "id_token": token["id_token"], "deadline": auth_time + self.settings.psc_max_session}
        return Authentication(identity=identity, mie=mie, amr=amr, acr=acr, auth_time=auth_time,
                              upstream="psc", upstream_session=upstream, upstream_acr=id_claims["acr"],
                              auth_mode=auth_mode, auth_level=auth_level), token

    def require_iss(self, meta: dict) -> bool:
        """BRIDGE_PSC_REQUIRE_ISS: auto = when discovery advertises authorization_response_iss_parameter_supported."""
        mode = self.settings.psc_require_iss
        if mode == "auto":
            return meta.get("authorization_response_iss_parameter_supported") is True
        return mode == "always"

    def _exchange(self, meta: dict, code: str, pending: dict) -> dict:
        session = self._session(pending["redirect_uri"])
        try:
            with metrics.upstream_call("token"):
                token = self._bounded(lambda hooks: session.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=pending["verifier"],
                    grant_type="authorization_code", timeout=self.timeout, stream=True, hooks=hooks, **self._tls()))
        except requests.Timeout as exc:
            raise PscError("psc_timeout", "token endpoint") from exc
        except ResponseTooLarge as exc:
            raise PscError("psc_unreachable", f"token endpoint: answer too large ({exc})") from exc
        except requests.RequestException as exc:
            raise PscError("psc_unreachable", f"token endpoint: {type(exc).__name__}") from exc
        except Exception as exc:  # Authlib raises OAuthError for RFC 6749 error responses
            raise PscError("psc_error", f"token endpoint: {getattr(exc, 'error', '')} {exc}".strip()) from None
        finally:
            session.token = None
        if not token.get("id_token") or not token.get("access_token"):
            raise PscError("psc_error", "token response without id_token or access_token")
        return dict(token)

    def refresh(self, refresh_token: str) -> dict:
        """grant_type=refresh_token at PSC's token endpoint, with the client authentication of the code exchange
        (secret, or tls_client_auth with the IGC-Santé certificate of _tls). PscRefused when PSC refuses the
        grant (invalid_grant: its session ended); PscError (psc_unreachable, psc_timeout, psc_error) otherwise."""
        status, body = self.token_request(self.metadata()["token_endpoint"],
                                          {"grant_type": "refresh_token", "refresh_token": refresh_token},
                                          "token", "token endpoint (refresh)")
        if status == 400 and body.get("error") == "invalid_grant":
            raise PscRefused("psc_invalid_grant", str(body.get("error_description", ""))[:200])
        if status != 200 or not isinstance(body.get("access_token"), str):
            raise PscError("psc_error", f"token endpoint (refresh): HTTP {status} "
                           f"{str(body.get('error', ''))[:64]}".strip())
        return body

    def token_request(self, url: str, data: dict, metric: str, what: str) -> tuple[int, dict]:
        """A POST authenticated as at the token endpoint (secret, or tls_client_auth with the IGC-Santé certificate
        of _tls), bounded like every PSC call: (HTTP status, JSON object or {}). PscError psc_timeout or
        psc_unreachable when no answer came."""
        s = self.settings
        auth = None
        if s.psc_token_auth_method == "client_secret_basic":   # RFC 6749 §2.3.1: form-urlencoded first
            auth = (quote_plus(s.psc_client_id), quote_plus(s.psc_client_secret))
        elif s.psc_token_auth_method == "client_secret_post":
            data = {**data, "client_id": s.psc_client_id, "client_secret": s.psc_client_secret}
        else:   # tls_client_auth: the certificate of _tls authenticates
            data = {**data, "client_id": s.psc_client_id}
        session = self._http()
        try:
            with metrics.upstream_call(metric):
                response = self._bounded(lambda hooks: session.post(
                    url, data=data, auth=auth, timeout=self.timeout, stream=True, hooks=hooks,
                    headers={"Accept": "application/json"}, **self._tls()))
        except requests.Timeout as exc:
            raise PscError("psc_timeout", what) from exc
        except ResponseTooLarge as exc:
            raise PscError("psc_unreachable", f"{what}: answer too large") from exc
        except requests.RequestException as exc:
            raise PscError("psc_unreachable", f"{what}: {type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body if isinstance(body, dict) else {}

    def verify_id_token(self, id_token: str | None, *, nonce: str | None) -> dict:
        """`nonce` None: a CIBA ID token, which has none to check (CIBA Core §10.1)."""
        claims = self._verify_jwt(id_token, "id_token")
        nonce_rule = {"nonce": {"essential": True, "value": nonce}} if nonce is not None else {}
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock.now()), leeway=SKEW,
            iss={"essential": True, "value": self.metadata()["issuer"]},
            aud={"essential": True, "value": self.settings.psc_client_id},
            sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
            acr={"essential": True}, **nonce_rule)   # its value goes through bridge.acr's table in _finish
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise PscError("id_token_expired", "exp is in the past") from None
        except (ClaimError, MissingClaimError) as exc:
            raise PscError(f"id_token_{exc.claim.split(',')[0]}", exc.description) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.psc_client_id:
            raise PscError("id_token_aud", "several audiences and azp is not this client")
        return claims

    def _verify_jwt(self, token: str | None, what: str) -> dict:
        if not token or not isinstance(token, str):
            raise PscError(f"{what}_invalid", "missing")
        try:
            header = extract_compact(token.encode()).headers()
        except (JoseError, ValueError, TypeError) as exc:
            raise PscError(f"{what}_invalid", f"malformed: {exc}") from None
        alg = header.get("alg")
        if alg == "HS256":  # PSC may sign with the client secret (ANS Keycloak extension accepts both)
            if not self.settings.psc_client_secret:
                raise PscError(f"{what}_alg", "HS256 but no client secret configured")
            keys, algorithms = OctKey.import_key(self.settings.psc_client_secret), ["HS256"]
        elif alg in SIGNED_ALGS:
            keys, algorithms = self.jwks(), [alg]
        else:
            raise PscError(f"{what}_alg", f"algorithm {alg!r} refused")
        try:
            try:
                return jwt.decode(token, keys, algorithms=algorithms).claims
            except (InvalidKeyIdError, BadSignatureError):
                if alg == "HS256":
                    raise
                # PSC rotated its keys (new kid) or reused a kid for a new key: refetch the JWKS once, then give up.
                return jwt.decode(token, self.jwks(refresh=True), algorithms=algorithms).claims
        except InvalidKeyIdError:
            raise PscError(f"{what}_kid", f"unknown kid {header.get('kid')!r} after JWKS refresh") from None
        except BadSignatureError:
            raise PscError(f"{what}_signature", "bad signature") from None
        except (JoseError, ValueError, TypeError) as exc:  # joserfc raises TypeError on odd headers (crit: 1)
            raise PscError(f"{what}_invalid", str(exc)) from None

    def userinfo(self, meta: dict, access_token: str) -> dict:
        response = self._get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"})
        if not response.ok:
            raise PscError("userinfo_invalid", f"HTTP {response.status_code}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "application/jwt":
            claims = self._verify_jwt(response.text.strip(), "userinfo")
            if claims.get("iss") not in (None, meta["issuer"]):
                raise PscError("userinfo_invalid", "iss differs from the issuer")
            aud = claims.get("aud")
            if aud is not None and self.settings.psc_client_id not in (aud if isinstance(aud, list) else [aud]):
                raise PscError("userinfo_invalid", "aud is not this client")
            return claims
        try:
            data = response.json()
        except ValueError:
            raise PscError("userinfo_invalid", f"unreadable body ({content_type or 'no content type'})") from None
        if not isinstance(data, dict):
            raise PscError("userinfo_invalid", "not a JSON object")
        return data

    def _access_token_claims(self, access_token: str) -> dict:
        """PSC's access token is a JWT carrying `authMode`; use it only when its signature verifies."""
        try:
            header = extract_compact(access_token.encode()).headers()
            if header.get("alg") not in SIGNED_ALGS:
                return {}
            return jwt.decode(access_token, self.jwks(), algorithms=[header["alg"]]).claims
        except (JoseError, ValueError, TypeError, PscError):
            return {}

    def logout_url(self, id_token: str, post_logout_redirect_uri: str, state: str) -> str | None:
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except PscError:
            return None
        if not endpoint:
            return None
        from authlib.common.urls import add_params_to_uri

        return add_params_to_uri(endpoint, [("id_token_hint", id_token), ("state", state),
                                            ("post_logout_redirect_uri", post_logout_redirect_uri)])
