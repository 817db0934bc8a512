"""`bridge doctor` against a go-live set-up: the PSC emulator over HTTPS with mTLS, a real redis-server, the test
PKI's trust store and CRLs, production settings. Green first, then each fault alone gives its ✗ and exit 1."""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bridge.provider.keys import KeyRing
from bridge.sandbox.psc import EmulatedClient
from bridge.sandbox.tls import server_ssl_context
from tests.support.child import child_env
from tests.support.redis import free_port

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://bridge.hopital.test"
APPS = "https://apps.hopital.test"
CLIENT_ID = "bridge-hopital"
SECRETS = {"BRIDGE_SECRET_KEY": "doctor-secret-key-0123456789abcdefghij",
           "BRIDGE_METRICS_TOKEN": "doctor-metrics-token-42"}


@dataclass
class GoLive:
    env: dict
    psc: object
    tmp: Path
    tls: object


def production_policies(directory: Path) -> Path:
    directory.mkdir()
    for source in (ROOT / "policies").glob("*.yaml"):
        text = source.read_text().replace("http://127.0.0.1:8002", APPS).replace("http://127.0.0.1:8000", PUBLIC)
        (directory / source.name).write_text(text)
    return directory


@pytest.fixture
def golive(tmp_path, psc_emulator_factory, psc_tls, redis_url, test_pki) -> GoLive:
    psc = psc_emulator_factory(
        ssl_context=server_ssl_context(psc_tls, require_client_cert=False),
        clients=[EmulatedClient(CLIENT_ID, "", [f"{PUBLIC}/psc/callback"], [f"{PUBLIC}/logout/done"],
                                auth_method="tls_client_auth", tls_client_cert_sha256=psc_tls.client_cert_sha256)])
    KeyRing(tmp_path / "keys", create=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "BRIDGE_ENV": "production", "BRIDGE_PUBLIC_URL": PUBLIC, **SECRETS, "BRIDGE_STORE_URL": redis_url,
           "BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
           "BRIDGE_POLICIES_DIR": str(production_policies(tmp_path / "policies")),
           "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url, "BRIDGE_PSC_CLIENT_ID": CLIENT_ID,
           "BRIDGE_PSC_CLIENT_CERT": str(psc_tls.client_cert), "BRIDGE_PSC_CLIENT_KEY": str(psc_tls.client_key),
           "BRIDGE_PSC_CA_BUNDLE": str(psc_tls.ca_cert),
           "BRIDGE_TRUST_DIR": str(test_pki.trust_dir(tmp_path / "trust")),
           "BRIDGE_CRL_DIR": str(test_pki.crl_dir(tmp_path / "crl", include_legacy=False))}
    return GoLive(env, psc, tmp_path, psc_tls)


