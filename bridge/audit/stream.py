"""Optional Redis Stream copy of the audit for several bridge instances: one chain per stream.

Each line is XADDed as the field `line` (its exact bytes). The stream's head key `<stream>:head` holds
"<seq> <sha256>" of its last line. A writer builds its line on the head it believes current and a Lua script
appends it only if that head is still the stored one; otherwise it returns the current head and the writer
rebuilds on it. Lua computes no hash: it compares and stores, atomically, so two processes never fork the chain.
"""
from __future__ import annotations

from collections.abc import Callable

import redis

from bridge.audit.chain import GENESIS, AuditUnavailable, ChainChecker, VerifyResult, decode_head, line_hash

GENESIS_HEAD = f"0 {GENESIS}"

# KEYS: stream, head. ARGV: genesis head, expected head, new head, line.
_APPEND_IF_HEAD = """
local head = redis.call('GET', KEYS[2]) or ARGV[1]
if head ~= ARGV[2] then
  return {0, head}
end
local id = redis.call('XADD', KEYS[1], '*', 'line', ARGV[4])
redis.call('SET', KEYS[2], ARGV[3])
return {1, id}
"""


def _client(redis_url: str) -> redis.Redis:
    # Short timeouts, like the store: a dead Redis must fail the request quickly, not hang a worker.
    return redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=10)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisStreamSink:
    MAX_TRIES = 100  # each failed try means another writer succeeded: only heavy contention exhausts this

    def __init__(self, redis_url: str, stream: str, *, client: redis.Redis | None = None):
        self.stream = stream
        self.head_key = f"{stream}:head"
        self._redis = client or _client(redis_url)
        self._append_if_head = self._redis.register_script(_APPEND_IF_HEAD)
        self._head: str | None = None  # the last head this sink saw: usually still current, saves a GET
        self.retries = 0

    def append(self, build: Callable[[int, str], bytes]) -> bytes:
        """XADD build(seq, prev) on the stream's current head; returns the line written."""
        try:
            head = self._head or _text(self._redis.get(self.head_key) or GENESIS_HEAD)
            for _ in range(self.MAX_TRIES):
                parsed = decode_head(head)
                if parsed is None:
                    raise AuditUnavailable(f"the audit stream head {self.head_key} is unreadable: {head!r}")
                seq, prev = parsed
                line = build(seq + 1, prev)
                new_head = f"{seq + 1} {line_hash(line)}"
                done, value = self._append_if_head(keys=[self.stream, self.head_key],
                                                   args=[GENESIS_HEAD, head, new_head, line])
                if done == 1:
                    self._head = new_head
                    return line
                head = _text(value)  # another writer got there first: rebuild on its line
                self.retries += 1
        except redis.RedisError as exc:
            self._head = None
            raise AuditUnavailable(f"audit stream {self.stream} unavailable: {type(exc).__name__}") from exc
        raise AuditUnavailable(f"audit stream {self.stream}: no append after {self.MAX_TRIES} tries")


def verify_stream(redis_url: str, stream: str, *, allow_partial_start: bool = False,
                  client: redis.Redis | None = None) -> VerifyResult:
    """Verify the stream's chain entry by entry, then its head. `line_no` is the entry's rank (1-based)."""
    client = client or _client(redis_url)
    checker = ChainChecker(allow_partial_start=allow_partial_start)
    start, rank = "-", 0
    try:
        while True:
            entries = client.xrange(stream, min=start, count=1000)
            for entry_id, fields in entries:
                rank += 1
                line = fields.get(b"line", fields.get("line", b""))
                error = checker.feed(line.encode("utf-8") if isinstance(line, str) else line)
                if error:
                    code, params = error
                    return checker.failure(code, {**params, "entry": _text(entry_id)}, stream, rank)
            if len(entries) < 1000:
                break
            start = "(" + _text(entries[-1][0])
        raw_head = client.get(f"{stream}:head")
    except redis.RedisError as exc:
        return checker.failure("unreadable", {"error": type(exc).__name__}, stream, None)
    if rank == 0 and raw_head is None:
        return checker.success()
    error = checker.check_head(decode_head(raw_head) if raw_head is not None else None, f"{stream}:head")
    if error:
        return checker.failure(*error, stream, rank or None)
    return checker.success()
