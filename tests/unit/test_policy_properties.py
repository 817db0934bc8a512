"""Property-based tests (Hypothesis): evaluate is total and never allows an unlisted means; the chooser and the
step-up agree with evaluate; the loader only ever fails with PolicyError."""
from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.mie import CATALOGUE, satisfies
from bridge.model import Activity, Authentication, Card, Exercice, Identity
from bridge.policy import (
    Attestation,
    PolicyError,
    Reserve,
    evaluate,
    load_policies,
    login_means,
    paris_epoch,
    step_up_means,
)
from tests.unit.test_policy_support import VALID_POLICY, service

settings.register_profile("policy", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("policy")

MIE_IDS = list(CATALOGUE)
CARD_TYPES = ["CPS", "CPF", "CDE", "CPE", "CDA", "CPA"]
AMR = ["pwd", "pin", "otp", "sms", "hwk", "swk", "sc", "mfa", "face", "fpt", "okta_verify", "user", ""]
PROFESSIONS = ["10", "21", "40", "50", "60", ""]
MODES = ["L", "S", "B", ""]

days = st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31))
instants = days.map(lambda d: paris_epoch(d, 12))
wide_ints = st.integers(min_value=-(2 ** 70), max_value=2 ** 70)


@st.composite
def attestations(draw) -> Attestation:
    status = draw(st.sampled_from(["none", "attested", "reserves"]))
    if status == "none":
        return Attestation()
    signed = draw(days)
    reserves = ()
    if status == "reserves":
        reserves = tuple(Reserve(draw(st.sampled_from(["RIE-PS 13", "RIE-PS 09", "RIE-PS 08"])), "plan", draw(days))
                         for _ in range(draw(st.integers(1, 3))))
    return Attestation(status=status, signed_on=signed, valid_until=draw(days), reserves=reserves)


@st.composite
def services(draw):
    return service(
        allowed_mie=tuple(draw(st.lists(st.sampled_from(MIE_IDS), min_size=1, max_size=4, unique=True))),
        require_2fa=draw(st.booleans()), historical_teleservice=draw(st.booleans()),
        card_types=tuple(draw(st.lists(st.sampled_from(CARD_TYPES), min_size=1, unique=True))),
        professions=tuple(draw(st.lists(st.sampled_from(PROFESSIONS[:-1]), unique=True, max_size=2))),
        modes=tuple(draw(st.lists(st.sampled_from(MODES[:-1]), unique=True, max_size=2))),
        idle_timeout=draw(st.integers(60, 4 * 3600)), max_session=draw(st.integers(60, 24 * 3600)),
        attestation=draw(attestations()))


activities = st.builds(Activity, mode=st.sampled_from(MODES), organization=st.text(max_size=5))
exercices = st.builds(Exercice, profession=st.sampled_from(PROFESSIONS),
                      activities=st.lists(activities, max_size=3).map(tuple))
identities = st.builds(Identity, national_id=st.text(min_size=1, max_size=12),
                       exercices=st.lists(exercices, max_size=3).map(tuple))
authentications = st.builds(
    Authentication, identity=identities,
    mie=st.one_of(st.sampled_from(MIE_IDS), st.text(max_size=8)),
    amr=st.lists(st.one_of(st.sampled_from(AMR), st.text(max_size=4)), max_size=5).map(tuple),
    acr=st.sampled_from(["eidas1", "eidas2", ""]),
    auth_time=st.one_of(wide_ints, instants.map(int)),
    upstream=st.sampled_from(["psc", "cps-pin", "cps-tls", "other"]),
    card=st.one_of(st.none(), st.builds(Card, type=st.one_of(st.sampled_from(CARD_TYPES), st.text(max_size=3)))),
    upstream_session=st.one_of(st.just({}), st.fixed_dictionaries(
        {"deadline": st.one_of(st.none(), st.booleans(), wide_ints, st.floats(allow_nan=True), st.text())})),
    selected_activity=st.one_of(st.none(), st.tuples(st.integers(-3, 4), st.integers(-3, 4))))


@given(services(), authentications, instants)
def test_evaluate_never_raises_and_never_allows_an_unlisted_means(svc, authn, now):
    decision = evaluate(svc, authn, now)
    assert decision.allowed == (not decision.reasons)
    if decision.allowed:
        assert authn.mie in CATALOGUE and satisfies(svc.allowed_mie, authn.mie)
        assert CATALOGUE[authn.mie].via_psc or svc.historical_teleservice


@given(services(), instants)
def test_login_means_are_listed_psc_first_and_unique(svc, now):
    means = login_means(svc, now)
    assert all(satisfies(svc.allowed_mie, m.id) for m in means)
    flags = [m.via_psc for m in means]
    assert flags == sorted(flags, reverse=True) and len(set(means)) == len(means)
    if any(CATALOGUE[m].via_psc for m in svc.allowed_mie):  # PSC is never filtered out by the calendar
        assert means and means[0].via_psc


def conforming_login(svc, mie_id: str, now: float) -> Authentication:
    """Someone the filters admit, logging in right now with `mie_id` as its upstream would report it."""
    mie = CATALOGUE[mie_id]
    act = Activity(mode=svc.modes[0] if svc.modes else "S")
    identity = Identity("810001234567", exercices=(Exercice(profession=(svc.professions or ("10",))[0],
                                                            activities=(act,)),))
    card = None if mie.via_psc else Card(type=svc.card_types[0])
    return Authentication(identity=identity, mie=mie_id, amr=mie.amr, acr="eidas1", auth_time=int(now),
                          upstream=mie.upstream, card=card)


@given(services(), instants)
def test_the_chooser_offers_exactly_what_evaluate_accepts(svc, now):
    offered = {m.id for m in login_means(svc, now)}
    for mie_id in CATALOGUE:
        accepted = evaluate(svc, conforming_login(svc, mie_id, now), now).allowed
        if mie_id in offered:
            assert accepted, mie_id
        elif not CATALOGUE[mie_id].via_psc:
            assert not accepted, mie_id  # a direct means left out of the chooser is refused too


@given(services(), authentications, instants)
def test_step_up_proposes_only_offered_means_and_only_after_a_denial(svc, authn, now):
    proposed = step_up_means(svc, authn, now)
    if evaluate(svc, authn, now).allowed:
        assert proposed == []
    offered = login_means(svc, now)
    assert all(m in offered for m in proposed)


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6), st.text(max_size=12),
                    st.sampled_from(["psc", "cps-pin", "15m", "4h", "0s", "100d", "https://a.example/cb",
                                     "http://127.0.0.1/cb", "2026-10-01", "attested", "reserves", "CPS", "S"]),
                    st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)
KEYS = ["service", "name", "clients", "allowed_mie", "require_2fa", "idle_timeout", "max_session", "card_types",
        "professions", "modes", "historical_teleservice", "attestation", "subject_type", "extra"]


@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8), st.booleans())
def test_loader_fails_only_with_policy_error(overrides, dev):
    document = {**yaml.safe_load(VALID_POLICY), **overrides}
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "svc.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        try:
            policies = load_policies(directory, dev=dev, now=paris_epoch(date(2026, 11, 23), 12))
        except PolicyError as exc:
            assert exc.errors and all(line.startswith(str(Path(directory, "svc.yaml"))) for line in exc.errors)
        else:
            assert list(policies.services) == [document["service"]]


@given(st.text(max_size=200))
def test_loader_survives_arbitrary_text(text):
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "svc.yaml").write_text(text, encoding="utf-8")
        try:
            load_policies(directory)
        except PolicyError as exc:
            assert exc.errors
