"""DPoP (RFC 9449): proof-of-possession proofs checked at /token and at userinfo.

A proof is a JWT (`typ: dpop+jwt`, an asymmetric `alg` of ALGS, the public `jwk` in its header) that names the
request (`htm`, `htu` without query or fragment), is fresh (`iat` within IAT_MAX_AGE in the past, IAT_LEEWAY in the
future), used once (`jti` kept in the store as long as a proof can be fresh) and, at resource endpoints, carries
`ath` = SHA-256 of the access token. The key's RFC 7638 thumbprint (`jkt`) is what a token is bound to.

Nonces (§8): required at /token, always; a nonce is stateless — an HMAC of a NONCE_WINDOW time slot under the
bridge's secret — and is accepted in its slot and the next one. Userinfo checks a nonce if one is sent but does
not require it (the proof's `ath`, `iat` and single-use `jti` already tie it to one call).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit, urlunsplit

from authlib.oauth2 import OAuth2Error
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from joserfc.jws import JWSRegistry

ALGS = ("ES256", "PS256", "RS256")       # dpop_signing_alg_values_supported
IAT_MAX_AGE = 60                        # seconds a proof stays acceptable after its iat
IAT_LEEWAY = 30                         # seconds a client clock may run ahead
NONCE_WINDOW = 300                      # a nonce lives one to two windows
JTI_TTL = IAT_MAX_AGE + IAT_LEEWAY + 5  # a jti is remembered while its proof could be accepted
MAX_PROOF = 8192                        # characters
PRIVATE_PARAMS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def _registry(alg: str | None) -> JWSRegistry:
    """joserfc caps a JWS header at 512 bytes: an RSA key's `jwk` (2048 bits and up) does not fit."""
    registry = JWSRegistry(algorithms=[alg] if alg else list(ALGS))
    registry.max_header_length = 2048
    return registry


REGISTRIES = {alg: _registry(alg) for alg in ALGS}
ANY_ALG = _registry(None)


class InvalidDpopProof(OAuth2Error):
    """At /token: 400 invalid_dpop_proof (RFC 9449 §5), the current nonce in `DPoP-Nonce`."""
    error = "invalid_dpop_proof"
    status_code = 400

    def __init__(self, description: str, nonce: str | None = None, status_code: int | None = None):
        super().__init__(description, status_code=status_code)
        self.nonce = nonce

    def get_headers(self):
        headers = super().get_headers()
        return headers + [("DPoP-Nonce", self.nonce)] if self.nonce else headers


class UseDpopNonce(InvalidDpopProof):
    """§8: the proof lacks the server's nonce (or has a stale one); the client retries with `DPoP-Nonce`."""
    error = "use_dpop_nonce"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath(access_token: str) -> str:
    return b64(hashlib.sha256(access_token.encode()).digest())


