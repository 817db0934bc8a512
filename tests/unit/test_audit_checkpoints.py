"""Signed audit checkpoints (issue 19): written every N lines or T seconds, verified with the audit public key;
a modified line, a re-chained copy (checkpoints stripped or re-signed with another key) and the unsigned tail
are reported. Real files in tmp_path; a fake clock for the time trigger."""
import json
import os
import stat
from pathlib import Path

from click.testing import CliRunner

from bridge.audit import Audit
from bridge.audit.chain import GENESIS, encode_head, encode_line, head_path, line_hash, verify_chain
from bridge.audit.checkpoint import Checkpoints, load_key, load_or_create_key, state_path
from bridge.cli import main
from bridge.config import ConfigError, load_settings


class FakeClock:
    def __init__(self, now: float = 1_780_000_000.0):
        self.t = now

    def now(self) -> float:
        return self.t


def writer(tmp_path: Path, *, lines=5, seconds=0, clock=None, key_name="audit.key") -> Audit:
    key = load_or_create_key(tmp_path / key_name)
    return Audit(tmp_path / "audit.jsonl", secret_key="k" * 40, pseudonymize=True, required=True,
                 clock=clock or FakeClock(), checkpoints=Checkpoints(key, lines=lines, seconds=seconds))


def record(audit: Audit, count: int) -> None:
    for i in range(count):
        audit.record("token_issued", outcome="success", client="app", national_id="810012345678", n=i)


def events(path: Path) -> list[dict]:
    return [json.loads(raw) for raw in path.read_bytes().splitlines()]


def check(tmp_path: Path, key_file="audit.key", **kwargs):
    path = tmp_path / "audit.jsonl"
    return verify_chain([path], head=head_path(path), key=load_key(tmp_path / key_file), **kwargs)


def test_a_checkpoint_every_n_lines_signs_the_line_before_it(tmp_path):
    record(writer(tmp_path, lines=5), 12)
    lines = events(tmp_path / "audit.jsonl")
    marks = [line["seq"] for line in lines if line["event"] == "audit_checkpoint"]
    assert marks == [6, 12]   # after 5 events, then after 5 more (the checkpoint line counts in the chain)
    result = check(tmp_path)
    assert result.ok and result.checkpoints == 2 and result.signed_seq == 11 and result.last_seq == 14


def test_a_checkpoint_after_t_seconds_on_the_fake_clock(tmp_path):
    clock = FakeClock()
    audit = writer(tmp_path, lines=0, seconds=300, clock=clock)
    record(audit, 1)                      # no state yet: the first line is checkpointed at once
    clock.t += 299
    record(audit, 1)
    clock.t += 1
    record(audit, 1)
    marks = [line["seq"] for line in events(tmp_path / "audit.jsonl") if line["event"] == "audit_checkpoint"]
    assert marks == [2, 5]
    assert check(tmp_path).ok


def test_a_modified_line_is_named_as_a_chain_break(tmp_path):
    record(writer(tmp_path), 8)
    path = tmp_path / "audit.jsonl"
    raw = path.read_bytes().splitlines(keepends=True)
    raw[2] = raw[2].replace(b'"n":2', b'"n":9')
    path.write_bytes(b"".join(raw))
    result = check(tmp_path)
    assert not result.ok and result.code == "prev_mismatch" and result.line_no == 4


def rechain(path: Path, lines: list[dict]) -> None:
    """What someone who can write the files (not read the key) does: rebuild a consistent chain and head."""
    prev, out = GENESIS, []
    for seq, line in enumerate(lines, start=1):
        data = encode_line({**line, "seq": seq, "prev": prev})
        out.append(data)
        prev = line_hash(data)
    path.write_bytes(b"".join(data + b"\n" for data in out))
    head_path(path).write_bytes(encode_head(len(out), prev))


def test_a_rechained_copy_without_checkpoints_is_refused(tmp_path):
    record(writer(tmp_path), 8)
    path = tmp_path / "audit.jsonl"
    kept = [line for line in events(path) if line["event"] != "audit_checkpoint" and line["details"]["n"] != 3]
    rechain(path, kept)
    assert verify_chain([path], head=head_path(path)).ok          # the chain alone is fooled
    result = check(tmp_path)
    assert not result.ok and result.code == "cp_none"
    assert "no signed checkpoint" in result.first_error


def test_a_rechained_copy_resigned_with_another_key_is_refused(tmp_path):
    record(writer(tmp_path), 8)
    path = tmp_path / "audit.jsonl"
    path.unlink()
    head_path(path).unlink()
    state_path(path).unlink()
    record(writer(tmp_path, key_name="forged.key"), 8)          # a whole new, well-formed, signed trail
    assert check(tmp_path, key_file="forged.key").ok
    result = check(tmp_path)
    assert not result.ok and result.code == "cp_bad_signature" and result.line_no == 6
    assert "does not verify with the audit key" in result.first_error


