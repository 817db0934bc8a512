"""Audit bad input: secrets never written, bad calls refused, an audit that cannot be written fails closed."""
import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bridge.audit import Audit, AuditUnavailable, chain_files, verify_chain
from bridge.audit.chain import head_path
from bridge.clock import Clock

KEY = "k" * 40
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiI4MTAwMTIzNDU2NzgifQ.c2lnbmF0dXJl"


def make_audit(path, **options) -> Audit:
    return Audit(path, **{**dict(secret_key=KEY, pseudonymize=False, required=True, clock=Clock()), **options})


# --- what is never written -------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["pin", "password", "secret", "token", "access_token", "refresh_token", "id_token",
                                 "code", "client_secret", "assertion", "PIN", "cardPin", "user-password",
                                 "client_assertion", "authorization_code", "session_token", "apiSecret", "id_tokens"])
def test_secret_looking_details_keys_are_refused(tmp_path, key):
    audit = make_audit(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="never written"):
        audit.record("pin_failed", outcome="failure", **{key: "1234"})
    assert not (tmp_path / "audit.jsonl").exists() or (tmp_path / "audit.jsonl").read_bytes() == b""


def test_secret_keys_are_refused_in_nested_details_too(tmp_path):
    audit = make_audit(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="never written"):
        audit.record("token_issued", outcome="success", grant={"type": "authorization_code", "refresh_token": "x"})
    with pytest.raises(ValueError, match="never written"):
        audit.record("token_issued", outcome="success", items=[{"password": "x"}])


def test_a_jwt_under_an_innocent_name_is_refused(tmp_path):
    audit = make_audit(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="JWT"):
        audit.record("login_failed", outcome="failure", upstream_response=f"bad: {JWT}")
    with pytest.raises(ValueError, match="JWT"):
        audit.record("login_failed", outcome="failure", values=[JWT])


@pytest.mark.parametrize("key", ["tries_left", "error_code", "issued_count",
                                 "jti", "scope", "acr", "pinned_policy_version"])
def test_ordinary_details_are_kept(tmp_path, key):
    line = make_audit(tmp_path / "audit.jsonl").record("token_issued", outcome="success", **{key: "v"})
    assert line["details"] == {key: "v"}


# --- calls refused -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (dict(event="login_sucess", outcome="success"), "unknown audit event"),
    (dict(event="", outcome="success"), "unknown audit event"),
    (dict(event="logout", outcome="ok"), "outcome"),
    (dict(event="logout", outcome="success", service=None), "service must be a string"),
    (dict(event="logout", outcome="success", national_id=810012345678), "national_id must be a string"),
    (dict(event="logout", outcome="success", when=object()), "plain JSON"),
    (dict(event="logout", outcome="success", ratio=float("nan")), "plain JSON"),
])
def test_bad_calls_raise_value_error_and_write_nothing(tmp_path, call, message):
    audit = make_audit(tmp_path / "audit.jsonl", required=False)  # even when not required: a bug is a bug
    event = call.pop("event")
    with pytest.raises(ValueError, match=message):
        audit.record(event, **call)
    assert not (tmp_path / "audit.jsonl").exists()


# --- an audit that cannot be written ---------------------------------------------------------------------

def unwritable_path(tmp_path: Path) -> Path:
    """A path no write can reach, for root too (root ignores a read-only directory's mode)."""
    if os.geteuid() == 0:
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        return blocker / "audit.jsonl"
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o500)
    return directory / "audit.jsonl"


def test_an_unwritable_path_fails_closed_when_required(tmp_path):
    audit = make_audit(unwritable_path(tmp_path), required=True)
    with pytest.raises(AuditUnavailable, match="cannot write the audit file"):
        audit.record("login_succeeded", outcome="success")


