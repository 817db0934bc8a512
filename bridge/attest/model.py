"""The attestation report as plain data: built by bridge.attest.build, rendered by bridge.attest.render."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class ClientInfo:
    client_id: str
    name: str
    auth_method: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    backchannel_logout_uri: str
    scopes: tuple[str, ...]
    consent: str = ""                    # the controls below, already in the report's language
    sender_constraint: str = ""
    par_required: str = ""
    logout_channels: tuple[tuple[str, str], ...] = ()   # ('back-channel' | 'front-channel', uri)


@dataclass(frozen=True)
class MeansInfo:
    id: str
    label: str
    via_psc: bool
    offered_now: bool            # in the login chooser at the report's date (calendar, historical flag)
    available: bool              # the code path exists in this build
    facts: tuple[tuple[str, str], ...]   # (what, how) pairs, already in the report's language


@dataclass(frozen=True)
class RuleStatus:
    code: str
    kind: str                    # enforced | load-check | organisational (catalogue)
    status: str                  # enforced | reserve | organisational | not_applicable
    source: str
    research: tuple[str, ...]
    confidence: str
    text: str
    where: str = ""
    detail: str = ""             # this service's value, e.g. "15 min (plafond 30 min)"
    reserve_plan: str = ""
    reserve_due: date | None = None
    reserve_overdue: bool = False
    reserve_in_force: bool = False


@dataclass(frozen=True)
class Timeouts:
    idle_declared: int
    max_declared: int
    idle_effective: int
    max_effective: int
    require_2fa: bool
    idle_cap: int
    max_cap: int


@dataclass(frozen=True)
class AttestationInfo:
    needed: bool
    status: str                  # none | attested | reserves (policy value)
    status_label: str            # the same in the report's language
    signed_on: date | None
    valid_until: date | None
    days_to_valid_until: int | None
    reserves: tuple[dict, ...]   # requirement, action_plan, due, overdue
    blocked_by: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class SelfCheck:
    id: str                      # single_factor | idle_logout | legacy_card | ...
    service: str
    title: str
    expected: str
    observed: str
    passed: bool | None          # None: not run (reason in observed)
    audit_lines: tuple[dict, ...] = ()
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class SelfCheckRun:
    """What the live self-checks produced, handed to build_report by whoever ran them (`bridge attest`, through
    bridge.sandbox.selfcheck): the product never runs them itself."""
    per_service: dict[str, tuple[SelfCheck, ...]] = field(default_factory=dict)
    global_checks: tuple[SelfCheck, ...] = ()
    note: str = ""               # why they were not run (then nothing above), in the report's language


@dataclass
class ServiceStats:
    logins_by_mie: dict[str, int] = field(default_factory=dict)
    denials_by_reason: dict[str, int] = field(default_factory=dict)
    idle_logouts: int = 0
    absolute_logouts: int = 0
    logouts: int = 0
    series: dict[str, dict[str, int]] = field(default_factory=dict)  # bucket label -> mie -> logins
    backup_activations: int = 0   # backup codes an administrator activated for this service (RIE-PS 16)

    @property
    def logins(self) -> int:
        return sum(self.logins_by_mie.values())

    @property
    def denials(self) -> int:
        return sum(self.denials_by_reason.values())


@dataclass
class AuditStats:
    files: tuple[str, ...]
    period_from: date
    period_to: date
    lines_read: int = 0
    lines_in_period: int = 0
    unreadable: int = 0
    chain_ok: bool | None = None  # None: no audit file
    chain_message: str = ""
    last_seq: int = 0
    last_hash: str = ""
    bucket: str = "day"           # day | week
    services: dict[str, ServiceStats] = field(default_factory=dict)
    admin_actions: int = 0
    fido_enrolled: int = 0       # passkeys enrolled in the period (RIE-PS 07), bridge-wide: a key is not per service
    fido_revoked: int = 0        # passkeys revoked by their owner or an administrator (RIE-PS 08)


@dataclass(frozen=True)
class ServiceSection:
    id: str
    name: str
    source: str
    clients: tuple[ClientInfo, ...]
    means: tuple[MeansInfo, ...]
    rules: tuple[RuleStatus, ...]
    timeouts: Timeouts
    attestation: AttestationInfo
    filters: tuple[tuple[str, str], ...]   # professions, modes, card types, historical flag, subject type
    warnings: tuple[str, ...]
    admins: tuple[str, ...] = ()
    controls: tuple[tuple[str, str, bool], ...] = ()   # (field, value in words, fine?): min_acr, card removal, ...
    stats: ServiceStats | None = None
    chart_svg: str = ""
    checks: tuple[SelfCheck, ...] = ()


@dataclass(frozen=True)
class Report:
    lang: str
    generated_at: float
    today: date
    days_to_attestation_deadline: int
    days_to_reserves_deadline: int
    attestation_deadline: date
    reserves_last_day: date
    policies_dir: str
    services: tuple[ServiceSection, ...]
    stats: AuditStats
    global_checks: tuple[SelfCheck, ...]
    self_checks_run: bool
    self_checks_note: str = ""
    settings_facts: tuple[tuple[str, str], ...] = ()
    config_faults: tuple[str, ...] = ()   # what would stop `bridge serve` with these settings (start-up check)

    @property
    def all_checks(self) -> tuple[SelfCheck, ...]:
        return tuple(c for s in self.services for c in s.checks) + tuple(self.global_checks)
