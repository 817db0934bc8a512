"""Hash-chained audit trail: every line chained to the previous, any change, loss or move found by verify_chain."""
import json
import multiprocessing
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bridge.audit import EVENTS, FIELDS, Audit, chain_files, rotated_files, verify_chain
from bridge.audit.chain import GENESIS, head_path, line_hash
from bridge.clock import Clock

KEY = "k" * 40
NIR = "810012345678"
ROOT = Path(__file__).resolve().parents[2]


def make_audit(path: Path, **options) -> Audit:
    defaults = dict(secret_key=KEY, pseudonymize=False, required=True, clock=Clock(1_780_000_000.0))
    return Audit(path, **{**defaults, **options})


def write_chain(path: Path, count: int, **options) -> list[dict]:
    audit = make_audit(path, **options)
    return [audit.record("login_succeeded", outcome="success", service="dmp", client="dmp-web", national_id=NIR,
                         mie="psc-card", request_id=f"r{i}", n=i) for i in range(count)]


def verify(path: Path):
    return verify_chain(chain_files(path), head=head_path(path))


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


# --- format --------------------------------------------------------------------------------------------------

def test_a_line_has_the_fixed_fields_in_order(tmp_path):
    audit = make_audit(tmp_path / "audit.jsonl")
    line = audit.record("login_denied", outcome="denied", service="dmp", client="dmp-web", national_id=NIR,
                        mie="psc-ecps", reason="mie_not_allowed", request_id="req-1", acr="eidas1")
    raw = (tmp_path / "audit.jsonl").read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert tuple(json.loads(raw)) == FIELDS and json.loads(raw) == line
    assert line["time"] == "2026-05-28T20:26:40.000Z"
    assert (line["seq"], line["prev"], line["subject"]) == (1, GENESIS, NIR)
    assert line["details"] == {"acr": "eidas1"} and line["reason"] == "mie_not_allowed"


def test_each_line_carries_the_hash_of_the_previous_one(tmp_path):
    write_chain(tmp_path / "audit.jsonl", 3)
    raw = lines_of(tmp_path / "audit.jsonl")
    assert [json.loads(r)["seq"] for r in raw] == [1, 2, 3]
    assert json.loads(raw[1])["prev"] == line_hash(raw[0].rstrip(b"\n"))
    assert json.loads(raw[2])["prev"] == line_hash(raw[1].rstrip(b"\n"))


def test_a_chain_of_records_verifies(tmp_path):
    write_chain(tmp_path / "audit.jsonl", 50)
    result = verify(tmp_path / "audit.jsonl")
    assert result.ok and result.lines == 50 and result.last_seq == 50
    assert result.message("fr") == "50 lignes intactes" and result.message() == "50 lines intact"


def test_a_new_audit_object_continues_the_chain_of_the_file(tmp_path):
    write_chain(tmp_path / "audit.jsonl", 3)
    write_chain(tmp_path / "audit.jsonl", 2)  # a restart
    assert verify(tmp_path / "audit.jsonl").lines == 5


def test_pseudonymized_subject_is_stable_keyed_and_not_the_raw_id(tmp_path):
    first = write_chain(tmp_path / "a.jsonl", 2, pseudonymize=True)
    again = write_chain(tmp_path / "b.jsonl", 1, pseudonymize=True)
    other_key = write_chain(tmp_path / "c.jsonl", 1, pseudonymize=True, secret_key="z" * 40)
    subject = first[0]["subject"]
    assert subject.startswith("h:") and len(subject) == 2 + 64
    assert first[1]["subject"] == again[0]["subject"] == subject
    assert other_key[0]["subject"] != subject
    assert NIR.encode() not in (tmp_path / "a.jsonl").read_bytes()


def test_an_empty_national_id_stays_empty_when_pseudonymized(tmp_path):
    line = make_audit(tmp_path / "audit.jsonl", pseudonymize=True).record("policy_loaded", outcome="info",
                                                                          service="dmp")
    assert line["subject"] == ""


def test_every_event_is_documented():
    documentation = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    missing = [event for event in EVENTS if f"`{event}`" not in documentation]
    assert not missing


# --- tampering ---------------------------------------------------------------------------------------------

CHAIN_LINES = 6


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[bytes, bytes]:
    path = tmp_path_factory.mktemp("pristine") / "audit.jsonl"
    write_chain(path, CHAIN_LINES, pseudonymize=True)
    return path.read_bytes(), head_path(path).read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_change_in_any_line_is_detected(pristine, tmp_path, data):
    content, head = pristine
    position = data.draw(st.integers(0, len(content) - 1), label="position")
    byte = data.draw(st.integers(0, 255), label="byte")
    assume(byte != content[position])
    tampered = bytearray(content)
    tampered[position] = byte
    path = tmp_path / "audit.jsonl"
    path.write_bytes(bytes(tampered))
    head_path(path).write_bytes(head)

    result = verify(path)

    line_no = content[:position].count(b"\n") + 1  # the line holding the changed byte
    assert not result.ok
    assert result.line_no in (line_no, line_no + 1)  # the line itself, or the next one whose prev no longer fits


