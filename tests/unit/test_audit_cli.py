"""`bridge audit verify`: exit 0 and "N lignes intactes", or exit 1 and the first error with file and line."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.audit import Audit, rotated_files
from bridge.audit.chain import head_path
from bridge.cli import main
from bridge.clock import Clock


def write_chain(path: Path, count: int, max_bytes: int = 50_000_000) -> None:
    audit = Audit(path, secret_key="k" * 40, pseudonymize=True, required=True, clock=Clock(), max_bytes=max_bytes)
    for i in range(count):
        audit.record("token_issued", outcome="success", client="app", national_id="810012345678", n=i)


def run(*args, env=None):
    return CliRunner().invoke(main, ["audit", "verify", *args], env={"BRIDGE_AUDIT_PATH": None, **(env or {})})


@pytest.fixture
def trail(tmp_path) -> Path:
    path = tmp_path / "audit.jsonl"
    write_chain(path, 30, max_bytes=2500)
    assert len(rotated_files(path)) >= 2
    return path


def test_default_verifies_the_configured_file_and_its_rotated_siblings(trail):
    result = run(env={"BRIDGE_AUDIT_PATH": str(trail)})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "30 lignes intactes"
    assert "dernière ligne : seq 30, sha256 " in result.output


def test_english_on_request(trail):
    result = run("--lang", "en", env={"BRIDGE_AUDIT_PATH": str(trail)})
    assert result.exit_code == 0 and result.output.startswith("30 lines intact\n")


def test_a_tampered_line_exits_1_with_file_and_line_number(trail):
    oldest = rotated_files(trail)[0]
    lines = oldest.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"success"', b'"failure"')
    oldest.write_bytes(b"".join(lines))
    result = run(env={"BRIDGE_AUDIT_PATH": str(trail)})
    assert result.exit_code == 1
    assert f"{oldest}, ligne 3 : prev ne correspond pas" in result.output
    english = run("--lang", "en", env={"BRIDGE_AUDIT_PATH": str(trail)})
    assert english.exit_code == 1 and f"{oldest}, line 3: prev does not match" in english.output


def test_a_missing_rotated_file_exits_1_naming_the_next_file(trail):
    rotated = rotated_files(trail)
    rotated[0].unlink()
    result = run(env={"BRIDGE_AUDIT_PATH": str(trail)})
    assert result.exit_code == 1
    assert f"{rotated[1]}, ligne 1 : la chaîne ne commence pas ici" in result.output
    assert run("--partial", env={"BRIDGE_AUDIT_PATH": str(trail)}).exit_code == 0


def test_a_deleted_last_line_is_caught_by_the_head(trail):
    trail.write_bytes(b"".join(trail.read_bytes().splitlines(keepends=True)[:-1]))
    result = run(env={"BRIDGE_AUDIT_PATH": str(trail)})
    assert result.exit_code == 1 and "audit.jsonl.head scelle la seq 30, la chaîne finit à la seq 29" in result.output


def test_a_deleted_head_is_reported_for_the_live_trail(trail):
    head_path(trail).unlink()
    result = run(env={"BRIDGE_AUDIT_PATH": str(trail)})
    assert result.exit_code == 1 and "absente ou illisible" in result.output


def test_explicit_files_in_order(trail):
    files = [str(p) for p in rotated_files(trail)] + [str(trail)]
    assert run(*files).exit_code == 0
    swapped = run(*reversed(files))
    assert swapped.exit_code == 1 and "ligne 1" in swapped.output


def test_explicit_rotated_files_alone_verify_without_a_head(trail):
    result = run(*[str(p) for p in rotated_files(trail)])
    assert result.exit_code == 0 and "lignes intactes" in result.output


def test_a_missing_file_exits_1(tmp_path):
    result = run(str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 1 and "fichier introuvable" in result.output


def test_nothing_configured_exits_1_when_no_file_exists(tmp_path):
    result = run(env={"BRIDGE_AUDIT_PATH": str(tmp_path / "audit.jsonl")})
    assert result.exit_code == 1 and "aucun fichier d'audit" in result.output


def test_no_files_and_no_setting_is_a_usage_error():
    result = run()
    assert result.exit_code == 2 and "BRIDGE_AUDIT_PATH" in result.output


def test_stream_mode_needs_a_redis_url():
    result = run("--stream", "audit", env={"BRIDGE_STORE_URL": "memory://"})
    assert result.exit_code == 2 and "redis://" in result.output