def doctor(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge.cli", "doctor", *args], env=child_env(env), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def checks(env: dict, *args: str) -> tuple[int, dict]:
    """(exit code, check id -> check) of a --json run; the test set-up's certificate expires in 30 days."""
    done = doctor(env, "--json", "--cert-warn-days", "7", *args)
    assert done.stderr == "", done.stderr
    return done.returncode, {c["id"]: c for c in json.loads(done.stdout)["checks"]}


def failed(found: dict) -> list[str]:
    return sorted(name for name, check in found.items() if check["status"] == "fail")


ALL = ["config", "store", "policies", "keys", "trust", "crl", "agent", "psc.mtls", "psc.discovery", "psc.jwks",
       "psc.client"]


def test_a_good_set_up_is_green(golive):
    code, found = checks(golive.env, "--agent-origin", PUBLIC)
    assert code == 0
    assert list(found) == ALL
    assert {name: check["status"] for name, check in found.items()} == {name: "ok" for name in ALL}
    assert "chain verified" not in found["psc.mtls"]["detail"] and "chaîne vérifiée" in found["psc.mtls"]["detail"]
    assert f"{CLIENT_ID} (tls_client_auth)" in found["psc.client"]["detail"]


def test_the_checklist_is_french_by_default_english_on_request_and_never_shows_secrets(golive):
    env = {**golive.env, "BRIDGE_STORE_URL": golive.env["BRIDGE_STORE_URL"].replace("redis://", "redis://:pw-xyz@")}
    french = doctor(env, "--cert-warn-days", "7")
    lines = french.stdout.splitlines()
    assert lines[0].startswith("✓ Configuration : production, https://bridge.hopital.test")
    assert "✓ Clés de signature : " in french.stdout and not [line for line in lines if line.startswith("✗")]
    assert lines[-1].endswith("prêt pour la mise en service.")
    english = doctor({**env, "LANG": "en_GB.UTF-8"}, "--cert-warn-days", "7")
    assert "✓ Signing keys: " in english.stdout and english.stdout.splitlines()[-1].endswith("ready to go live.")
    assert "✓ Signing keys: " in doctor(env, "--lang", "en", "--cert-warn-days", "7").stdout
    development = doctor({**env, "BRIDGE_ENV": "development"}, "--cert-warn-days", "7")
    assert development.returncode == 0
    assert development.stdout.splitlines()[-1].endswith("relancez avec les réglages de production.")
    for output in (french.stdout, english.stdout):
        for secret in (*SECRETS.values(), "pw-xyz", "BEGIN PRIVATE KEY"):
            assert secret not in output


def test_warnings_do_not_fail(golive):
    done = doctor(golive.env, "--json")   # default threshold: 30 days, the test certificate has 29 left
    found = {c["id"]: c for c in json.loads(done.stdout)["checks"]}
    assert found["psc.mtls"]["status"] == "warn" and "IGC-Sant" in found["psc.mtls"]["fix"]
    assert done.returncode == 0 and json.loads(done.stdout)["ok"] is True


def test_a_configuration_error_is_the_one_line_serve_prints(golive):
    env = {key: value for key, value in golive.env.items() if key != "BRIDGE_METRICS_TOKEN"}
    code, found = checks(env)
    assert code == 1 and list(found) == ["config"]
    assert found["config"]["detail"] == "BRIDGE_METRICS_TOKEN: required in production (/metrics would be public)"


def test_discovery_unreachable(golive):
    dead = f"https://127.0.0.1:{free_port()}/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"
    code, found = checks({**golive.env, "BRIDGE_PSC_DISCOVERY_URL": dead})
    assert code == 1 and failed(found) == ["psc.discovery"]
    assert "psc_unreachable" in found["psc.discovery"]["detail"] and found["psc.client"]["status"] == "skip"


def test_discovered_issuer_differs_from_the_configured_one(golive):
    # Reached as localhost, the emulator announces 127.0.0.1: the configuration names another issuer.
    url = golive.psc.discovery_url.replace("127.0.0.1", "localhost")
    code, found = checks({**golive.env, "BRIDGE_PSC_DISCOVERY_URL": url})
    assert code == 1 and "psc.discovery" in failed(found)
    assert f"issuer {golive.psc.issuer}, expected {url.split('/.well-known/')[0]}" in doctor(
        {**golive.env, "BRIDGE_PSC_DISCOVERY_URL": url}, "--lang", "en").stdout


def test_bridge_psc_issuer_is_the_configured_issuer(golive):
    env = {k: v for k, v in golive.env.items() if k != "BRIDGE_PSC_DISCOVERY_URL"}
    assert checks({**env, "BRIDGE_PSC_ISSUER": golive.psc.issuer})[1]["psc.discovery"]["status"] == "ok"
    code, found = checks({**env, "BRIDGE_PSC_ISSUER": golive.psc.issuer + "-bas"})
    assert code == 1 and "psc.discovery" in failed(found)


def test_discovered_endpoints_are_compared_with_the_configuration():
    from bridge.config import Settings
    from bridge.doctor.model import Context
    from bridge.doctor.psc import _compare

    issuer = "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet"
    meta = {"issuer": issuer, "authorization_endpoint": "https://wallet.esw.esante.gouv.fr/auth",
            "token_endpoint": f"{issuer}/protocol/openid-connect/token",
            "userinfo_endpoint": f"{issuer}/protocol/openid-connect/userinfo",
            "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
            "token_endpoint_auth_methods_supported": ["client_secret_basic"]}
    settings = Settings(env="production", psc_discovery_url=f"{issuer}/.well-known/wallet-openid-configuration")
    ctx = Context(lang="en", settings=settings, now=0, environ={})
    assert _compare(ctx, meta) == []
    assert _compare(ctx, {**meta, "userinfo_endpoint": "https://elsewhere.example/userinfo"}) == [
        "userinfo_endpoint https://elsewhere.example/userinfo is off the issuer's host"]
    assert _compare(ctx, {**meta, "jwks_uri": "http://auth.esw.esante.gouv.fr/certs"}) == [
        "jwks_uri http://auth.esw.esante.gouv.fr/certs is not https"]
    assert _compare(ctx, {k: v for k, v in meta.items() if k != "token_endpoint"}) == ["token_endpoint missing"]
    assert _compare(ctx, {**meta, "token_endpoint_auth_methods_supported": ["private_key_jwt"]}) == [
        "client_secret_basic not offered by PSC"]


def certificate(tmp: Path, *, days: tuple[int, int], issuer: x509.Name | None = None) -> tuple[Path, Path]:
    """A client certificate valid from now+days[0] to now+days[1], signed by a throw-away key (named `issuer`)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ca_name = issuer or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST CA DOCTOR")])
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CLIENT_ID)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days[0]))
            .not_valid_after(now + datetime.timedelta(days=days[1])).sign(ca_key, hashes.SHA256()))
    cert_path, key_path = tmp / "expired.crt", tmp / "expired.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_expired_mtls_certificate(golive):
    cert, key = certificate(golive.tmp, days=(-400, -1))
    code, found = checks({**golive.env, "BRIDGE_PSC_CLIENT_CERT": str(cert), "BRIDGE_PSC_CLIENT_KEY": str(key)})
    assert code == 1 and "psc.mtls" in failed(found)
    assert "expiré le" in found["psc.mtls"]["detail"] and "IGC-Santé" in found["psc.mtls"]["fix"]


def test_a_certificate_from_an_unknown_ca_is_a_warning_about_its_chain(golive):
    cert, key = certificate(golive.tmp, days=(-1, 300))
    code, found = checks({**golive.env, "BRIDGE_PSC_CLIENT_CERT": str(cert), "BRIDGE_PSC_CLIENT_KEY": str(key)})
    assert found["psc.mtls"]["status"] == "warn" and "CN=TEST CA DOCTOR inconnu" in found["psc.mtls"]["detail"]
    # The emulator's TLS layer, like PSC's, refuses a client certificate from a CA it does not trust.
    assert code == 1 and failed(found) == ["psc.discovery"] and "SSLError" in found["psc.discovery"]["detail"]
    assert "BRIDGE_PSC_CLIENT_CERT" in found["psc.discovery"]["fix"]


def test_a_certificate_not_signed_by_its_named_ca_has_a_broken_chain(golive):
    ca = x509.load_pem_x509_certificate(golive.tls.ca_cert.read_bytes())
    cert, key = certificate(golive.tmp, days=(-1, 300), issuer=ca.subject)
    code, found = checks({**golive.env, "BRIDGE_PSC_CLIENT_CERT": str(cert), "BRIDGE_PSC_CLIENT_KEY": str(key)})
    assert code == 1 and "psc.mtls" in failed(found) and "chaîne invalide" in found["psc.mtls"]["detail"]


def test_key_that_does_not_match_the_mtls_certificate(golive):
    code, found = checks({**golive.env, "BRIDGE_PSC_CLIENT_KEY": str(golive.tls.other_client_key)})
    assert code == 1 and "psc.mtls" in failed(found)
    assert "la clé ne correspond pas au certificat" in found["psc.mtls"]["detail"]


def test_an_unreadable_mtls_key_is_named(golive):
    code, found = checks({**golive.env, "BRIDGE_PSC_CLIENT_KEY": str(golive.tmp)})   # a directory
    assert code == 1 and "psc.mtls" in failed(found) and str(golive.tmp) in found["psc.mtls"]["detail"]


def test_a_valid_certificate_psc_does_not_know_is_refused_by_the_probe(golive):
    code, found = checks({**golive.env, "BRIDGE_PSC_CLIENT_CERT": str(golive.tls.other_client_cert),
                          "BRIDGE_PSC_CLIENT_KEY": str(golive.tls.other_client_key)})
    assert code == 1 and failed(found) == ["psc.client"] and found["psc.mtls"]["status"] == "ok"
    assert "invalid_client" in found["psc.client"]["detail"]


def test_store_unreachable(golive):
    code, found = checks({**golive.env, "BRIDGE_STORE_URL": f"redis://:pw-xyz@127.0.0.1:{free_port()}/0"})
    assert code == 1 and failed(found) == ["store"]
    assert "pw-xyz" not in json.dumps(found) and "Redis" in found["store"]["fix"]


def test_policy_typo(golive):
    dpi = Path(golive.env["BRIDGE_POLICIES_DIR"]) / "dpi.yaml"
    dpi.write_text(dpi.read_text().replace("idle_timeout:", "idle_timout:"))
    code, found = checks(golive.env)
    assert code == 1 and failed(found) == ["policies"]
    assert "idle_timout" in found["policies"]["detail"] and "bridge policy check" in found["policies"]["fix"]


def test_missing_trust_dir_when_a_service_offers_cps_pin(golive):
    env = {k: v for k, v in golive.env.items() if k not in ("BRIDGE_TRUST_DIR", "BRIDGE_CRL_DIR")}
    code, found = checks(env)
    assert code == 1 and failed(found) == ["trust"]
    assert "teleservice-historique" in found["trust"]["detail"] and "BRIDGE_TRUST_DIR" in found["trust"]["fix"]


def test_stale_crl(golive, test_pki):
    stale = test_pki.crl_dir(golive.tmp / "crl-stale", stale=True, include_legacy=False)
    code, found = checks({**golive.env, "BRIDGE_CRL_DIR": str(stale)})
    assert code == 1 and failed(found) == ["crl"] and "périmée" in found["crl"]["detail"]


def test_crls_due_within_a_day_are_a_warning(golive, test_pki):
    from bridge.sandbox.testpki import TestPki

    # Same keys (cached by the session PKI), dates six and a half days back: the CRLs expire in 12 hours.
    anchor = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=6, hours=12)
    older = TestPki("pytest", test_pki.directory, anchor=anchor)
    code, found = checks({**golive.env, "BRIDGE_TRUST_DIR": str(older.trust_dir(golive.tmp / "trust-older")),
                          "BRIDGE_CRL_DIR": str(older.crl_dir(golive.tmp / "crl-older", include_legacy=False))})
    assert code == 0 and found["crl"]["status"] == "warn" and found["trust"]["status"] == "ok"


def test_http_card_agent_origin_in_production(golive):
    code, found = checks(golive.env, "--agent-origin", PUBLIC, "--agent-origin", "http://bridge.hopital.test")
    assert code == 1 and failed(found) == ["agent"] and "http://bridge.hopital.test" in found["agent"]["detail"]


def test_agent_origins_without_the_bridge_origin(golive):
    code, found = checks(golive.env, "--agent-origin", "https://autre.hopital.test")
    assert code == 1 and failed(found) == ["agent"] and f"--allow-origin {PUBLIC}" in found["agent"]["fix"]


def test_key_rotation_state_and_loose_permissions(golive):
    ring = KeyRing(golive.tmp / "keys")
    ring.rotate()
    code, found = checks(golive.env)
    assert code == 0 and found["keys"]["status"] == "ok" and "rotation en cours" in found["keys"]["detail"]
    (golive.tmp / "keys" / "next.json").chmod(0o644)
    code, found = checks(golive.env)
    assert code == 0 and found["keys"]["status"] == "warn" and "next.json" in found["keys"]["detail"]


def test_missing_keys(golive):
    (golive.tmp / "empty-keys").mkdir()
    code, found = checks({**golive.env, "BRIDGE_KEYS_DIR": str(golive.tmp / "empty-keys")})
    assert code == 1 and failed(found) == ["keys"] and "bridge keys rotate" in found["keys"]["fix"]