def test_the_untampered_pristine_chain_verifies(pristine, tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(pristine[0])
    head_path(path).write_bytes(pristine[1])
    assert verify(path).ok


@pytest.mark.parametrize("edit, code, line_no", [
    (lambda ls: ls[:2] + ls[3:], "seq_gap", 3),                      # a deleted line
    (lambda ls: ls[:2] + [ls[3], ls[2]] + ls[4:], "seq_gap", 3),     # two lines swapped
    (lambda ls: ls[:3] + [ls[2]] + ls[3:], "seq_back", 4),           # a duplicated line
    (lambda ls: ls[1:], "bad_start", 1),                              # the first line deleted
    (lambda ls: ls[:-1] + [ls[-1][:-10]], "truncated", 5),           # the last line cut short
    (lambda ls: ls[:-1] + [ls[-1][:-1]], "truncated", 5),            # only its end of line lost
    (lambda ls: ls[:-1], "head_mismatch", 4),                         # the last line deleted: the head tells
    (lambda ls: ls[:2] + [b"\n"] + ls[2:], "not_json", 3),            # a blank line slipped in
])
def test_deleted_moved_duplicated_or_truncated_lines_are_detected(tmp_path, edit, code, line_no):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 5)
    path.write_bytes(b"".join(edit(lines_of(path))))
    result = verify(path)
    assert (result.ok, result.code, result.line_no, result.file) == (False, code, line_no, str(path))
    assert result.first_error


def test_a_consistent_rewrite_of_one_line_is_caught_by_the_next(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 4)
    lines = lines_of(path)
    forged = json.loads(lines[1])
    forged["outcome"] = "failure"  # valid JSON, right seq, right prev: only the next line's prev tells
    lines[1] = json.dumps(forged, separators=(",", ":")).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    result = verify(path)
    assert (result.code, result.line_no) == ("prev_mismatch", 3)


def test_without_its_head_the_chain_still_verifies_but_a_lost_head_is_reported(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 3)
    assert verify_chain([path]).ok
    head_path(path).unlink()
    assert verify(path).code == "head_unreadable"


def test_a_head_left_behind_by_a_crash_is_reported_then_healed_by_the_next_record(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 3)
    sealed = head_path(path).read_bytes()
    write_chain(path, 1)
    head_path(path).write_bytes(sealed)  # as if the process died between the line and its seal
    assert verify(path).code == "head_mismatch"
    write_chain(path, 1)
    assert verify(path).ok and verify(path).lines == 5


# --- rotation ----------------------------------------------------------------------------------------------

def test_rotation_keeps_one_chain_across_files(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 20, max_bytes=1500)
    rotated = rotated_files(path)
    assert len(rotated) >= 3
    assert all(p.stat().st_size <= 1500 for p in rotated + [path])
    first_live = json.loads(lines_of(path)[0])
    assert first_live["prev"] == line_hash(lines_of(rotated[-1])[-1].rstrip(b"\n")) != GENESIS
    result = verify(path)
    assert result.ok and result.lines == 20


def test_rotated_names_sort_in_chain_order_even_when_the_clock_stands_still(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 40, max_bytes=700)  # the test clock never moves: every rotation has the same stamp
    rotated = rotated_files(path)
    assert len(rotated) > 10  # past "-9": order must be numeric, not by name
    firsts = [json.loads(lines_of(p)[0])["seq"] for p in rotated]
    assert firsts == sorted(firsts)
    assert verify(path).ok


def test_a_missing_middle_file_is_detected(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 20, max_bytes=1500)
    rotated = rotated_files(path)
    rotated[1].unlink()
    result = verify(path)
    assert (result.ok, result.code, result.file, result.line_no) == (False, "seq_gap", str(rotated[2]), 1)
    assert verify_chain(rotated[:1] + [rotated[1]] + rotated[2:]).code == "missing_file"


def test_a_missing_first_file_is_detected_unless_verifying_a_partial_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 20, max_bytes=1500)
    rotated_files(path)[0].unlink()
    assert verify(path).code == "bad_start"
    assert verify_chain(chain_files(path), head=head_path(path), allow_partial_start=True).ok


def test_after_a_crash_between_rotation_and_write_the_chain_continues_from_the_rotated_file(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 3)
    path.rename(path.with_name(path.name + ".20260101T000000.000000Z"))  # renamed, new file never written
    write_chain(path, 2)
    assert verify(path).lines == 5


# --- concurrency -------------------------------------------------------------------------------------------

def test_threads_sharing_one_audit_write_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = make_audit(path, clock=Clock())

    def write(worker: int):
        for i in range(50):
            audit.record("token_issued", outcome="success", client=f"c{worker}", n=i)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify(path)
    assert result.ok and result.lines == 200


def _write_from_a_process(path: str, worker: int, count: int, max_bytes: int) -> None:
    audit = Audit(Path(path), secret_key=KEY, pseudonymize=True, required=True, clock=Clock(), max_bytes=max_bytes)
    for i in range(count):
        audit.record("login_started", outcome="info", client=f"worker-{worker}", national_id=NIR, n=i)


@pytest.mark.parametrize("max_bytes", [50_000_000, 40_000], ids=["one-file", "rotating"])
def test_four_processes_write_one_valid_chain(tmp_path, max_bytes):
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")  # fresh interpreters: nothing shared but the file
    workers = [context.Process(target=_write_from_a_process, args=(str(path), w, 200, max_bytes))
               for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(90)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    result = verify(path)
    assert result.ok, result.first_error
    assert result.lines == 800
    if max_bytes < 50_000_000:
        assert len(rotated_files(path)) >= 3
    clients = [json.loads(line)["client"] for p in chain_files(path) for line in lines_of(p)]
    assert {c: clients.count(c) for c in set(clients)} == {f"worker-{w}": 200 for w in range(4)}


def test_rotated_names_stay_in_chain_order_when_the_clock_goes_back(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = Clock(1_780_000_000.0)
    audit = make_audit(path, clock=clock, max_bytes=700)
    for i in range(6):
        audit.record("logout", outcome="success", n=i)
        clock.advance(-3600)  # NTP step, or a wrong clock corrected
    rotated = rotated_files(path)
    assert len(rotated) >= 2
    assert [json.loads(lines_of(p)[0])["seq"] for p in rotated] == sorted(json.loads(lines_of(p)[0])["seq"]
                                                                          for p in rotated)
    assert verify(path).ok and verify(path).lines == 6
