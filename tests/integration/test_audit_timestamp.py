"""RFC 3161 timestamps of signed checkpoints (bridge/audit/timestamp.py) against a local TSA stand-in: an HTTP
server answering with `openssl ts -reply` and a TEST TSA certificate (extendedKeyUsage timeStamping)."""
from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.audit import Audit
from bridge.audit.checkpoint import Checkpoints, load_or_create_key
from bridge.cli import main

TSA_CONFIG = """\
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
certs = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def make_tsa(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(directory / "tsa.key"), "-out", str(directory / "tsa.pem"), "-days", "30",
                    "-subj", f"/CN={name}", "-addext", "extendedKeyUsage=critical,timeStamping",
                    "-addext", "keyUsage=critical,digitalSignature"], check=True, capture_output=True, timeout=60)
    (directory / "serial").write_text("01\n")
    (directory / "tsa.cnf").write_text(TSA_CONFIG.format(dir=directory))
    return directory


@pytest.fixture
def tsa(tmp_path):
    """The stand-in: POST a TimeStampReq, get a TimeStampResp signed by the TEST TSA."""
    home = make_tsa(tmp_path / "tsa", "Test TSA")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            query = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                (home / "q.tsq").write_bytes(query)
                subprocess.run(["openssl", "ts", "-reply", "-config", str(home / "tsa.cnf"), "-queryfile",
                                str(home / "q.tsq"), "-out", str(home / "r.tsr")], check=True, capture_output=True,
                               timeout=60)
                body = (home / "r.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa", home / "tsa.pem"
    server.shutdown()
    server.server_close()


def trail(tmp_path: Path, lines: int) -> Path:
    path = tmp_path / "audit" / "audit.jsonl"
    path.parent.mkdir(exist_ok=True)
    audit = Audit(path, secret_key="k" * 32, pseudonymize=False, required=True,
                  checkpoints=Checkpoints(load_or_create_key(tmp_path / "audit-key.json"), lines=2, seconds=0))
    for n in range(lines):
        audit.record("logout", outcome="info", client="dpi-web", n=n)
    return path


def run(*args, env):
    return CliRunner().invoke(main, ["audit", *args], env=env)


def test_checkpoints_are_timestamped_and_verified_and_a_rewrite_is_caught(tmp_path, tsa):
    url, ca = tsa
    path = trail(tmp_path, 2)   # lines 1, 2, checkpoint 3
    env = {"BRIDGE_AUDIT_PATH": str(path), "BRIDGE_AUDIT_TSA_URL": url, "BRIDGE_AUDIT_TSA_CA": str(ca)}
    first = run("timestamp", env=env)
    assert first.exit_code == 0, first.output
    assert "point de contrôle seq 3 horodaté : 20" in first.stdout
    assert (path.parent / "audit.jsonl.timestamps" / "3.tsr").is_file()
    assert run("timestamp", env=env).stdout.strip() == "aucun nouveau point de contrôle à horodater"
    trail(tmp_path, 2)   # two more lines: checkpoint 6
    assert "seq 6 horodaté" in run("timestamp", env=env).stdout

    verified = run("verify", "--tsa-ca", str(ca), env={"BRIDGE_AUDIT_PATH": str(path)})
    assert verified.exit_code == 0, verified.output
    assert "point de contrôle seq 3 horodaté par la TSA le 20" in verified.stdout
    assert "point de contrôle seq 6 horodaté par la TSA le" in verified.stdout

    # Another TSA's CA does not vouch for these tokens.
    other = make_tsa(tmp_path / "other", "Other TSA") / "tsa.pem"
    refused = run("verify", "--tsa-ca", str(other), env={"BRIDGE_AUDIT_PATH": str(path)})
    assert refused.exit_code == 1 and "jeton d'horodatage du point de contrôle seq 3 invalide" in refused.stderr

    # The trail rewritten with the audit key (checkpoints re-signed): the TSA's token no longer matches seq 3.
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    path.unlink()
    (path.parent / "audit.jsonl.head").unlink()
    (path.parent / "audit.jsonl.checkpoint").unlink()
    audit = Audit(path, secret_key="k" * 32, pseudonymize=False, required=True,
                  checkpoints=Checkpoints(load_or_create_key(tmp_path / "audit-key.json"), lines=2, seconds=0))
    for row in rows:
        if row["event"] != "audit_checkpoint":
            audit.record("logout", outcome="info", client="dpi-web", n=row["details"]["n"] + 100)
    rewritten = run("verify", "--tsa-ca", str(ca), env={"BRIDGE_AUDIT_PATH": str(path),
                                                        "BRIDGE_AUDIT_KEY_FILE": str(tmp_path / "audit-key.json")})
    assert "signé(s) vérifié(s)" in rewritten.stdout   # the chain and the signatures alone accept it ...
    assert rewritten.exit_code == 1 and "seq 3 invalide" in rewritten.stderr   # ... the TSA's token does not


def test_a_tsa_down_or_lying_is_refused_and_nothing_is_stored(tmp_path, tsa):
    url, ca = tsa
    path = trail(tmp_path, 2)
    down = run("timestamp", env={"BRIDGE_AUDIT_PATH": str(path), "BRIDGE_AUDIT_TSA_URL": "http://127.0.0.1:9/tsa",
                                 "BRIDGE_AUDIT_TSA_CA": str(ca)})
    assert down.exit_code == 1 and "bridge audit timestamp : TSA http://127.0.0.1:9/tsa" in down.stderr
    other = make_tsa(tmp_path / "other", "Other TSA") / "tsa.pem"
    lying = run("timestamp", env={"BRIDGE_AUDIT_PATH": str(path), "BRIDGE_AUDIT_TSA_URL": url,
                                  "BRIDGE_AUDIT_TSA_CA": str(other)})
    assert lying.exit_code == 1 and "the reply does not verify" in lying.stderr
    assert not (path.parent / "audit.jsonl.timestamps").exists() or \
        not list((path.parent / "audit.jsonl.timestamps").iterdir())
    assert run("timestamp", env={"BRIDGE_AUDIT_PATH": str(path)}).exit_code == 2   # no TSA given


def test_the_evidence_bundle_carries_the_tokens_and_verifies_them_with_the_tsa_ca(tmp_path, tsa):
    from datetime import date

    from bridge.attest.bundle import write_bundle
    from bridge.attest.model import AuditStats, Report
    from bridge.clock import Clock
    from bridge.config import Settings
    from bridge.policy import paris_date

    url, ca = tsa
    path = trail(tmp_path, 4)   # checkpoints 3 and 6
    env = {"BRIDGE_AUDIT_PATH": str(path), "BRIDGE_AUDIT_TSA_URL": url, "BRIDGE_AUDIT_TSA_CA": str(ca)}
    assert run("timestamp", env=env).exit_code == 0   # stamps 6 (the newest)
    today = paris_date(Clock().now())
    report = Report(lang="fr", generated_at=Clock().now(), today=today, days_to_attestation_deadline=0,
                    days_to_reserves_deadline=0, attestation_deadline=date(2026, 12, 31),
                    reserves_last_day=date(2028, 12, 31), policies_dir="policies", services=(),
                    stats=AuditStats(files=(), period_from=today, period_to=today), global_checks=(),
                    self_checks_run=False)
    manifest = write_bundle(tmp_path / "b.zip", report=report, html="<p>r</p>", pdf=b"%PDF-", settings=Settings(),
                            policies_dir=Path("policies"), audit_files=[path],
                            key=load_or_create_key(tmp_path / "audit-key.json"))
    assert manifest["audit_excerpt"]["timestamps"] == [6] and "audit/timestamps/6.tsr" in manifest["files"]

    def verify(*args):
        return CliRunner().invoke(main, ["attest", "verify", str(tmp_path / "b.zip"), *map(str, args)])
    stamped = verify("--tsa-ca", ca)
    assert stamped.exit_code == 0, stamped.output
    assert "1 jeton(s) d'horodatage RFC 3161 vérifié(s) avec --tsa-ca : le point de contrôle seq 6 existait le 20" \
        in stamped.stdout
    assert "n'ont pas été vérifiés : donnez --tsa-ca" in verify().stdout
    other = make_tsa(tmp_path / "other", "Other TSA") / "tsa.pem"
    refused = verify("--tsa-ca", other)
    assert refused.exit_code == 8
    assert "jeton d'horodatage RFC 3161 du point de contrôle seq 6 invalide" in refused.stderr