def test_a_rechained_copy_keeping_the_old_checkpoint_lines_is_refused(tmp_path):
    record(writer(tmp_path), 8)
    path = tmp_path / "audit.jsonl"
    kept = [line for line in events(path) if line["event"] == "audit_checkpoint" or line["details"]["n"] != 1]
    rechain(path, kept)
    result = check(tmp_path)
    assert not result.ok and result.code == "cp_mismatch"


def test_lines_after_the_last_checkpoint_are_counted_as_unsigned(tmp_path):
    record(writer(tmp_path), 8)   # checkpoint at seq 6 signs seq 5; seq 7..9 follow
    result = check(tmp_path)
    assert result.ok and result.signed_seq == 5 and result.last_seq - result.signed_seq == 4


def test_missing_key_file_is_generated_0600(tmp_path):
    key_file = tmp_path / "keys" / "audit.key"
    key = load_or_create_key(key_file)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert load_or_create_key(key_file).thumbprint() == key.thumbprint()   # kept, not regenerated
    assert [p.name for p in key_file.parent.iterdir()] == ["audit.key"]


def test_a_caller_cannot_record_a_checkpoint(tmp_path):
    audit = writer(tmp_path)
    try:
        audit.record("audit_checkpoint", outcome="info")
    except ValueError as exc:
        assert "audit writer itself" in str(exc)
    else:
        raise AssertionError("audit_checkpoint accepted from a caller")


def test_settings(tmp_path):
    env = {"BRIDGE_ENV": "development", "BRIDGE_AUDIT_PATH": str(tmp_path / "a.jsonl"),
           "BRIDGE_AUDIT_KEY_FILE": str(tmp_path / "a.key"), "BRIDGE_AUDIT_CHECKPOINT_LINES": "0",
           "BRIDGE_AUDIT_CHECKPOINT_SECONDS": "60"}
    settings = load_settings(env)
    assert (settings.audit_key_file, settings.audit_checkpoint_lines, settings.audit_checkpoint_seconds) == \
        (tmp_path / "a.key", 0, 60)
    defaults = load_settings({"BRIDGE_ENV": "development"})
    assert (defaults.audit_key_file, defaults.audit_checkpoint_lines, defaults.audit_checkpoint_seconds) == \
        (None, 1000, 300)
    for bad in ({"BRIDGE_AUDIT_CHECKPOINT_LINES": "-1"}, {"BRIDGE_AUDIT_KEY_FILE": str(tmp_path / "k"),
                                                          "BRIDGE_AUDIT_PATH": ""}):
        try:
            load_settings({**env, **bad})
        except ConfigError:
            continue
        raise AssertionError(f"accepted {bad}")


# --- the command ------------------------------------------------------------------------------------------

def cli(*args, env=None):
    return CliRunner().invoke(main, ["audit", *args],
                              env={"BRIDGE_AUDIT_PATH": None, "BRIDGE_AUDIT_KEY_FILE": None, **(env or {})})


def test_exported_public_key_verifies_and_the_unsigned_tail_is_reported(tmp_path):
    record(writer(tmp_path), 8)
    exported = cli("key", "--public", "--key-file", str(tmp_path / "audit.key"))
    assert exported.exit_code == 0, exported.output
    public = json.loads(exported.output)
    assert "d" not in public and public["crv"] == "P-256"
    (tmp_path / "auditor.jwk").write_text(exported.output)
    result = cli("verify", "--public-key", str(tmp_path / "auditor.jwk"), "--lang", "en",
                 env={"BRIDGE_AUDIT_PATH": str(tmp_path / "audit.jsonl")})
    assert result.exit_code == 0, result.output
    assert "1 signed checkpoint(s) verified; last signed line: seq 5" in result.output
    assert "4 line(s) after the last checkpoint are not covered by a signature" in result.output


def test_verify_with_the_local_key_refuses_a_copy_signed_by_another(tmp_path):
    record(writer(tmp_path, key_name="forged.key"), 8)
    env = {"BRIDGE_AUDIT_PATH": str(tmp_path / "audit.jsonl"), "BRIDGE_AUDIT_KEY_FILE": str(tmp_path / "k.key")}
    assert cli("key", "--public", env=env).exit_code == 0          # the bridge's own key, created now
    result = cli("verify", env=env)
    assert result.exit_code == 1
    assert "la signature du point de contrôle ne se vérifie pas avec la clé d'audit" in result.output


def test_verify_without_a_key_says_checkpoints_were_not_checked(tmp_path):
    record(writer(tmp_path), 8)
    result = cli("verify", "--lang", "en", env={"BRIDGE_AUDIT_PATH": str(tmp_path / "audit.jsonl")})
    assert result.exit_code == 0 and "checkpoints not verified (no audit key" in result.output
