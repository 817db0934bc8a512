"""The evidence bundle (`bridge attest --bundle`, `bridge attest verify`) and `bridge attest --demonstrate`: one real
run of the command with the live self-checks on a test configuration full of secrets, then every way an auditor's
verification must fail (tampered file, wrong key, added or removed file, missing signature, broken audit chain)."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.audit import Audit
from bridge.audit.checkpoint import Checkpoints, load_or_create_key, public_jwk
from bridge.cli import main

SECRETS = {"BRIDGE_SECRET_KEY": "bridge-secret-key-0123456789abcdef0123456789",
           "BRIDGE_PSC_CLIENT_SECRET": "psc-client-secret-7f3e9a",
           "BRIDGE_METRICS_TOKEN": "metrics-token-5c2d81",
           "STORE_PASSWORD": "store-password-91b0c4"}


def write_trail(path: Path, key_file: Path, lines: int = 7) -> None:
    """Today's logins, a signed checkpoint every 3 lines (the last line is after the last checkpoint)."""
    audit = Audit(path, secret_key=SECRETS["BRIDGE_SECRET_KEY"], pseudonymize=True, required=True,
                  checkpoints=Checkpoints(load_or_create_key(key_file), lines=3, seconds=0))
    for n in range(lines):
        audit.record("login_succeeded", outcome="success", service="dpi", client="dpi-web",
                     national_id=f"81001234567{n}", mie="psc-card")


