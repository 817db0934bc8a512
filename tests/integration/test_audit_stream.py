"""Audit on a Redis Stream (real redis-server): several writers, one chain; a fork or a gap is found."""
import json
import multiprocessing
import threading

import pytest
import redis
from click.testing import CliRunner

from bridge.audit import Audit, AuditUnavailable, RedisStreamSink, verify_stream
from bridge.cli import main
from bridge.clock import Clock
from tests.support.redis import free_port

STREAM = "bridge:audit"


def stream_audit(redis_url: str, path=None, **options) -> Audit:
    return Audit(path, secret_key="k" * 40, pseudonymize=True, required=True, clock=Clock(),
                 stream=RedisStreamSink(redis_url, STREAM), **options)


def test_records_chain_on_the_stream(redis_url):
    audit = stream_audit(redis_url)
    lines = [audit.record("token_issued", outcome="success", client="app", n=i) for i in range(5)]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    result = verify_stream(redis_url, STREAM)
    assert result.ok and result.lines == 5 and result.last_seq == 5


def test_a_stale_writer_rebuilds_on_the_current_head_instead_of_forking(redis_url):
    first, second = stream_audit(redis_url), stream_audit(redis_url)
    first.record("logout", outcome="success")
    second.record("logout", outcome="success")   # second learns head 2
    line = first.record("logout", outcome="success")  # first still believes head 1: the script refuses, it retries
    assert line["seq"] == 3 and first.stream.retries == 1
    assert verify_stream(redis_url, STREAM).lines == 3


def test_two_threads_write_one_valid_chain(redis_url):
    def write(worker: int):
        audit = stream_audit(redis_url)  # a sink each: separate connections, separate cached heads
        for i in range(150):
            audit.record("token_refreshed", outcome="success", client=f"w{worker}", n=i)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify_stream(redis_url, STREAM)
    assert result.ok, result.first_error
    assert result.lines == 300


def _write_from_a_process(redis_url: str, worker: int) -> None:
    audit = stream_audit(redis_url)
    for i in range(150):
        audit.record("token_issued", outcome="success", client=f"p{worker}", n=i)


def test_two_processes_write_one_valid_chain(redis_url):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_from_a_process, args=(redis_url, w)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(90)
    assert [w.exitcode for w in workers] == [0, 0]
    result = verify_stream(redis_url, STREAM)
    assert result.ok and result.lines == 300


def test_file_and_stream_each_keep_their_own_chain(redis_url, tmp_path):
    from bridge.audit import chain_files, verify_chain

    path = tmp_path / "audit.jsonl"
    other = stream_audit(redis_url)          # another instance, stream only
    audit = stream_audit(redis_url, path)
    other.record("login_started", outcome="info")
    line = audit.record("login_started", outcome="info")
    assert line["seq"] == 1  # the returned line is the file's
    assert verify_chain(chain_files(path)).lines == 1 and verify_stream(redis_url, STREAM).lines == 2


@pytest.mark.parametrize("damage, code", [
    (lambda r, ids: r.xdel(STREAM, ids[2]), "seq_gap"),
    (lambda r, ids: r.xadd(STREAM, {"line": b'{"forged":true}'}), "bad_fields"),
    (lambda r, ids: r.set(f"{STREAM}:head", "1 " + "0" * 64), "head_mismatch"),
    (lambda r, ids: r.delete(f"{STREAM}:head"), "head_unreadable"),
])
def test_damage_to_the_stream_is_detected(redis_url, damage, code):
    audit = stream_audit(redis_url)
    for i in range(5):
        audit.record("logout", outcome="success", n=i)
    client = redis.Redis.from_url(redis_url)
    ids = [entry_id for entry_id, _ in client.xrange(STREAM)]
    damage(client, ids)
    result = verify_stream(redis_url, STREAM)
    assert not result.ok and result.code == code


def test_a_rewritten_entry_is_detected(redis_url):
    audit = stream_audit(redis_url)
    for i in range(3):
        audit.record("logout", outcome="success", n=i)
    client = redis.Redis.from_url(redis_url)
    entries = client.xrange(STREAM)
    # Streams cannot edit an entry: rebuild the stream with entry 2 changed.
    client.delete(STREAM)
    for number, (_, fields) in enumerate(entries, start=1):
        line = fields[b"line"]
        if number == 2:
            line = line.replace(b'"success"', b'"failure"')
        client.xadd(STREAM, {"line": line})
    result = verify_stream(redis_url, STREAM)
    assert (result.code, result.line_no) == ("prev_mismatch", 3)


def test_an_unreachable_redis_fails_closed_when_required():
    audit = stream_audit(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(AuditUnavailable, match="unavailable"):
        audit.record("login_succeeded", outcome="success")


def test_cli_verifies_the_stream(redis_url):
    audit = stream_audit(redis_url)
    for i in range(4):
        audit.record("logout", outcome="success", n=i)
    ok = CliRunner().invoke(main, ["audit", "verify", "--stream", STREAM, "--redis-url", redis_url])
    assert ok.exit_code == 0 and ok.output.startswith("4 lignes intactes")
    client = redis.Redis.from_url(redis_url)
    client.xdel(STREAM, client.xrange(STREAM)[1][0])
    broken = CliRunner().invoke(main, ["audit", "verify", "--stream", STREAM, "--lang", "en"],
                                env={"BRIDGE_STORE_URL": redis_url})
    assert broken.exit_code == 1 and f"{STREAM}, entry 2, id " in broken.output and "1 line(s) missing" in broken.output


def test_stream_lines_are_the_exact_json_lines(redis_url):
    stream_audit(redis_url).record("key_rotated", outcome="info", kid="2026-01")
    (_, fields), = redis.Redis.from_url(redis_url).xrange(STREAM)
    line = json.loads(fields[b"line"])
    assert line["event"] == "key_rotated" and line["details"] == {"kid": "2026-01"}
