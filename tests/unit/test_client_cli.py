"""`bridge client add` / `bridge client hash-secret` through the real `bridge` command group, on copies of the
shipped policies: what they write loads, keeps the file's comments, and nothing is written when it would not."""
from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from joserfc.jwk import RSAKey

from bridge.cli import main
from bridge.policy.loader import load_policies

ENV = {"BRIDGE_ENV": None, "BRIDGE_POLICIES_DIR": None}


@pytest.fixture
def policies(tmp_path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree("policies", target)
    return target


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["client", *args], env=ENV, input=stdin)


def printed(output: str, key: str) -> str:
    return re.search(rf"^{key}: (\S+)$", output, re.M).group(1)


def test_add_writes_a_client_that_loads_with_the_printed_secret(policies, caplog):
    caplog.set_level(logging.DEBUG)
    before = (policies / "dpi.yaml").read_text()
    result = run("add", "dpi", "crm-web", "--dir", str(policies), "--name", "CRM de l'hôpital",
                 "--redirect-uri", "https://crm.example.org/oidc/callback",
                 "--post-logout-uri", "https://crm.example.org/",
                 "--backchannel-logout-uri", "https://crm.example.org/oidc/backchannel-logout",
                 "--scope", "openid", "--scope", "profile", "--scope", "rpps")
    assert result.exit_code == 0, result.output
    secret = printed(result.stdout, "client_secret")
    assert len(secret) >= 43
    service, client = load_policies(policies).client("crm-web")
    assert service.service == "dpi"
    assert client.client_secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert printed(result.stdout, "client_secret_sha256") == client.client_secret_sha256
    assert client.name == "CRM de l'hôpital" and client.token_endpoint_auth_method == "client_secret_basic"
    assert client.redirect_uris == ("https://crm.example.org/oidc/callback",)
    assert client.post_logout_redirect_uris == ("https://crm.example.org/",)
    assert client.backchannel_logout_uri == "https://crm.example.org/oidc/backchannel-logout"
    assert client.scopes == ("openid", "profile", "rpps")
    after = (policies / "dpi.yaml").read_text()
    edits = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines()).get_opcodes()
    assert [op for op, *_ in edits] == ["equal", "insert", "equal"]       # one block added, comments all kept
    # the comment about allowed_mie still sits just above allowed_mie, after the new client
    assert after.index("crm-web") < after.index("# `psc` = every PSC means") < after.index("allowed_mie:")
    # the secret is shown once, on stdout only: not in the file, not on stderr, not in any log record
    assert secret not in after and secret not in result.stderr and secret not in caplog.text
    assert result.stdout.count(secret) == 1


