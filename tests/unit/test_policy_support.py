"""Builders shared by the test_policy_* modules (no tests here): services, identities, logins, instants."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from bridge.mie import CATALOGUE
from bridge.model import Activity, Authentication, Card, Exercice, Identity
from bridge.policy import Attestation, Client, Reserve, Service, paris_epoch

SECRET_HASH = "07f4acac118140b0f01f34a44264fd3caea382fdf734b0cf2aac4728215e92f7"
TODAY = date(2026, 11, 23)


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> float:
    """Epoch seconds of a Paris wall-clock time (noon by default)."""
    return paris_epoch(date(year, month, day), hour, minute, second)


NOW = at(2026, 11, 23)


def service(**overrides) -> Service:
    values = dict(service="svc", name="Service", allowed_mie=("psc",),
                  clients=(Client(client_id="svc-web", redirect_uris=("https://svc.example/cb",),
                                  client_secret_sha256=SECRET_HASH),))
    values.update(overrides)
    return Service(**values)


def attested(signed_on=date(2026, 10, 1), valid_until=date(2029, 9, 30)) -> Attestation:
    return Attestation(status="attested", signed_on=signed_on, valid_until=valid_until)


def with_reserves(*requirements, signed_on=date(2028, 6, 1), valid_until=date(2029, 5, 31),
                  due=date(2028, 12, 1)) -> Attestation:
    reserves = tuple(Reserve(req, "plan d'action", due) for req in requirements or ("RIE-PS 08",))
    return Attestation(status="reserves", signed_on=signed_on, valid_until=valid_until, reserves=reserves)


def teleservice(**overrides) -> Service:
    """An authorized historical teleservice with PSC and direct CPS + PIN."""
    values = dict(service="teleservice", allowed_mie=("psc", "cps-pin"), historical_teleservice=True,
                  attestation=attested())
    values.update(overrides)
    return service(**values)


def activity(mode: str = "S", organization: str = "CHU") -> Activity:
    return Activity(mode=mode, organization=organization)


def person(*exercices: Exercice, national_id: str = "810001234567") -> Identity:
    if not exercices:
        exercices = (Exercice(profession="10", activities=(activity("S"),)),)
    return Identity(national_id=national_id, given_name="Jeanne", family_name="Martin", exercices=exercices)


def login(mie: str = "psc-card", *, identity: Identity | None = None, card: Card | None | str = "default",
          amr: tuple[str, ...] | None = None, auth_time: float = NOW, upstream: str | None = None,
          selected: tuple[int, int] | None = None, upstream_session: dict | None = None) -> Authentication:
    means = CATALOGUE[mie]
    if card == "default":
        card = None if means.via_psc else Card(type="CPS", serial="123")
    return Authentication(identity=identity or person(), mie=mie, amr=means.amr if amr is None else amr,
                          acr="eidas1", auth_time=int(auth_time), upstream=upstream or means.upstream, card=card,
                          upstream_session=upstream_session or {}, selected_activity=selected)


VALID_POLICY = f"""\
service: svc
clients:
  - client_id: svc-web
    client_secret_sha256: {SECRET_HASH}
    redirect_uris: [https://svc.example/cb]
allowed_mie: [psc]
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
