"""Loading policies/*.yaml: the shipped examples, and every kind of bad input (errors name file:line, field,
value and rule; all are reported at once; nothing is half-loaded)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bridge.policy import PolicyError, load_policies
from tests.unit.test_policy_support import NOW, SECRET_HASH, VALID_POLICY, at, write

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def errors_of(directory: Path, **kwargs) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policies(directory, now=kwargs.pop("now", NOW), **kwargs)
    assert caught.value.errors, "PolicyError without errors"
    return caught.value.errors


def one_error(directory: Path, **kwargs) -> str:
    errors = errors_of(directory, **kwargs)
    assert len(errors) == 1, errors
    return errors[0]


def policy(tmp_path: Path, text: str, name: str = "svc.yaml") -> Path:
    write(tmp_path, name, text)
    return tmp_path


def replaced(old: str, new: str) -> str:
    assert old in VALID_POLICY
    return VALID_POLICY.replace(old, new)


# --- the shipped policies -----------------------------------------------------------------------------------------

def test_shipped_policies_load_with_expected_services():
    policies = load_policies(REPO_POLICIES, now=NOW)
    assert set(policies.services) == {"admin", "demo-portail", "dpi", "teleservice-historique"}
    assert policies.warnings == ()


def test_demo_and_dpi_clients_are_unchanged():
    policies = load_policies(REPO_POLICIES, now=NOW)
    _, demo = policies.client("demo-portail")
    assert demo.client_secret_sha256 == hashlib.sha256(b"demo-portail-secret").hexdigest()
    assert demo.redirect_uris == ("http://127.0.0.1:8002/portail/callback",)
    assert demo.post_logout_redirect_uris == ("http://127.0.0.1:8002/portail/",)
    assert demo.backchannel_logout_uri == "http://127.0.0.1:8002/portail/backchannel-logout"
    assert demo.scopes == ("openid", "profile", "email", "rpps")
    dpi_service, dpi = policies.client("dpi-web")
    assert dpi_service.service == "dpi"
    assert dpi.client_secret_sha256 == hashlib.sha256(b"dpi-secret").hexdigest()
    assert dpi.redirect_uris == ("http://127.0.0.1:8002/dpi/callback",)
    assert dpi.backchannel_logout_uri == "http://127.0.0.1:8002/dpi/backchannel-logout"
    assert dpi_service.idle_timeout == 15 * 60


def test_teleservice_and_admin_examples():
    policies = load_policies(REPO_POLICIES, now=NOW)
    tele, client = policies.client("teleservice-web")
    assert client.client_secret_sha256 == hashlib.sha256(b"teleservice-secret").hexdigest()
    assert client.redirect_uris == ("http://127.0.0.1:8002/teleservice/callback",)
    assert client.post_logout_redirect_uris == ("http://127.0.0.1:8002/teleservice/",)
    assert client.backchannel_logout_uri == "http://127.0.0.1:8002/teleservice/backchannel-logout"
    assert tele.historical_teleservice and "cps-pin" in tele.allowed_mie and tele.card_types == ("CPS", "CPF")
    assert tele.attestation.status == "attested"
    admin, admin_client = policies.client("bridge-admin")
    assert admin_client.public and admin_client.client_secret_sha256 == ""
    assert admin_client.redirect_uris == ("http://127.0.0.1:8000/admin/callback",)
    assert admin.allowed_mie == ("psc",)


def test_minimal_policy_gets_the_referential_defaults(tmp_path):
    svc = load_policies(policy(tmp_path, VALID_POLICY), now=NOW).services["svc"]
    assert (svc.require_2fa, svc.idle_timeout, svc.max_session) == (True, 1800, 4 * 3600)
    assert svc.card_types == ("CPS", "CPF") and svc.historical_teleservice is False
    assert svc.name == "svc" and svc.source.endswith("svc.yaml")


def test_client_lookup_returns_none_for_unknown_client():
    assert load_policies(REPO_POLICIES, now=NOW).client("nobody") is None


# --- the message format -------------------------------------------------------------------------------------------

def test_error_names_file_line_field_value_and_rule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "policies", "dpi.yaml", f"""\
service: dpi
clients:
  - client_id: dpi-web
    client_secret_sha256: {SECRET_HASH}
    redirect_uris: [https://dpi.example.org/cb]
allowed_mie:
  - psc
  - cps-pin
""")
    assert one_error(Path("policies")) == (
        "policies/dpi.yaml:8 allowed_mie[1]: 'cps-pin' requires historical_teleservice: true "
        "(RIE v2 RIE-PS 02: direct CPS only for ANS-authorized historical teleservices)")


def test_every_error_is_reported_at_once_in_line_order(tmp_path):
    text = replaced("allowed_mie: [psc]", "allowed_mie: [psc]\nidle_timeout: 2 hours\ncolour: blue\n"
                                          "require_2fa: maybe")
    errors = errors_of(policy(tmp_path, text))
    assert [e.split(" ", 2)[1] for e in errors] == ["idle_timeout:", "colour:", "require_2fa:"]
    assert [int(e.split(" ")[0].rsplit(":", 1)[1]) for e in errors] == [7, 8, 9]


def test_nothing_is_half_loaded(tmp_path):
    write(tmp_path, "good.yaml", VALID_POLICY.replace("svc", "good"))
    write(tmp_path, "bad.yaml", VALID_POLICY.replace("svc", "bad").replace("[psc]", "[pwd]"))
    errors = errors_of(tmp_path)
    assert len(errors) == 1 and "bad.yaml" in errors[0] and "'pwd'" in errors[0]


# --- malformed files and directories ------------------------------------------------------------------------------

def test_malformed_yaml_names_the_line(tmp_path):
    error = one_error(policy(tmp_path, "service: svc\nclients: [a, b\nallowed_mie: [psc]\n"))
    assert "svc.yaml:3 (file): malformed YAML" in error


def test_empty_file_and_non_mapping_documents(tmp_path):
    write(tmp_path, "a.yaml", "")
    write(tmp_path, "b.yaml", "- service: b\n")
    write(tmp_path, "c.yaml", VALID_POLICY + "---\n" + VALID_POLICY)
    errors = errors_of(tmp_path)
    assert "a.yaml:1 (file): (missing) empty policy file" in errors[0]
    assert "b.yaml:1 (file)" in errors[1] and "must be a mapping" in errors[1]
    assert "c.yaml" in errors[2] and "malformed YAML" in errors[2]


def test_duplicate_yaml_key_is_not_silently_overwritten(tmp_path):
    error = one_error(policy(tmp_path, VALID_POLICY + "allowed_mie: [psc-card]\n"))
    assert "svc.yaml:7 allowed_mie: duplicate key (first at line 6)" in error


def test_empty_missing_and_non_yaml_directories(tmp_path):
    assert "no policy files" in one_error(tmp_path)
    write(tmp_path, "README.txt", "not a policy")
    write(tmp_path, ".draft.yaml", "garbage: [")
    assert "no policy files" in one_error(tmp_path)
    assert "not a directory" in one_error(tmp_path / "absent")


def test_non_utf8_file(tmp_path):
    (tmp_path / "svc.yaml").write_bytes(b"service: caf\xe9\n")
    assert "not UTF-8" in one_error(tmp_path)


# --- structure: keys and types ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("allowed_mie: [psc]\ncolour: blue", "colour: 'blue' unknown key"),
    ("allowed_mie: [psc]\nidle_timout: 15m", "idle_timout: '15m' unknown key (did you mean 'idle_timeout'?)"),
])
def test_unknown_service_keys(tmp_path, text, expected):
    assert expected in one_error(policy(tmp_path, replaced("allowed_mie: [psc]", text)))


def test_unknown_keys_in_client_attestation_and_reserve(tmp_path):
    text = replaced("    redirect_uris:", "    redirect_uri: https://x.example/cb\n    redirect_uris:") + """\
attestation:
  status: reserves
  signed_on: 2026-10-01
  valid_until: 2027-09-30
  signed_by: someone
  reserves:
    - {requirement: RIE-PS 08, action_plan: renew, due: 2027-06-01, owner: me}
"""
    errors = errors_of(policy(tmp_path, text))
    assert any("clients[0].redirect_uri: 'https://x.example/cb' unknown key (did you mean 'redirect_uris'?)" in e
               for e in errors)
    assert any("attestation.signed_by: 'someone' unknown key" in e for e in errors)
    assert any("attestation.reserves[0].owner: 'me' unknown key" in e for e in errors)
    assert len(errors) == 3


@pytest.mark.parametrize("old, new, expected", [
    ("allowed_mie: [psc]", "allowed_mie: psc", "allowed_mie: 'psc' must be a list"),
    ("allowed_mie: [psc]", "allowed_mie: [psc]\nrequire_2fa: 'yes'", "require_2fa: 'yes' must be true or false"),
    ("allowed_mie: [psc]", "allowed_mie: [psc]\nidle_timeout: [15m]", "idle_timeout: ['15m'] is not a duration"),
    ("allowed_mie: [psc]", "allowed_mie: [psc]\nname: [a]", "name: ['a'] must be a non-empty string"),
    ("allowed_mie: [psc]", "allowed_mie: [psc]\nattestation: yes", "attestation: True must be a mapping"),
    ("allowed_mie: [psc]", "allowed_mie: [psc]\ncard_types: CPS", "card_types: 'CPS' must be a list"),
    ("allowed_mie: [psc]", "allowed_mie: [psc]\nhistorical_teleservice: 1",
     "historical_teleservice: 1 must be true or false"),
    ("service: svc", "service: 42", "service: 42 must be a non-empty string"),
    ("service: svc", "service: Mon Service", "service: 'Mon Service' is not valid"),
])
def test_wrong_types(tmp_path, old, new, expected):
    assert expected in one_error(policy(tmp_path, replaced(old, new)))


def test_missing_required_fields(tmp_path):
    errors = errors_of(policy(tmp_path, "name: Nothing else\n"))
    assert [e.split(" ")[1] for e in errors] == ["service:", "clients:", "allowed_mie:"]
    assert all("(missing)" in e for e in errors)


def test_clients_must_be_a_non_empty_list_of_mappings(tmp_path):
    assert "clients: [] at least one client" in one_error(policy(tmp_path, VALID_POLICY.split("clients:")[0]
                                                                  + "clients: []\nallowed_mie: [psc]\n"))
    assert "clients[0]: 'dpi-web' must be a mapping" in one_error(
        policy(tmp_path, "service: svc\nclients: [dpi-web]\nallowed_mie: [psc]\n"))


# --- identifiers --------------------------------------------------------------------------------------------------

def test_duplicate_service_ids_across_files(tmp_path):
    write(tmp_path, "a.yaml", VALID_POLICY.replace("client_id: svc-web", "client_id: a-web"))
    write(tmp_path, "b.yaml", VALID_POLICY.replace("client_id: svc-web", "client_id: b-web"))
    error = one_error(tmp_path)
    assert error.startswith(f"{tmp_path}/b.yaml:1 service: 'svc' duplicate service id (also in {tmp_path}/a.yaml)")


def test_duplicate_client_ids_across_files_and_within_a_file(tmp_path):
    write(tmp_path, "a.yaml", VALID_POLICY.replace("service: svc", "service: a"))
    write(tmp_path, "b.yaml", VALID_POLICY.replace("service: svc", "service: b"))
    errors = errors_of(tmp_path)
    assert errors == [f"{tmp_path}/b.yaml:3 clients[0].client_id: 'svc-web' duplicate client_id "
                      f"(also in {tmp_path}/a.yaml)"]
    client = VALID_POLICY.split("clients:\n")[1].split("allowed_mie")[0]
    text = VALID_POLICY.replace("allowed_mie", client + "allowed_mie")
    assert "clients[1].client_id: 'svc-web' duplicate client_id in this file" in one_error(policy(tmp_path / "c", text))


# --- means --------------------------------------------------------------------------------------------------------

def test_unknown_mie_names_the_catalogue_and_the_rule(tmp_path):
    error = one_error(policy(tmp_path, replaced("[psc]", "[psc, login-password]")))
    assert "svc.yaml:6 allowed_mie[1]: 'login-password' is not valid: unknown MIE (known: psc-card" in error
    assert "(RIE v2 RIE-PS 02, RIE-PS 17: only the means of the MIE catalogue can be configured)" in error


def test_mie_listed_twice(tmp_path):
    assert "allowed_mie[1]: 'psc' is listed twice" in one_error(policy(tmp_path, replaced("[psc]", "[psc, psc]")))


def test_pro_sante_connect_must_always_be_offered(tmp_path):
    text = replaced("[psc]", "[cps-pin]\nhistorical_teleservice: true\nattestation: {status: attested, "
                             "signed_on: 2026-10-01, valid_until: 2027-10-01}")
    assert "must include a Pro Santé Connect means (psc...) (RIE v2 RIE-PS 03" in one_error(policy(tmp_path, text))


def test_direct_card_needs_historical_teleservice_and_card_types(tmp_path):
    text = replaced("[psc]", "[psc, cps-tls]\ncard_types: []")
    errors = errors_of(policy(tmp_path, text))
    assert any("allowed_mie[1]: 'cps-tls' requires historical_teleservice: true" in e for e in errors)
    assert any("card_types: [] must list at least one card type" in e for e in errors)


def test_card_types_and_filters_are_validated(tmp_path):
    text = replaced("[psc]", "[psc]\ncard_types: [CPS, XYZ]\nprofessions: [10, '7', 07]\nmodes: [S, X]")
    errors = errors_of(policy(tmp_path, text))
    assert any("card_types[1]: 'XYZ' is not valid" in e for e in errors)
    assert any("professions[1]: '7' is not valid: a 2-digit TRE_G15" in e for e in errors)
    assert any("professions[2]: 7 is not valid" in e for e in errors)  # YAML 1.1 reads 07 as octal 7
    assert any("modes[1]: 'X' is not valid" in e for e in errors)
    assert len(errors) == 4


def test_unquoted_profession_codes_are_read_as_text(tmp_path):
    text = replaced("[psc]", "[psc]\nprofessions: [10, \"21\"]")
    assert load_policies(policy(tmp_path, text), now=NOW).services["svc"].professions == ("10", "21")


# --- durations ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("setting, expected", [
    ("idle_timeout: 0s", "idle_timeout: '0s' is too short to be usable (at least 1m)"),
    ("idle_timeout: 45s", "idle_timeout: '45s' is too short"),
    ("idle_timeout: -5m", "idle_timeout: '-5m' is not a duration like 15m, 4h or 900s"),
    ("idle_timeout: -300", "idle_timeout: -300 is too short"),
    ("idle_timeout: 1.5h", "idle_timeout: '1.5h' is not a duration"),
    ("idle_timeout: 2.5", "idle_timeout: 2.5 is not a duration"),
    ("max_session: 100d", "max_session: '100d' is absurd (at most 24h, even with a reserve)"),
    ("max_session: 999999999999h", "max_session: '999999999999h' is absurd"),
    ("idle_timeout: 31m", "idle_timeout: '31m' is above 30m without a reserve on RIE-PS 13 (RIE v2 RIE-PS 13"),
    ("max_session: 5h", "max_session: '5h' is above 4h without a reserve on RIE-PS 13"),
    ("idle_timeout: 20m\nmax_session: 10m", "idle_timeout: '20m' exceeds max_session (10m)"),
])
def test_bad_durations(tmp_path, setting, expected):
    assert expected in one_error(policy(tmp_path, replaced("allowed_mie: [psc]", f"allowed_mie: [psc]\n{setting}")))


def test_durations_in_every_unit(tmp_path):
    text = replaced("allowed_mie: [psc]", "allowed_mie: [psc]\nidle_timeout: 600\nmax_session: 90m")
    svc = load_policies(policy(tmp_path, text), now=NOW).services["svc"]
    assert (svc.idle_timeout, svc.max_session) == (600, 5400)


RESERVE_13 = """\
attestation:
  status: reserves
  signed_on: 2026-10-01
  valid_until: 2027-09-30
  reserves:
    - requirement: RIE-PS 13
      action_plan: move the ward workstations to badge tap-in
      due: 2027-06-30
"""


def test_a_reserve_allows_longer_timeouts_but_never_no_inactivity_logout(tmp_path):
    longer = replaced("allowed_mie: [psc]", "allowed_mie: [psc]\nidle_timeout: 1h\nmax_session: 8h\n" + RESERVE_13)
    svc = load_policies(policy(tmp_path, longer), now=NOW).services["svc"]
    assert (svc.idle_timeout, svc.max_session) == (3600, 8 * 3600)
    absurd = replaced("allowed_mie: [psc]", "allowed_mie: [psc]\nidle_timeout: 5h\nmax_session: 8h\n" + RESERVE_13)
    assert "idle_timeout: '5h' is no real inactivity logout (at most 4h, even with a reserve) (RIE v2 RIE-PS 17" \
        in one_error(policy(tmp_path / "b", absurd))


def test_single_factor_needs_a_reserve(tmp_path):
    text = replaced("allowed_mie: [psc]", "allowed_mie: [psc]\nrequire_2fa: false")
    assert "require_2fa: False needs a reserve on RIE-PS 09" in one_error(policy(tmp_path, text))
    text = text + RESERVE_13.replace("RIE-PS 13", "RIE-PS 09")
    assert load_policies(policy(tmp_path / "b", text), now=NOW).services["svc"].require_2fa is False


# --- dates and attestation ----------------------------------------------------------------------------------------

def attestation_policy(body: str) -> str:
    return replaced("allowed_mie: [psc]", "allowed_mie: [psc, cps-pin]\nhistorical_teleservice: true\n"
                                          "attestation:\n" + body)


@pytest.mark.parametrize("body, expected", [
    ("  status: attested\n  signed_on: 01/10/2026\n  valid_until: 2027-10-01\n",
     "attestation.signed_on: '01/10/2026' must be a date YYYY-MM-DD"),
    ("  status: attested\n  signed_on: 2026-10-01\n  valid_until: 2027-02-30\n",
     "attestation.valid_until: '2027-02-30' is invalid"),
    ("  status: attested\n  signed_on: 2026-10-01 10:00:00\n  valid_until: 2027-10-01\n",
     "must be a date YYYY-MM-DD, not a date-time"),
    ("  status: attested\n  signed_on: '2026-13-01'\n  valid_until: 2027-10-01\n",
     "attestation.signed_on: '2026-13-01' is not a valid calendar date"),
    ("  status: attested\n  signed_on: 2026\n  valid_until: 2027-10-01\n",
     "attestation.signed_on: 2026 must be a date YYYY-MM-DD"),
])
def test_dates_in_the_wrong_format(tmp_path, body, expected):
    assert expected in one_error(policy(tmp_path, attestation_policy(body)))


def test_quoted_iso_dates_are_accepted(tmp_path):
    body = "  status: attested\n  signed_on: '2026-10-01'\n  valid_until: \"2027-10-01\"\n"
    svc = load_policies(policy(tmp_path, attestation_policy(body)), now=NOW).services["svc"]
    assert svc.attestation.valid_until.isoformat() == "2027-10-01"


@pytest.mark.parametrize("body, expected", [
    ("  status: signed\n", "attestation.status: 'signed' must be one of attested, reserves, none"),
    ("  status: attested\n  signed_on: 2026-10-01\n  valid_until: 2026-09-01\n",
     "attestation.valid_until: '2026-09-01' must be after signed_on (2026-10-01)"),
    ("  status: attested\n  signed_on: 2026-10-01\n  valid_until: 2029-10-02\n",
     "attestation.valid_until: '2029-10-02' is more than 3 year(s) after signed_on (at most 2029-10-01) "
     "(RIE v2 RIE-PS 18/19"),
    ("  status: reserves\n  signed_on: 2026-10-01\n  valid_until: 2027-10-02\n  reserves:\n"
     "    - {requirement: RIE-PS 08, action_plan: renew, due: 2027-01-01}\n",
     "is more than 1 year(s) while reserves remain (at most 2027-10-01)"),
    ("  status: reserves\n  signed_on: 2026-10-01\n  valid_until: 2027-09-01\n",
     "attestation.reserves: (missing) status: reserves needs at least one reserve"),
    ("  status: attested\n  signed_on: 2026-10-01\n  valid_until: 2027-09-01\n  reserves:\n"
     "    - {requirement: RIE-PS 08, action_plan: renew, due: 2027-01-01}\n",
     "attestation.reserves: '1 reserve(s)' need status: reserves"),
    ("  status: none\n  signed_on: 2026-10-01\n", "attestation.signed_on: datetime.date(2026, 10, 1) makes no sense"),
    ("  status: reserves\n  signed_on: 2026-10-01\n  valid_until: 2027-09-01\n  reserves:\n"
     "    - {requirement: RIE-PS 08, action_plan: renew, due: 2029-01-01}\n",
     "attestation.reserves[0].due: '2029-01-01' is after 2028-12-31 (RIE v2 RIE-PS 17"),
    ("  status: reserves\n  signed_on: 2026-10-01\n  valid_until: 2027-09-01\n  reserves:\n"
     "    - {requirement: timeouts, action_plan: renew, due: 2027-01-01}\n",
     "attestation.reserves[0].requirement: 'timeouts' is not valid: a referential requirement id like 'RIE-PS 13'"),
    ("  status: reserves\n  signed_on: 2026-10-01\n  valid_until: 2027-09-01\n  reserves:\n"
     "    - {requirement: RIE-PS 08, action_plan: renew}\n",
     "attestation.reserves[0].due: (missing) is required"),
])
def test_attestation_consistency(tmp_path, body, expected):
    assert expected in one_error(policy(tmp_path, attestation_policy(body)))


def test_attested_needs_both_dates(tmp_path):
    errors = errors_of(policy(tmp_path, attestation_policy("  status: attested\n")))
    assert [e.split(" ", 1)[1] for e in errors] == [
        "attestation.signed_on: (missing) is required when status is attested",
        "attestation.valid_until: (missing) is required when status is attested"]


def test_leap_day_signature_allows_three_years(tmp_path):
    body = "  status: attested\n  signed_on: 2028-02-29\n  valid_until: 2031-02-28\n"
    assert load_policies(policy(tmp_path, attestation_policy(body)), now=NOW).services["svc"]


# --- redirect URIs ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("uri, expected", [
    ("/callback", "must be an absolute URL"),
    ("dpi.example.org/cb", "must be an absolute URL"),
    ("http://dpi.example.org/cb", "must be https (http only for loopback in development)"),
    ("ftp://dpi.example.org/cb", "must be https"),
    ("https://dpi.example.org/cb#frag", "must not contain a fragment"),
    ("https://*.example.org/cb", "must be an exact URL"),
    ("https://user:pw@dpi.example.org/cb", "must not contain credentials"),
    ("https://dpi.example.org:99999/cb", "is not a valid URL"),
])
def test_redirect_uris_must_be_absolute_https(tmp_path, uri, expected):
    text = replaced("[https://svc.example/cb]", f"['{uri}']")
    assert f"clients[0].redirect_uris[0]: '{uri}' {expected}" in one_error(policy(tmp_path, text))


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8002/cb", "http://localhost/cb", "http://[::1]:9000/cb",
                                 "http://127.0.0.2/cb"])
def test_http_loopback_only_in_development(tmp_path, uri):
    text = replaced("[https://svc.example/cb]", f"['{uri}']")
    assert load_policies(policy(tmp_path, text), dev=True, now=NOW).services["svc"].clients[0].redirect_uris == (uri,)
    assert "must be https in production" in one_error(tmp_path, dev=False)


def test_logout_uris_are_checked_too(tmp_path):
    text = replaced("    redirect_uris:", "    post_logout_redirect_uris: [http://evil.example/]\n"
                                         "    backchannel_logout_uri: http://evil.example/bc\n    redirect_uris:")
    errors = errors_of(policy(tmp_path, text))
    assert any("post_logout_redirect_uris[0]: 'http://evil.example/' must be https" in e for e in errors)
    assert any("backchannel_logout_uri: 'http://evil.example/bc' must be https" in e for e in errors)


def test_redirect_uris_required(tmp_path):
    text = replaced("    redirect_uris: [https://svc.example/cb]\n", "")
    assert "clients[0].redirect_uris: (missing) at least one redirect URI is required" in one_error(
        policy(tmp_path, text))


# --- client authentication ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, expected", [
    (f"    client_secret_sha256: {SECRET_HASH}\n", "",
     "clients[0].client_secret_sha256: (missing) client_secret_basic needs the 64-hex SHA-256"),
    (SECRET_HASH, "not-a-hash", "'not-a-hash' client_secret_basic needs the 64-hex SHA-256"),
    ("    redirect_uris:", "    token_endpoint_auth_method: none\n    redirect_uris:",
     f"clients[0].client_secret_sha256: '{SECRET_HASH}' must be absent with none"),
    (f"    client_secret_sha256: {SECRET_HASH}\n", "    token_endpoint_auth_method: private_key_jwt\n",
     "clients[0].jwks: (missing) private_key_jwt needs the client's public keys"),
    ("    redirect_uris:", "    token_endpoint_auth_method: magic\n    redirect_uris:",
     "token_endpoint_auth_method: 'magic' must be one of"),
    ("    redirect_uris:", "    scopes: [profile, rpps]\n    redirect_uris:", "must include 'openid'"),
    ("    redirect_uris:", "    id_token_signed_response_alg: none\n    redirect_uris:", "must be RS256 or ES256"),
])
def test_client_authentication_settings(tmp_path, old, new, expected):
    assert expected in one_error(policy(tmp_path, replaced(old, new)))


def test_public_client_with_pkce(tmp_path):
    text = replaced(f"    client_secret_sha256: {SECRET_HASH}\n", "    token_endpoint_auth_method: none\n")
    client = load_policies(policy(tmp_path, text), now=NOW).services["svc"].clients[0]
    assert client.public and client.token_endpoint_auth_method == "none"


# --- warnings (loaded, but worth saying) --------------------------------------------------------------------------

def test_calendar_findings_are_warnings_not_start_up_failures(tmp_path):
    text = replaced("[psc]", "[psc, cps-pin]\nhistorical_teleservice: true")
    before = load_policies(policy(tmp_path, text), now=at(2026, 12, 30))
    assert len(before.warnings) == 1
    assert "attestation: (missing) cps-pin will be blocked from 2026-12-31" in before.warnings[0]
    after = load_policies(tmp_path, now=at(2027, 1, 1))  # still loads: PSC keeps working, cps-pin is blocked
    assert "allowed_mie: ['cps-pin'] blocked: no conformity attestation since 2026-12-31" in after.warnings[0]


def test_expired_attestation_and_late_reserves_are_warned(tmp_path):
    body = ("  status: reserves\n  signed_on: 2028-03-01\n  valid_until: 2029-02-28\n  reserves:\n"
            "    - {requirement: RIE-PS 08, action_plan: renew, due: 2028-06-01}\n")
    policy(tmp_path, attestation_policy(body))
    warnings = load_policies(tmp_path, now=at(2028, 7, 1)).warnings
    assert len(warnings) == 1 and "reserves[0].due: '2028-06-01' is past" in warnings[0]
    warnings = load_policies(tmp_path, now=at(2029, 1, 1)).warnings
    assert any("reserves are no longer accepted after 2028-12-31" in w for w in warnings)
    warnings = load_policies(tmp_path, now=at(2029, 3, 1)).warnings
    assert any("attestation.valid_until: '2029-02-28' is past" in w for w in warnings)


def test_discouraged_card_types_and_unverifiable_modes(tmp_path):
    text = replaced("[psc]", "[psc, cps-pin]\nhistorical_teleservice: true\ncard_types: [CPS, CPE]\nmodes: [S]\n"
                             "attestation: {status: attested, signed_on: 2026-10-01, valid_until: 2027-10-01}")
    warnings = load_policies(policy(tmp_path, text), now=NOW).warnings
    assert any("card_types[1]: 'CPE' should not be used (RIE v2 RIE-PS 02" in w for w in warnings)
    assert any("modes: ['S'] refuses every cps-pin login" in w for w in warnings)


def test_service_named_unlike_its_file_is_warned(tmp_path):
    warnings = load_policies(policy(tmp_path, VALID_POLICY, name="other.yaml"), now=NOW).warnings
    assert warnings == (f"{tmp_path}/other.yaml:1 service: 'svc' differs from the file name 'other.yaml' "
                        "(one file per service, named after it, is easier to find)",)


def test_policy_error_carries_warnings_too(tmp_path):
    write(tmp_path, "svc.yaml", replaced("[psc]", "[psc]\ncolour: blue"))
    write(tmp_path, "other.yaml", VALID_POLICY.replace("svc", "x"))
    with pytest.raises(PolicyError) as caught:
        load_policies(tmp_path, now=NOW)
    assert len(caught.value.errors) == 1 and "colour" in caught.value.errors[0]
    assert len(caught.value.warnings) == 1 and "differs from the file name 'other.yaml'" in caught.value.warnings[0]
    assert str(caught.value) == caught.value.errors[0]


def test_lapsed_timeout_and_2fa_reserves_are_warned(tmp_path):
    text = replaced("allowed_mie: [psc]", "allowed_mie: [psc]\nidle_timeout: 1h\nrequire_2fa: false\n"
                    + RESERVE_13.replace("    - requirement: RIE-PS 13",
                                         "    - {requirement: RIE-PS 09, action_plan: x, due: 2027-06-30}\n"
                                         "    - requirement: RIE-PS 13"))
    policy(tmp_path, text)
    assert load_policies(tmp_path, now=at(2027, 6, 30)).warnings == ()
    warnings = load_policies(tmp_path, now=at(2027, 10, 1)).warnings  # the attestation ended on 2027-09-30
    assert any("idle_timeout: '1h' is above 30m and its reserve on RIE-PS 13 is not in force on 2027-10-01: "
               "30m applies" in w for w in warnings)
    assert any("require_2fa: False its reserve on RIE-PS 09 is not in force" in w for w in warnings)


def test_aliases_work_but_cannot_explode_or_recurse(tmp_path):
    shared = VALID_POLICY.replace("    redirect_uris: [https://svc.example/cb]",
                                  "    redirect_uris: &uris [https://svc.example/cb]\n"
                                  "    post_logout_redirect_uris: *uris")
    client = load_policies(policy(tmp_path, shared), now=NOW).services["svc"].clients[0]
    assert client.post_logout_redirect_uris == ("https://svc.example/cb",)
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6))
    assert "malformed YAML: more than 20000 values (alias expansion?)" in one_error(policy(tmp_path / "b", laughs))
    assert "malformed YAML: recursive alias" in one_error(policy(tmp_path / "c", "service: &s [*s]\n"))


def test_python_tags_are_refused(tmp_path):
    text = replaced("allowed_mie: [psc]", "allowed_mie: [psc]\nname: !!python/object:os.system echo")
    assert "name: 'echo' is invalid" in one_error(policy(tmp_path, text))


def test_subject_type(tmp_path):
    text = replaced("allowed_mie: [psc]", "allowed_mie: [psc]\nsubject_type: pairwise")
    assert load_policies(policy(tmp_path, text), now=NOW).services["svc"].subject_type == "pairwise"
    bad = replaced("allowed_mie: [psc]", "allowed_mie: [psc]\nsubject_type: secret")
    assert "subject_type: 'secret' must be public or pairwise" in one_error(policy(tmp_path / "b", bad))


def test_listing_psc_means_one_by_one_is_warned(tmp_path):
    warnings = load_policies(policy(tmp_path, replaced("[psc]", "[psc-card, psc-ecps]")), now=NOW).warnings
    assert len(warnings) == 1
    assert "allowed_mie: ['psc-card', 'psc-ecps'] refuses the PSC logins whose means PSC does not state" in warnings[0]
