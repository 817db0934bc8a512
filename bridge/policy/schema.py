"""Typed, frozen view of one policy file. Durations are seconds."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str = "client_secret_basic"
    client_secret_sha256: str = ""
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str = ""
    frontchannel_logout_uri: str = ""              # OIDC Front-Channel Logout 1.0 (docs/provider.md)
    frontchannel_logout_session_required: bool = True
    scopes: tuple[str, ...] = ("openid", "profile")
    jwks: dict | None = None
    tls_client_auth_subject_dn: str = ""     # RFC 8705 tls_client_auth: the certificate's subject, RFC 4514
    id_token_signed_response_alg: str = "RS256"
    name: str = ""
    consent: str = "none"    # required: a third party, the professional allows its claims first (bridge.login.consent)
    dpop_bound_access_tokens: bool = False   # RFC 9449 §5: /token refuses this client a request without a proof
    require_pushed_authorization_requests: bool = False   # RFC 9126 section 5: /authorize only via /par
    # The grants /token accepts from this client (bridge.policy.clients.GRANT_TYPES).
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    psc_audiences: tuple[str, ...] = ()      # RFC 8693 token exchange: the PSC audiences this client may obtain

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"


@dataclass(frozen=True)
class Reserve:
    requirement: str             # referential requirement id, e.g. "RIE-PS 13" (covers the session timeouts)
    action_plan: str
    due: date


@dataclass(frozen=True)
class Attestation:
    status: str = "none"         # attested | reserves | none
    # valid from signed_on to valid_until, both included (Paris civil dates)
    signed_on: date | None = None
    valid_until: date | None = None
    reserves: tuple[Reserve, ...] = ()


@dataclass(frozen=True)
class Service:
    service: str
    name: str
    clients: tuple[Client, ...]
    allowed_mie: tuple[str, ...]
    require_2fa: bool = True
    idle_timeout: int = 30 * 60
    max_session: int = 4 * 3600
    card_types: tuple[str, ...] = ("CPS", "CPF")
    professions: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    historical_teleservice: bool = False
    subject_type: str = "public"  # public | pairwise
    attestation: Attestation = field(default_factory=Attestation)
    admins: tuple[str, ...] = ()  # national ids allowed into the admin console (the `admin` service only)
    on_card_removal: str = ""     # logout | ignore; "" (a Service built in code): see card_removal
    shared_workstation: bool = False  # every login is treated as made on a shared workstation
    min_acr: str = ""             # lowest bridge acr admitted (bridge.acr.LEVELS); "" = any
    # National id kinds admitted (bridge.model.KINDS); PSI (no RPPS number) only where the policy lists it.
    identity_kinds: tuple[str, ...] = ("rpps", "adeli", "other")
    # The bridge as establishment IdP of PSC (bridge.policy.establishment, docs/policies.md): this service is PSC
    # itself; fi_amr: MIE -> amr stated to PSC; psc_idp_hint: kc_idp_hint sent to PSC for this service's logins.
    establishment_idp: bool = False
    fi_amr: tuple[tuple[str, tuple[str, ...]], ...] = ()
    psc_idp_hint: str = ""
    source: str = ""             # the file it came from, for error messages and reports

    @property
    def direct_means(self) -> bool:
        """Means outside PSC are possible: an ANS-authorized historical teleservice (RIE-PS 02 (4)), or PSC's own
        establishment IdP (RIE-PS 02 (2), bridge.policy.establishment)."""
        return self.historical_teleservice or self.establishment_idp

    @property
    def card_removal(self) -> str:
        """What the end of a cps-pin login's card in its reader does: `logout` ends the SSO session, `ignore`
        nothing. Unset: logout where cps-pin is allowed (the card is how the professional leaves)."""
        return self.on_card_removal or ("logout" if "cps-pin" in self.allowed_mie else "ignore")


@dataclass(frozen=True)
class PolicySet:
    services: dict[str, Service]
    warnings: tuple[str, ...] = ()  # 'file:line field: value problem (rule)', e.g. attestation due soon

    @cached_property
    def _clients(self) -> dict[str, tuple[Service, Client]]:
        # Looked up on every token, userinfo and introspection request: index once (client ids are unique).
        return {client.client_id: (service, client) for service in self.services.values() for client in service.clients}

    def client(self, client_id: str) -> tuple[Service, Client] | None:
        return self._clients.get(client_id)
