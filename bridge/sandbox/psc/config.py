"""Emulator configuration: the realm, its registered clients and the behaviour switches."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlsplit

REALM = "esante-wallet"
DEFAULT_BASE_URL = "http://127.0.0.1:8001"
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "tls_client_auth")


@dataclass(frozen=True)
class EmulatedClient:
    """A relying party registered in the emulated realm (what ANS registers through the iSC portal)."""

    client_id: str
    secret: str
    redirect_uris: tuple[str, ...] | list[str]
    post_logout_redirect_uris: tuple[str, ...] | list[str] = ()
    auth_method: str = "client_secret_basic"
    tls_client_cert_sha256: str = ""   # hex SHA-256 of the DER client certificate (tls_client_auth)
    backchannel_logout_uri: str = ""   # OIDC Back-Channel Logout: where a logout token goes when a session ends

    def __post_init__(self) -> None:
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(f"client {self.client_id}: auth_method must be one of {AUTH_METHODS}")
        if self.auth_method == "tls_client_auth" and not self.tls_client_cert_sha256:
            raise ValueError(f"client {self.client_id}: tls_client_auth needs tls_client_cert_sha256")
        object.__setattr__(self, "redirect_uris", tuple(self.redirect_uris))
        object.__setattr__(self, "post_logout_redirect_uris", tuple(self.post_logout_redirect_uris))
        object.__setattr__(self, "tls_client_cert_sha256", normalize_sha256(self.tls_client_cert_sha256))

    @property
    def uses_secret(self) -> bool:
        return self.auth_method in ("client_secret_basic", "client_secret_post")


def normalize_sha256(fingerprint: str) -> str:
    """'AB:CD:…' or 'abcd…' -> 'abcd…'."""
    return fingerprint.replace(":", "").strip().lower()


@dataclass(frozen=True)
class EstablishmentIdp:
    """An establishment identity provider PSC hands logins to (« FI local »; Keycloak identity brokering,
    selected by `kc_idp_hint=<alias>`): PSC is its OIDC client (broker.py)."""

    alias: str
    issuer: str                          # discovery at {issuer}/.well-known/openid-configuration
    client_id: str                       # PSC's registration at the IdP
    client_secret: str
    scope: str = "openid profile rpps"
    subject_claim: str = "national_id"   # the ID-token claim naming the professional (their SubjectNameID)

    def __post_init__(self) -> None:
        object.__setattr__(self, "issuer", self.issuer.rstrip("/"))
        if not self.alias or "/" in self.alias:
            raise ValueError(f"establishment IdP alias {self.alias!r}: a non-empty name without '/'")


DEMO_CLIENT = EmulatedClient(
    client_id="bridge-demo",
    secret="demo-psc-secret",
    redirect_uris=("http://127.0.0.1:8000/psc/callback",),
    post_logout_redirect_uris=("http://127.0.0.1:8000/logout/done",),
    auth_method="client_secret_basic",
    backchannel_logout_uri="http://127.0.0.1:8000/psc/backchannel-logout",   # the demo bridge (docs/provider.md)
)


@dataclass(frozen=True)
class EmulatorConfig:
    base_url: str = DEFAULT_BASE_URL
    realm: str = REALM
    # Base of the authorize endpoint ({wallet_url}/auth): another host in real PSC. "" = base_url + "/wallet".
    # serve() replaces "{port}" by the bound port, e.g. "http://localhost:{port}" next to http://127.0.0.1:port.
    wallet_url: str = ""
    clients: tuple[EmulatedClient, ...] | list[EmulatedClient] = (DEMO_CLIENT,)
    id_token_alg: str = "RS256"         # RS256 (JWKS) | HS256 (client secret)
    userinfo_format: str = "json"       # json | jwt (application/jwt, RS256)
    send_iss: bool = True               # RFC 9207 iss in the authorization response
    access_token_ttl: int = 120
    refresh_token_ttl: int = 1800
    sso_ttl: int = 4 * 3600
    sso_idle_ttl: int = 30 * 60         # PSC: 30 min without a login or refresh ends the SSO session
    omit_logout_state: bool = False     # PSC sometimes drops `state` on the post-logout redirect
    code_ttl: int = 60
    login_ttl: int = 30 * 60            # how long a pending login page (txn) stays usable
    # acr per authMode, as production PSC now answers (eidas2 for CPS-card logins, 2026; eidas1 otherwise).
    acr_by_auth_mode: tuple[tuple[str, str], ...] | dict = (("CARD", "eidas2"), ("MOBILE", "eidas1"))
    # An acr_values the login did not reach: "lower" answers with the lower acr (Keycloak's behaviour for the
    # voluntary acr_values); "error" redirects with error=unmet_authentication_requirements. What PSC does is
    # UNCONFIRMED (not in PSC's documentation; docs/provider.md, acr): an emulator option.
    unmet_acr: str = "lower"
    # CIBA (ciba.py): expires_in as PSC answers (120 s); the interval and the default channel are UNCONFIRMED.
    ciba_expires_in: int = 120
    ciba_interval: int = 5
    ciba_default_channel: str = "MOBILE"
    # « FI local » (broker.py): the establishment IdPs an authorization request may name with kc_idp_hint.
    establishment_idps: tuple[EstablishmentIdp, ...] | list[EstablishmentIdp] = ()
    # PSC's acr after a delegated login: "psc" = acr_by_auth_mode["FI"] (default eidas1), "idp" = the IdP's own acr.
    # Which one production PSC states is UNCONFIRMED.
    fi_acr: str = "psc"

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        object.__setattr__(self, "wallet_url", (self.wallet_url or self.base_url + "/wallet").rstrip("/"))
        object.__setattr__(self, "clients", tuple(self.clients))
        object.__setattr__(self, "establishment_idps", tuple(self.establishment_idps))
        object.__setattr__(self, "acr_by_auth_mode", tuple(dict(self.acr_by_auth_mode).items()))
        if self.ciba_default_channel not in ("CARD", "MOBILE"):
            raise ValueError("ciba_default_channel must be CARD or MOBILE")
        if self.fi_acr not in ("psc", "idp"):
            raise ValueError("fi_acr must be psc or idp")
        if self.unmet_acr not in ("lower", "error"):
            raise ValueError("unmet_acr must be lower or error")
        if self.id_token_alg not in ("RS256", "HS256"):
            raise ValueError("id_token_alg must be RS256 or HS256")
        if self.userinfo_format not in ("json", "jwt"):
            raise ValueError("userinfo_format must be json or jwt")
        if self.id_token_alg == "HS256" and any(not c.secret for c in self.clients):
            raise ValueError("id_token_alg HS256 signs with the client secret: every client needs one")
        ids = [c.client_id for c in self.clients]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate client_id in {ids}")

    # Endpoints, derived like Keycloak's, except the authorize endpoint (wallet host in PSC).
    @property
    def issuer(self) -> str:
        return f"{self.base_url}/auth/realms/{self.realm}"

    @property
    def oidc_base(self) -> str:
        return f"{self.issuer}/protocol/openid-connect"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.wallet_url}/auth"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/wallet-openid-configuration"

    def acr(self, auth_mode: str, idp_acr: str = "") -> str:
        """The acr a login with this authMode gets (eidas1 when the mode is not listed); a delegated login's IdP
        acr (`idp_acr`) instead when fi_acr is "idp"."""
        if idp_acr and self.fi_acr == "idp":
            return idp_acr
        return dict(self.acr_by_auth_mode).get(auth_mode, "eidas1")

    def establishment_idp(self, alias: str | None) -> EstablishmentIdp | None:
        return next((idp for idp in self.establishment_idps if idp.alias == alias), None)

    def broker_endpoint(self, alias: str) -> str:
        """Where an establishment IdP sends the browser back (Keycloak's path): its registered redirect URI."""
        return f"{self.issuer}/broker/{alias}/endpoint"

    def client(self, client_id: str | None) -> EmulatedClient | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    def served_at(self, base_url: str, port: int) -> EmulatorConfig:
        """The same config served at `base_url`: a derived wallet_url follows it, "{port}" is filled in."""
        derived = self.wallet_url == self.base_url + "/wallet"
        wallet_url = "" if derived else self.wallet_url.replace("{port}", str(port))
        return dataclasses.replace(self, base_url=base_url, wallet_url=wallet_url)


def url_path(url: str) -> str:
    """The path part of an absolute URL, without trailing slash ('' for the root)."""
    return urlsplit(url).path.rstrip("/")