def test_an_invalid_option_leaves_the_file_untouched(policies):
    before = {p.name: p.read_bytes() for p in policies.iterdir()}
    cases = [
        ["--redirect-uri", "http://crm.example.org/cb"],                   # http outside loopback
        ["--redirect-uri", "https://crm.example.org/cb", "--scope", "profile"],  # no openid
        ["--redirect-uri", "https://crm.example.org/cb#frag"],             # fragment in a redirect URI
        ["--redirect-uri", "https://crm.example.org/cb", "--backchannel-logout-uri", "ftp://x"],
    ]
    for extra in cases:
        result = run("add", "dpi", "crm-web", "--dir", str(policies), *extra)
        assert result.exit_code == 1, (extra, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "dpi.yaml:" in lines[0], lines
        assert "client_secret" not in result.stdout
    assert {p.name: p.read_bytes() for p in policies.iterdir()} == before


def test_a_client_id_used_in_another_file_is_refused(policies):
    result = run("add", "dpi", "demo-portail", "--dir", str(policies), "--redirect-uri", "https://x.example.org/cb")
    assert result.exit_code == 1
    assert "duplicate client_id (also in" in result.stderr


def test_production_refuses_a_loopback_http_uri_that_development_accepts(policies):
    args = ["add", "dpi", "crm-dev", "--dir", str(policies), "--redirect-uri", "http://127.0.0.1:9000/cb"]
    assert run(*args, "--production").exit_code == 1
    assert run(*args).exit_code == 0


def test_public_client_has_no_secret(policies):
    result = run("add", "admin", "console-2", "--dir", str(policies), "--public",
                 "--redirect-uri", "https://sso.example.org/console/callback")
    assert result.exit_code == 0, result.output
    assert "client_secret" not in result.stdout
    _, client = load_policies(policies).client("console-2")
    assert client.public and client.client_secret_sha256 == ""


def test_private_key_jwt_with_a_jwks_file(policies, tmp_path):
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    public = tmp_path / "jwks.json"
    public.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    result = run("add", "dpi", "crm-jwt", "--dir", str(policies), "--jwks-file", str(public),
                 "--redirect-uri", "https://crm.example.org/cb")
    assert result.exit_code == 0, result.output
    _, client = load_policies(policies).client("crm-jwt")
    assert client.token_endpoint_auth_method == "private_key_jwt"
    assert client.jwks["keys"][0]["kid"] == "k1" and "d" not in client.jwks["keys"][0]
    # a private key never goes into a policy file
    leaked = tmp_path / "private.json"
    leaked.write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    result = run("add", "dpi", "crm-jwt2", "--dir", str(policies), "--jwks-file", str(leaked),
                 "--redirect-uri", "https://crm.example.org/cb")
    assert result.exit_code == 1 and "private parts" in result.stderr


def test_options_that_exclude_each_other(policies):
    result = run("add", "dpi", "x", "--dir", str(policies), "--public", "--client-secret-sha256", "0" * 64,
                 "--redirect-uri", "https://x.example.org/cb")
    assert result.exit_code == 1 and "exclude each other" in result.stderr


def test_own_secret_hash_is_used_as_given(policies):
    digest = run("hash-secret", stdin="my own secret\n").stdout.strip()
    assert digest == hashlib.sha256(b"my own secret").hexdigest()
    result = run("add", "dpi", "crm-own", "--dir", str(policies), "--client-secret-sha256", digest.upper(),
                 "--redirect-uri", "https://x.example.org/cb")
    assert result.exit_code == 0 and "client_secret:" not in result.stdout
    assert load_policies(policies).client("crm-own")[1].client_secret_sha256 == digest


def test_hash_secret_refuses_empty_input():
    result = run("hash-secret", stdin="")
    assert result.exit_code == 1 and "no secret" in result.stderr


def test_unknown_service_and_create(policies):
    result = run("add", "crm", "crm-web", "--dir", str(policies), "--redirect-uri", "https://x.example.org/cb")
    assert result.exit_code == 1 and "--create" in result.stderr and not (policies / "crm.yaml").exists()
    result = run("add", "crm", "crm-web", "--dir", str(policies), "--create", "--redirect-uri",
                 "https://x.example.org/cb")
    assert result.exit_code == 0, result.output
    service = load_policies(policies).services["crm"]
    assert service.allowed_mie == ("psc",) and service.idle_timeout == 1800 and service.max_session == 4 * 3600


def test_create_starts_from_an_empty_or_missing_policies_directory(tmp_path):
    """Regression: `--create` on an empty directory failed with "no policy files ... run `bridge policy check`"."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("add", "crm", "crm-web", "--dir", str(empty), "--redirect-uri", "https://crm.example.org/cb")
    assert result.exit_code == 1 and "(known: none)" in result.stderr and "--create" in result.stderr
    assert list(empty.iterdir()) == []
    for directory in (empty, tmp_path / "new" / "policies"):
        result = run("add", "crm", "crm-web", "--dir", str(directory), "--create", "--production",
                     "--redirect-uri", "https://crm.example.org/cb")
        assert result.exit_code == 0, result.output
        assert [p.name for p in directory.iterdir()] == ["crm.yaml"]
        service, client = load_policies(directory, dev=False).client("crm-web")
        assert service.service == "crm" and client.client_secret_sha256 == printed(result.stdout,
                                                                                    "client_secret_sha256")
    # nothing is made when the new file would not load
    result = run("add", "crm", "crm-web", "--dir", str(tmp_path / "other"), "--create", "--production",
                 "--redirect-uri", "http://crm.example.org/cb")
    assert result.exit_code == 1 and not (tmp_path / "other").exists()
    # a file where the directory should be is refused (by click's path check), and stays as it was
    (tmp_path / "file").write_text("")
    result = run("add", "crm", "crm-web", "--dir", str(tmp_path / "file"), "--create",
                 "--redirect-uri", "https://crm.example.org/cb")
    assert result.exit_code == 2 and "is a file" in result.stderr and (tmp_path / "file").read_text() == ""


def test_already_broken_policies_are_not_touched(policies):
    (policies / "dpi.yaml").write_text((policies / "dpi.yaml").read_text().replace("idle_timeout", "idle_timout"))
    before = (policies / "demo-portail.yaml").read_bytes()
    result = run("add", "demo-portail", "x", "--dir", str(policies), "--redirect-uri", "https://x.example.org/cb")
    assert result.exit_code == 1 and "bridge policy check" in result.stderr
    assert (policies / "demo-portail.yaml").read_bytes() == before


def test_a_flow_style_clients_list_is_refused(policies):
    path = policies / "crm.yaml"
    path.write_text("service: crm\nclients: [{client_id: a, token_endpoint_auth_method: none, "
                    "redirect_uris: [https://a.example.org/cb]}]\nallowed_mie: [psc]\n")
    before = path.read_bytes()
    result = run("add", "crm", "b", "--dir", str(policies), "--redirect-uri", "https://b.example.org/cb")
    assert result.exit_code == 1 and "by hand" in result.stderr and path.read_bytes() == before


def test_registered_client_logs_in(bridge_factory, tmp_path):
    """The walk-through of docs/integrator.md: add a client, start the bridge on those policies, log in."""
    from tests.support.bridge import AppClient

    directory = tmp_path / "policies"
    shutil.copytree("policies", directory)
    result = run("add", "dpi", "crm-web", "--dir", str(directory), "--scope", "openid", "--scope", "rpps",
                 "--redirect-uri", "http://127.0.0.1:9/crm/callback")
    assert result.exit_code == 0, result.output
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(directory)})
    app = AppClient(server.url, "crm-web", printed(result.stdout, "client_secret"), "http://127.0.0.1:9/crm/callback",
                    scope="openid rpps")
    answer = app.login(requests.Session())
    tokens = app.exchange(answer["code"])
    claims = app.verify_id_token(tokens["id_token"])
    assert claims["aud"] in ("crm-web", ["crm-web"]) and claims["sub"] == "899700000001"


def _jwks_file(tmp_path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [RSAKey.generate_key(2048, parameters={"kid": "k1"}).as_dict(private=False)]}))
    return path


def test_consent_frontchannel_dpop_and_par(policies):
    before = (policies / "dpi.yaml").read_text()
    result = run("add", "dpi", "crm-fapi", "--dir", str(policies), "--redirect-uri", "https://crm.example.org/cb",
                 "--consent", "required", "--frontchannel-logout-uri", "https://crm.example.org/oidc/fc-logout",
                 "--dpop", "--require-par")
    assert result.exit_code == 0, result.output
    _, client = load_policies(policies).client("crm-fapi")
    assert client.consent == "required"
    assert client.frontchannel_logout_uri == "https://crm.example.org/oidc/fc-logout"
    assert client.frontchannel_logout_session_required is True
    assert client.dpop_bound_access_tokens is True and client.require_pushed_authorization_requests is True
    edits = difflib.SequenceMatcher(None, before.splitlines(),
                                    (policies / "dpi.yaml").read_text().splitlines()).get_opcodes()
    assert [op for op, *_ in edits] == ["equal", "insert", "equal"]
    # without the options: nothing of them is written, the defaults apply
    assert run("add", "dpi", "crm-plain", "--dir", str(policies), "--redirect-uri", "https://p.example.org/cb"
               ).exit_code == 0
    text = (policies / "dpi.yaml").read_text()
    assert text.count("consent:") == 1 and text.count("dpop_bound_access_tokens") == 1
    _, plain = load_policies(policies).client("crm-plain")
    assert plain.consent == "none" and not plain.dpop_bound_access_tokens
    assert not plain.require_pushed_authorization_requests and not plain.frontchannel_logout_uri


def test_tls_client_auth_with_its_subject_dn(policies):
    result = run("add", "dpi", "crm-mtls", "--dir", str(policies), "--redirect-uri", "https://crm.example.org/cb",
                 "--auth-method", "tls_client_auth", "--tls-subject-dn", "CN=crm.example.org,O=Hopital,C=FR")
    assert result.exit_code == 0, result.output
    assert "client_secret" not in result.stdout and "(tls_client_auth)" in result.stdout
    _, client = load_policies(policies).client("crm-mtls")
    assert client.token_endpoint_auth_method == "tls_client_auth" and client.client_secret_sha256 == ""
    assert client.tls_client_auth_subject_dn == "CN=crm.example.org,O=Hopital,C=FR"


def test_self_signed_tls_client_auth_with_a_jwks_file(policies, tmp_path):
    result = run("add", "dpi", "crm-ss", "--dir", str(policies), "--redirect-uri", "https://crm.example.org/cb",
                 "--auth-method", "self_signed_tls_client_auth", "--jwks-file", str(_jwks_file(tmp_path)))
    assert result.exit_code == 0, result.output
    _, client = load_policies(policies).client("crm-ss")
    assert client.token_endpoint_auth_method == "self_signed_tls_client_auth"
    assert client.jwks["keys"][0]["kid"] == "k1" and "client_secret" not in result.stdout


def test_bad_new_options_say_one_line_and_leave_the_files_untouched(policies, tmp_path):
    before = {p.name: p.read_bytes() for p in policies.iterdir()}
    jwks = str(_jwks_file(tmp_path))
    cases = {
        ("--auth-method", "tls_client_auth"): "needs --tls-subject-dn",
        ("--auth-method", "tls_client_auth", "--tls-subject-dn", "CN=a, O=b"): "RFC 4514",
        ("--tls-subject-dn", "CN=crm.example.org"): "only with --auth-method tls_client_auth",
        ("--auth-method", "tls_client_auth", "--tls-subject-dn", "CN=a", "--jwks-file", jwks): "exclude each other",
        ("--auth-method", "self_signed_tls_client_auth"): "needs --jwks-file or --jwks-url",
        ("--public", "--auth-method", "tls_client_auth"): "exclude each other",
        ("--frontchannel-logout-uri", "ftp://crm.example.org/fc"): "frontchannel_logout_uri",
        ("--consent", "maybe"): "is not one of 'required', 'none'",
    }
    for extra, message in cases.items():
        result = run("add", "dpi", "crm-bad", "--dir", str(policies), "--redirect-uri", "https://crm.example.org/cb",
                     *extra)
        assert result.exit_code in (1, 2), (extra, result.output)
        lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error: ")
                 or line.startswith("Error: ")]
        assert len(lines) == 1 and message in lines[0], (extra, result.stderr)
        assert "client_secret" not in result.stdout
    assert {p.name: p.read_bytes() for p in policies.iterdir()} == before