def test_a_full_disk_fails_closed_when_required_and_leaves_no_partial_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.symlink_to("/dev/full")  # every write fails with ENOSPC
    audit = make_audit(path, required=True)
    with pytest.raises(AuditUnavailable, match="No space left"):
        audit.record("login_succeeded", outcome="success")
    assert not head_path(path).read_bytes()  # nothing sealed


def test_a_directory_in_place_of_the_file_fails_closed(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.mkdir()
    with pytest.raises(AuditUnavailable):
        make_audit(path).record("logout", outcome="success")


def test_when_not_required_a_failed_write_logs_a_warning_and_goes_on(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.symlink_to("/dev/full")
    audit = make_audit(path, required=False)
    with capture_logs() as logs:
        line = audit.record("login_succeeded", outcome="success", service="dmp")
    assert line["event"] == "login_succeeded" and line["seq"] == 0  # seq 0: kept by no sink
    warning = [entry for entry in logs if entry["event"] == "audit_unavailable"]
    assert warning and warning[0]["log_level"] == "warning" and warning[0]["audit_event"] == "login_succeeded"


def test_a_file_ending_with_an_incomplete_line_is_not_chained_onto(tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = make_audit(path)
    audit.record("logout", outcome="success")
    with open(path, "ab") as file:
        file.write(b'{"time":"2026')  # a foreign, torn write
    with pytest.raises(AuditUnavailable, match="incomplete line"):
        audit.record("logout", outcome="success")
    with capture_logs():
        assert make_audit(path, required=False).record("logout", outcome="success")["seq"] == 0
    assert verify_chain(chain_files(path)).code == "truncated"


def test_a_last_line_that_is_not_an_audit_line_is_not_chained_onto(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"hello\n")
    with pytest.raises(AuditUnavailable, match="unreadable"):
        make_audit(path).record("logout", outcome="success")


def test_garbage_files_are_reported_not_crashed_on(tmp_path):
    path = tmp_path / "audit.jsonl"
    for content, code in [(b"\xff\xfe\n", "not_json"), (b"[1,2]\n", "not_json"), (b'{"a":1}\n', "bad_fields")]:
        path.write_bytes(content)
        result = verify_chain([path])
        assert (result.ok, result.code, result.line_no) == (False, code, 1)
    head_path(path).write_bytes(b"garbage")
    path.write_bytes(b"")
    assert verify_chain([path], head=head_path(path)).code == "head_unreadable"
    assert verify_chain([]).code == "no_files"
    assert verify_chain([tmp_path / "absent.jsonl"]).code == "missing_file"


@pytest.mark.parametrize("field, value", [("seq", "1"), ("seq", True), ("seq", 0), ("prev", "0" * 63),
                                          ("outcome", "maybe"), ("details", []), ("subject", None)])
def test_lines_with_wrong_value_types_are_reported(tmp_path, field, value):
    import json

    path = tmp_path / "audit.jsonl"
    make_audit(path).record("logout", outcome="success")
    line = json.loads(path.read_bytes())
    line[field] = value
    path.write_bytes(json.dumps(line, separators=(",", ":")).encode() + b"\n")
    result = verify_chain([path])
    assert (result.code, result.params) == ("bad_value", {"field": field})


def test_a_line_that_cannot_be_sealed_or_synced_is_taken_back(tmp_path, monkeypatch):
    import bridge.audit

    path = tmp_path / "audit.jsonl"
    audit = make_audit(path)
    audit.record("logout", outcome="success")
    before = path.read_bytes()

    def fail(*args):
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(bridge.audit, "_write_head", fail)
        with pytest.raises(AuditUnavailable, match="Input/output error"):
            audit.record("logout", outcome="success")
    assert path.read_bytes() == before
    with monkeypatch.context() as patch:
        patch.setattr(os, "fdatasync", fail)
        with pytest.raises(AuditUnavailable):
            audit.record("logout", outcome="success")
    assert path.read_bytes() == before
    audit.record("logout", outcome="success")
    assert verify_chain(chain_files(path), head=head_path(path)).lines == 2