def nonce(secret: str, now: float, slot: int | None = None) -> str:
    slot = int(now // NONCE_WINDOW) if slot is None else slot
    mac = hmac.new(secret.encode(), f"dpop-nonce:{slot}".encode(), hashlib.sha256).digest()
    return f"{slot:x}.{b64(mac[:18])}"


def nonce_ok(secret: str, now: float, value) -> bool:
    if not isinstance(value, str) or "." not in value:
        return False
    current = int(now // NONCE_WINDOW)
    return any(hmac.compare_digest(value, nonce(secret, now, slot)) for slot in (current, current - 1))


def bare_uri(uri: str) -> str:
    """§4.3: htu compared without query and fragment; scheme and host are case-insensitive."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


def public_key(header: dict):
    """The header's `jwk`: a public asymmetric key fit for the header's alg."""
    key = header.get("jwk")
    if not isinstance(key, dict) or PRIVATE_PARAMS & set(key) or key.get("kty") not in ("EC", "RSA"):
        raise InvalidDpopProof("The proof's jwk must be a public EC or RSA key.")
    try:
        imported = JWKRegistry.import_key(key)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidDpopProof("The proof's jwk is not a valid key.") from exc
    if key["kty"] == "RSA" and len(base64.urlsafe_b64decode(key.get("n", "") + "==")) < 256:
        raise InvalidDpopProof("RSA keys of DPoP proofs must be at least 2048 bits.")
    return imported


def _decode(proof: str) -> tuple[dict, dict, str]:
    """(header, claims, jkt) of a well-signed proof, else InvalidDpopProof."""
    if not proof or len(proof) > MAX_PROOF:
        raise InvalidDpopProof("Missing or oversized DPoP proof.")
    try:
        header = jws.extract_compact(proof.encode(), registry=ANY_ALG).headers()
    except (JoseError, ValueError) as exc:
        raise InvalidDpopProof("The DPoP proof is not a JWT.") from exc
    if header.get("typ") != "dpop+jwt" or header.get("alg") not in ALGS:
        raise InvalidDpopProof(f"A DPoP proof needs typ dpop+jwt and alg among {', '.join(ALGS)}.")
    key = public_key(header)
    try:
        claims = jwt.decode(proof, key, registry=REGISTRIES[header["alg"]]).claims
    except (JoseError, ValueError) as exc:
        raise InvalidDpopProof("The DPoP proof's signature does not verify with its jwk.") from exc
    return header, claims, key.thumbprint()


def verify(bridge, proofs: list[str], method: str, url: str, *, access_token: str | None = None,
           require_nonce: bool = False) -> str:
    """Check one request's proof; the key's thumbprint (jkt). The jti is spent last, so a proof refused for its
    nonce can be followed by a new one."""
    if len(proofs) != 1:
        raise InvalidDpopProof("Send exactly one DPoP header.")
    _, claims, jkt = _decode(proofs[0])
    now, secret = bridge.clock.now(), bridge.settings.secret_key
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        raise InvalidDpopProof("The proof needs a jti.")
    if claims.get("htm") != method or not isinstance(claims.get("htu"), str) or \
            bare_uri(claims["htu"]) != bare_uri(url):
        raise InvalidDpopProof("The proof's htm and htu must name this request's method and URL.")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool) or not now - IAT_MAX_AGE <= iat <= now + IAT_LEEWAY:
        raise InvalidDpopProof(f"The proof's iat must be within {IAT_MAX_AGE} s of the server's time.")
    if access_token is not None and not hmac.compare_digest(str(claims.get("ath", "")), ath(access_token)):
        raise InvalidDpopProof("The proof's ath must be the SHA-256 of the access token.")
    if (require_nonce or "nonce" in claims) and not nonce_ok(secret, now, claims.get("nonce")):
        raise UseDpopNonce("Use the DPoP-Nonce header's value as the proof's nonce.", nonce(secret, now))
    digest = hashlib.sha256(jti.encode()).hexdigest()
    if not bridge.store.add(f"dpopjti:{jkt}:{digest}", "1", JTI_TTL):
        raise InvalidDpopProof("This DPoP proof was already used (jti).")
    return jkt


def token_endpoint_jkt(bridge, request) -> str:
    """At /token, before the grant consumes anything: the proof's key thumbprint, '' without a proof (a client
    whose policy says `dpop_bound_access_tokens` is refused later by `require`, once it is authenticated)."""
    proofs = request.headers.getlist("DPoP")
    if not proofs:
        return ""
    return verify(bridge, proofs, "POST", f"{bridge.settings.issuer}/token", require_nonce=True)


def require(client, jkt: str) -> None:
    """RFC 9449 §5: a client registered with DPoP-bound access tokens cannot get bearer ones."""
    if not jkt and client.client.dpop_bound_access_tokens:
        raise InvalidDpopProof("This client's tokens are DPoP-bound: send a DPoP proof (RFC 9449).")


def with_nonce(bridge, response):
    """Every /token answer carries the current nonce, so a client can put it in its next proof."""
    if "DPoP-Nonce" not in response.headers:
        response.headers["DPoP-Nonce"] = nonce(bridge.settings.secret_key, bridge.clock.now())
    return response


class DpopResourceError(OAuth2Error):
    """At a resource endpoint (userinfo): 401 with a DPoP challenge naming the error and the algorithms (§7.1)."""
    status_code = 401

    def __init__(self, error: str, description: str, nonce: str | None = None):
        super().__init__(description, status_code=401)
        self.error, self.nonce = error, nonce

    def get_headers(self):
        challenge = f'DPoP error="{self.error}", error_description="{self.description}", algs="{" ".join(ALGS)}"'
        nonce_header = [("DPoP-Nonce", self.nonce)] if self.nonce else []
        return super().get_headers() + [("WWW-Authenticate", challenge)] + nonce_header


def resource_jkt(bridge, request, access_token: str) -> str:
    """The key of a userinfo call's proof (`ath` bound to the token), else DpopResourceError."""
    try:
        return verify(bridge, request.headers.getlist("DPoP"), request.method,
                      f"{bridge.settings.issuer}{request.path}", access_token=access_token)
    except InvalidDpopProof as error:
        raise DpopResourceError(error.error, error.description, error.nonce) from error


def wrong_key(scheme: str) -> DpopResourceError:
    if scheme == "bearer":
        return DpopResourceError("invalid_token", "This access token is DPoP-bound: send it with the DPoP "
                                 "scheme and a proof of its key.")
    return DpopResourceError("invalid_token", "The access token is not bound to the proof's key.")
