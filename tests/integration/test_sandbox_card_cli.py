"""`bridge sandbox card` serves a card that the card layer reads like any other."""
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509

from bridge.card.certificate import card_type
from bridge.card.profiles import open_card
from bridge.cli import main
from bridge.sandbox.testpki import TestPki
from tests.support.pcsc import wait_card_state

ROOT = Path(__file__).resolve().parents[2]


def test_commands_are_registered():
    result = CliRunner().invoke(main, ["--help"])
    assert "card-agent" in result.output and "sandbox" in result.output
    assert "--holder" in CliRunner().invoke(main, ["sandbox", "card", "--help"]).output


def test_sandbox_card_command(pcscd, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "sandbox", "card", "--holder", "899700000042", "--type", "CPE",
         "--port", str(pcscd.port), "--seed", "cli-test", "--pki-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[-1].strip() == "inserted", lines
        assert f"BRIDGE_TRUST_DIR={tmp_path / 'trust'}" in lines[1]
        wait_card_state(pcscd.reader, True)
        expected = TestPki("cli-test", tmp_path).card("899700000042", "CPE")
        with open_card() as card:
            served = x509.load_der_x509_certificate(card.read_certificate())
            # same seed => same key (dates follow the day the PKI was made, so compare what does not move)
            assert served.public_key().public_numbers() == expected.certificate.public_key().public_numbers()
            assert served.subject == expected.certificate.subject
            assert card_type(served) == "CPE"
            assert card.serial == expected.serial
            card.verify_pin("1234")
    finally:
        process.terminate()
        process.wait(10)
    wait_card_state(pcscd.reader, False)