def environment(base: Path) -> dict[str, str]:
    return {"BRIDGE_ENV": "development", "BRIDGE_POLICIES_DIR": str(base / "policies"),
            "BRIDGE_KEYS_DIR": str(base / "keys"), "BRIDGE_AUDIT_PATH": str(base / "audit.jsonl"),
            "BRIDGE_AUDIT_KEY_FILE": str(base / "audit-key.json"), "BRIDGE_ATTEST_DIR": str(base / "attest"),
            "BRIDGE_SECRET_KEY": SECRETS["BRIDGE_SECRET_KEY"],
            "BRIDGE_PSC_CLIENT_SECRET": SECRETS["BRIDGE_PSC_CLIENT_SECRET"],
            "BRIDGE_METRICS_TOKEN": SECRETS["BRIDGE_METRICS_TOKEN"],
            "BRIDGE_STORE_URL": f"redis://:{SECRETS['STORE_PASSWORD']}@127.0.0.1:6399/0"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("bundle")
    shutil.copytree("policies", base / "policies")
    write_trail(base / "audit.jsonl", base / "audit-key.json")
    result = CliRunner().invoke(main, ["attest", "--service", "dpi", "--out", str(base / "report.html"),
                                       "--bundle", str(base / "evidence.zip"), "--demonstrate"],
                                env=environment(base))
    assert result.exit_code == 0, result.output + result.stderr
    return base, result.stdout


def verify(*args: str):
    return CliRunner().invoke(main, ["attest", "verify", *map(str, args)])


def public_key(base: Path) -> Path:
    path = base / "audit-public.json"
    path.write_text(json.dumps(public_jwk(load_or_create_key(base / "audit-key.json"))))
    return path


def rewrite(source: Path, target: Path, change) -> Path:
    """A copy of the bundle with `change(name, data)` applied to every entry (None drops it)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info.filename, data)
    return target


def test_the_bundle_holds_the_evidence_and_verifies_offline(run):
    base, _ = run
    with zipfile.ZipFile(base / "evidence.zip") as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        transcript = json.loads(archive.read("self-checks/transcript.json"))
        excerpt = archive.read("audit/excerpt.jsonl").decode().splitlines()
        summary = json.loads(archive.read("config/summary.json"))
        assert archive.read("report.pdf").startswith(b"%PDF")
    policies = sorted(p.name for p in (base / "policies").glob("*.yaml"))
    assert {f"policies/{p}" for p in policies} <= names and len(manifest["policies"]) == len(policies)
    assert {"report.html", "report.pdf", "audit-key.jwk.json", "manifest.jws", "README.txt"} <= names
    assert set(manifest["files"]) == names - {"manifest.json", "manifest.jws"}
    # Every self-check of the service, with its steps and the audit lines it produced.
    ids = [c["id"] for c in transcript]
    assert ids[0] == "single_factor" and ids[-1] == "legacy_card"
    single = transcript[0]
    assert single["passed"] is True and single["steps"] and "login_denied" in [x["event"] for x in
                                                                              single["audit_lines"]]
    # The whole trail of the period: 7 lines and 2 checkpoints, the last line uncovered.
    assert [json.loads(x)["seq"] for x in excerpt] == list(range(1, 10))
    assert manifest["audit_excerpt"] == {"file": "audit/excerpt.jsonl", "lines": 9, "first_seq": 1, "last_seq": 9,
                                         "checkpoints": 2, "timestamps": []}
    assert summary["bridge_version"] and summary["settings"]["BRIDGE_SECRET_KEY"] == "(défini / set)"
    assert summary["settings"]["BRIDGE_STORE_URL"] == "redis://127.0.0.1:6399/0"
    # The server's public key, and the bundle's own, both verify it.
    kid = load_or_create_key(base / "audit-key.json").thumbprint()
    assert manifest["audit_key"]["kid"] == kid
    for args in ((), ("--public-key", public_key(base))):
        result = verify(base / "evidence.zip", *args)
        assert result.exit_code == 0, result.output
        assert "Dossier de preuves vérifié" in result.stdout and "Ce qu'elle ne prouve pas" in result.stdout
        assert "2 point(s) de contrôle signé(s) à l'écriture vérifié(s), dernière ligne signée : seq 7" \
            in result.stdout
    assert "comparez ce « kid » avec celui de `bridge audit key --public`" in verify(base / "evidence.zip").stdout
    assert kid in verify(base / "evidence.zip").stdout
    english = verify(base / "evidence.zip", "--lang", "en")
    assert english.exit_code == 0 and "What it does not prove" in english.stdout
    # The run stored for the admin console carries the same bundle.
    (run_id,) = [p.name for p in (base / "attest").iterdir()]
    assert (base / "attest" / run_id / "bundle.zip").read_bytes() == (base / "evidence.zip").read_bytes()


def test_no_secret_of_the_configuration_is_anywhere_in_the_bundle(run, tmp_path):
    base, _ = run
    with zipfile.ZipFile(base / "evidence.zip") as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    (tmp_path / "report.pdf").write_bytes(contents["report.pdf"])
    pdf_text = subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, check=True,
                              timeout=60).stdout
    for name, secret in SECRETS.items():
        for entry, data in {**contents, "report.pdf (text)": pdf_text}.items():
            assert secret.encode() not in data, (name, entry)


def test_each_tampering_is_detected_with_its_own_exit_code(run, tmp_path):
    base, _ = run
    bundle = base / "evidence.zip"

    def changed(name, data):
        return data.replace(b"allowed_mie", b"allowed_MIE") if name.startswith("policies/dpi") else data
    tampered = verify(rewrite(bundle, tmp_path / "tampered.zip", changed))
    assert tampered.exit_code == 5 and "fichier modifié : policies/dpi" in tampered.stderr

    extra = rewrite(bundle, tmp_path / "extra.zip", lambda n, d: d)
    with zipfile.ZipFile(extra, "a") as archive:
        archive.writestr("policies/zz-backdoor.yaml", b"service: zz\n")
    added = verify(extra)
    assert added.exit_code == 6 and "fichier ajouté : policies/zz-backdoor.yaml" in added.stderr

    removed = verify(rewrite(bundle, tmp_path / "removed.zip", lambda n, d: None if n == "report.pdf" else d))
    assert removed.exit_code == 6 and "fichier manquant : report.pdf" in removed.stderr

    unsigned = verify(rewrite(bundle, tmp_path / "unsigned.zip", lambda n, d: None if n == "manifest.jws" else d))
    assert unsigned.exit_code == 3 and "signature absente" in unsigned.stderr

    def forged(name, data):
        return data.replace(b'"lines": 9', b'"lines": 8') if name == "manifest.json" else data
    manifest = verify(rewrite(bundle, tmp_path / "manifest.zip", forged))
    assert manifest.exit_code == 5 and "manifest.json modifié" in manifest.stderr

    other = tmp_path / "other-key.json"
    other.write_text(json.dumps(public_jwk(load_or_create_key(tmp_path / "other-private.json"))))
    wrong = verify(bundle, "--public-key", other)
    assert wrong.exit_code == 4 and "mauvaise clé" in wrong.stderr

    # Someone re-signs the bundle with their own key (and ships its public half): the server's key refuses it.
    from joserfc import jws

    intruder = load_or_create_key(tmp_path / "intruder.json")

    def resigned(name, data):
        if name == "audit-key.jwk.json":
            return json.dumps(public_jwk(intruder)).encode()
        return data
    copy = rewrite(bundle, tmp_path / "resigned.zip", resigned)
    with zipfile.ZipFile(copy) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    listed = json.loads(entries["manifest.json"])
    listed["files"]["audit-key.jwk.json"] = hashlib.sha256(entries["audit-key.jwk.json"]).hexdigest()
    listed["audit_key"]["kid"] = intruder.thumbprint()
    entries["manifest.json"] = json.dumps(listed).encode()
    entries["manifest.jws"] = jws.serialize_compact({"alg": "ES256", "kid": intruder.thumbprint()},
                                                    entries["manifest.json"], intruder, algorithms=["ES256"]).encode()
    with zipfile.ZipFile(copy, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    alone = verify(copy)   # alone, it checks: the kid printed is the intruder's, and the checkpoints fail
    assert alone.exit_code == 7 and "extrait d'audit invalide" in alone.stderr
    assert verify(copy, "--public-key", public_key(base)).exit_code == 4

    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip")
    assert verify(garbage).exit_code == 2


def test_a_rewritten_trail_is_refused_by_the_checkpoints(tmp_path):
    """The bundle of a trail someone rewrote and re-chained (without the audit key): signed, but step 5 fails."""
    from bridge.attest.bundle import write_bundle
    from bridge.attest.model import AuditStats, Report
    from bridge.audit.chain import GENESIS, encode_line, line_hash
    from bridge.config import Settings

    key_file = tmp_path / "audit-key.json"
    write_trail(tmp_path / "audit.jsonl", key_file)
    rows, prev, out = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()], GENESIS, []
    rows[1]["outcome"] = "denied"   # one line changed, every later line re-chained
    for row in rows:
        row["prev"] = prev
        line = encode_line(row)
        prev = line_hash(line)
        out.append(line)
    (tmp_path / "audit.jsonl").write_bytes(b"\n".join(out) + b"\n")
    from datetime import date

    from bridge.clock import Clock
    from bridge.policy import paris_date

    today = paris_date(Clock().now())
    report = Report(lang="fr", generated_at=Clock().now(), today=today, days_to_attestation_deadline=0,
                    days_to_reserves_deadline=0, attestation_deadline=date(2026, 12, 31),
                    reserves_last_day=date(2027, 6, 30), policies_dir="policies", services=(),
                    stats=AuditStats(files=(), period_from=today, period_to=today), global_checks=(),
                    self_checks_run=False)
    write_bundle(tmp_path / "b.zip", report=report, html="<p>r</p>", pdf=b"%PDF-", settings=Settings(),
                 policies_dir=Path("policies"), audit_files=[tmp_path / "audit.jsonl"],
                 key=load_or_create_key(key_file))
    result = verify(tmp_path / "b.zip")
    assert result.exit_code == 7 and "fichier réécrit et rechaîné" in result.stderr


def test_demonstrate_tells_each_self_check_in_french_in_order(run):
    _, out = run
    starts = [out.index(f"Auto-test {n} — ") for n in range(1, 6) if f"Auto-test {n} — " in out]
    assert starts == sorted(starts) and len(starts) >= 4
    first = out[starts[0]:starts[1]]
    assert first.startswith("Auto-test 1 — [dpi] single_factor")
    for words in ("Ce qui est essayé : Pro Santé Connect renvoie une connexion par mot de passe seul",
                  "Attendu : refus (HTTP 403", "Étapes :", "    1. /authorize → HTTP 302", "Lignes d'audit écrites :",
                  "login_denied (denied, single_factor", "Constaté : HTTP 403", "Verdict : CONFORME"):
        assert words in first, words
    assert first.index("Ce qui est essayé") < first.index("Attendu") < first.index("Étapes") \
        < first.index("Constaté") < first.index("Verdict")
    assert "[tous services] legacy_card" in out[starts[-1]:]
    assert "conforme(s)" in out and "dossier de preuves signé par la clé d'audit" in out


def test_the_admin_console_offers_the_latest_bundle_to_admins_only_audited(tmp_path, redis_url, psc_emulator_factory,
                                                                         receiver, monkeypatch):
    from dataclasses import replace

    import requests

    from tests.support.console import console_login, start_stack
    from tests.support.html import parse

    stack = start_stack(tmp_path, redis_url, psc_emulator_factory, receiver.url)
    attest_dir = tmp_path / "attest"
    monkeypatch.setattr(stack.bridge, "settings", replace(stack.bridge.settings, attest_dir=attest_dir))
    env = {"BRIDGE_POLICIES_DIR": str(stack.policies_dir), "BRIDGE_KEYS_DIR": str(tmp_path / "cli-keys"),
           "BRIDGE_ENV": "development", "BRIDGE_ATTEST_DIR": str(attest_dir),
           "BRIDGE_AUDIT_PATH": str(stack.bridge.settings.audit_path),
           "BRIDGE_AUDIT_KEY_FILE": str(tmp_path / "audit-key.json")}
    stored = CliRunner().invoke(main, ["attest", "--no-self-checks", "--out", str(tmp_path / "r.html"),
                                       "--bundle", str(tmp_path / "b.zip")], env=env)
    assert stored.exit_code == 0, stored.output + stored.stderr
    admin = requests.Session()
    console_login(admin, stack.url)
    latest = parse(admin.get(f"{stack.url}/admin/report", timeout=10).text).find(id="latest-run")
    link = latest.find("a", data_download="zip")
    assert link.text == "Dossier de preuves signé (ZIP)"
    served = admin.get(f"{stack.url}{link.attr('href')}", timeout=10)
    assert served.status_code == 200 and served.content == (tmp_path / "b.zip").read_bytes()
    assert served.headers["Content-Type"] == "application/zip" and "attachment" in served.headers["Content-Disposition"]
    lines = [json.loads(x) for x in stack.bridge.settings.audit_path.read_text().splitlines()]
    assert lines[-1]["event"] == "admin_action" and lines[-1]["details"]["format"] == "zip"
    outsider = requests.get(f"{stack.url}{link.attr('href')}", allow_redirects=False, timeout=10)
    assert outsider.status_code == 302 and outsider.headers["Location"].endswith("/admin/login")
