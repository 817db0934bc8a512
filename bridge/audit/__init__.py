"""Hash-chained audit trail: one JSON line per decision, each carrying the SHA-256 of the previous.

    audit = open_audit(settings, clock)
    audit.record("login_succeeded", outcome="success", service="dmp", client="dmp-web",
                 national_id="810012345678", mie="psc-card", request_id=rid, acr="eidas1")

The file is append-only (O_APPEND), one `write` per line, fsync'd before `record` returns. A `flock` on the
`<file>.head` serialises writers of one host (threads and processes): read the last line, append, seal the head.
`record` raises AuditUnavailable when the line cannot be made durable and the audit is required; the caller
then fails closed (HTTP 503). Line format and verification: bridge/audit/chain.py; docs/audit.md.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bridge.audit.chain import (
    FIELDS,
    GENESIS,
    OUTCOMES,
    AuditUnavailable,
    VerifyResult,
    chain_files,
    encode_head,
    encode_line,
    head_path,
    line_hash,
    rotated_files,
    rotation_key,
    verify_chain,
)
from bridge.audit.checkpoint import (
    CHECKPOINT_EVENT,
    Checkpoints,
    load_or_create_key,
    read_state,
    state_path,
    write_state,
)
from bridge.audit.export import exporter_for
from bridge.audit.stream import RedisStreamSink, verify_stream
from bridge.clock import Clock
from bridge.logs import log

__all__ = ["Audit", "AuditUnavailable", "EVENTS", "FIELDS", "OUTCOMES", "RedisStreamSink", "VerifyResult",
           "chain_files", "open_audit", "rotated_files", "verify_chain", "verify_stream"]

# The events callers may record; an unknown name is a bug (it would vanish from attestation counts).
EVENTS = {
    "login_started": "a login transaction began (an app sent the user to /authorize)",
    "login_succeeded": "the upstream authenticated the user and the service policy allowed them",
    "login_denied": "the service policy refused the user or the means (reason: the policy code)",
    "login_failed": "the upstream login failed (error, timeout, invalid response)",
    "pin_failed": "a wrong CPS PIN (details: tries_left); the PIN itself is never written",
    "card_blocked": "the CPS card is blocked",
    "step_up": "a stronger means was required and requested",
    "token_issued": "tokens issued to a client at /token",
    "token_refreshed": "a refresh token was used",
    "token_revoked": "a token was revoked",
    "idle_expired": "an SSO session ended after inactivity",
    "absolute_expired": "an SSO session reached its absolute deadline",
    "logout": "the user or an app ended the session",
    "backchannel_delivered": "a back-channel logout was delivered to an app",
    "backchannel_failed": "a back-channel logout could not be delivered",
    "policy_loaded": "a service policy was loaded",
    "policy_refused": "a service policy was refused at load",
    "key_rotated": "the signing keys were rotated",
    "admin_action": "an operator command changed something (details: command)",
    "card_watch_issued": "a cps-pin login's session got a removal capability for the workstation's card agent",
    "card_removed": "a workstation's card agent reported the login card removed (reason: what the notice did)",
    "card_opposed": "a card declared lost or opposed in the console was refused at login (details: card_number)",
    "consent_asked": "a third-party client's consent page was shown (details: scope)",
    "consent_given": "the professional allowed a third-party client these scopes (details: scope)",
    "consent_refused": "the professional refused a third-party client: the app got access_denied",
    "consent_revoked": "the professional withdrew a consent on « Mes autorisations »; the client's tokens die",
    "fido_enrolled": "a professional registered a passkey / FIDO2 key after a PSC or card login (details: key_id)",
    "fido_renamed": "a passkey was renamed on « Mes moyens de connexion » (details: key_id)",
    "fido_revoked": "a passkey was revoked by its owner or an administrator (details: key_id, by)",
    "fido_cloned": "a passkey's signature counter went backwards: a cloned authenticator? (details: key_id)",
    "device_authorization_requested": "a kiosk asked /device_authorization for a device code (RFC 8628)",
    "device_code_wrong": "a wrong user code was typed on /device (details: counts per browser and address)",
    "device_approved": "the professional logged in on /device for a kiosk: its next poll gets tokens",
    "device_denied": "a device authorization was refused (reason: policy, cancelled...): the kiosk gets access_denied",
    "ciba_requested": "a thick client asked /bc-authorize (CIBA); the bridge relayed it to PSC CIBA",
    "token_exchanged": "a client asked to exchange its access token for a PSC one (RFC 8693; details: audience)",
    "psc_refresh": "the bridge refreshed the PSC tokens it keeps for a session (failure: PSC unreachable, kept)",
    "psc_session_ended": "PSC said the user's PSC session ended (details: source refresh / backchannel_logout)",
    "psc_relay_stopped": "the kept PSC refresh token lapsed while PSC was unreachable: no more relay, session kept",
    "psc_backchannel_logout": "PSC posted a back-channel logout token to the bridge (details: sessions ended)",
    CHECKPOINT_EVENT: "the writer signed the chain head with the audit key (bridge/audit/checkpoint.py)",
}

# Never in the audit: key names made of these words (any case, any separator) ...
SECRET_WORDS = {"pin", "password", "passwd", "secret", "token", "assertion"}
# ... these whole names ...
SECRET_NAMES = {"code", "auth_code", "authorization_code", "client_secret", "access_token", "refresh_token",
                "id_token", "client_assertion"}
# ... and values that look like a JWT (a token passed under an innocent name).
_JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.")


class Audit:
    def __init__(self, path: Path | None, *, secret_key: str, pseudonymize: bool, required: bool, clock=None,
                 max_bytes: int = 50_000_000, stream: RedisStreamSink | None = None,
                 checkpoints: Checkpoints | None = None, export=None):
        self.path = Path(path) if path is not None else None
        self.head = head_path(self.path) if self.path is not None else None
        self._key = secret_key.encode("utf-8")
        self.pseudonymize = pseudonymize
        self.required = required
        self.clock = clock or Clock()
        self.max_bytes = max_bytes
        self.stream = stream
        self.checkpoints = checkpoints if self.path is not None else None
        self.export = export   # bridge.audit.export.Exporter: a copy for a SIEM, never in the way of the file
        # Without a file or a stream, lines go to the structured log, chained within this process only.
        self._log_chain = (0, GENESIS)
        self._log_lock = threading.Lock()

    def subject(self, national_id: str) -> str:
        if not national_id or not self.pseudonymize:
            return national_id
        return "h:" + hmac.new(self._key, national_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def record(self, event: str, *, outcome: str, service: str = "", client: str = "", national_id: str = "",
               mie: str = "", reason: str = "", request_id: str = "", **details) -> dict:
        """Write one line and return it (as a dict). ValueError on bad input, whatever `required` says."""
        fields = self._fields(event, outcome, service, client, national_id, mie, reason, request_id, details)

        def build(seq: int, prev: str) -> bytes:
            # Called under the chain's lock, so time and seq advance together.
            return encode_line({**fields, "time": self._now(), "seq": seq, "prev": prev})

        sinks = ([self._append_to_file] if self.path is not None else []) + \
                ([self.stream.append] if self.stream is not None else [])
        written: list[bytes] = []
        in_file = False
        for sink in sinks or [self._append_to_log]:
            try:
                written.append(sink(build))
                in_file = in_file or sink == self._append_to_file
            except AuditUnavailable as exc:
                from bridge import metrics

                metrics.audit_write_failure("file" if sink == self._append_to_file else "stream")
                if self.required:
                    raise  # the caller fails closed (HTTP 503)
                log.warning("audit_unavailable", audit_event=event, error=str(exc))
        # The file's line when there is one; seq 0 marks a line that no sink could keep.
        line = written[0] if written else build(0, GENESIS)
        if self.export is not None and not in_file:
            self.export.send(line)   # the file's lines were sent under its lock, in the file's order
        return json.loads(line)

    # --- input -----------------------------------------------------------------------------------------

    def _fields(self, event, outcome, service, client, national_id, mie, reason, request_id, details) -> dict:
        if event == CHECKPOINT_EVENT:
            raise ValueError("audit_checkpoint lines are written by the audit writer itself")
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r} (add it to bridge.audit.EVENTS and docs/audit.md)")
        if outcome not in OUTCOMES:
            raise ValueError(f"audit outcome {outcome!r} must be one of {', '.join(OUTCOMES)}")
        text = dict(service=service, client=client, national_id=national_id, mie=mie, reason=reason,
                    request_id=request_id)
        for name, value in text.items():
            if not isinstance(value, str):
                raise ValueError(f"audit field {name} must be a string (got {type(value).__name__})")
        refuse_secrets(details)
        try:
            json.dumps(details, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"audit details must be plain JSON: {exc}") from None
        return dict(event=event, outcome=outcome, request_id=request_id, service=service, client=client,
                    subject=self.subject(national_id), mie=mie, reason=reason, details=details)

    def _now(self) -> str:
        moment = datetime.fromtimestamp(self.clock.now(), UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # --- file ------------------------------------------------------------------------------------------

    def _append_to_file(self, build: Callable[[int, str], bytes]) -> bytes:
        try:
            with _exclusive(self.head) as head_fd:
                line, seq = self._append_locked(head_fd, build)
                if self.export is not None:
                    self.export.send(line)   # a queue put under the lock: the SIEM gets the file's order
                if self.checkpoints is not None:
                    self._checkpoint_if_due(head_fd, seq, line_hash(line))
                return line
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit file {self.path}: {exc.strerror or exc}") from exc

    def _append_locked(self, head_fd: int, build: Callable[[int, str], bytes]) -> tuple[bytes, int]:
        """Append one line under the lock, rotating first when needed; (line without newline, its seq)."""
        fd = _open_append(self.path)
        try:
            size = os.fstat(fd).st_size
            seq, prev = self._chain_end(fd, size)
            line = build(seq + 1, prev) + b"\n"
            if size and size + len(line) > self.max_bytes:
                os.close(fd)
                fd = -1
                self._rotate()
                fd, size = _open_append(self.path), 0
            _append_durably(fd, line, size, new_file=size == 0, directory=self.path.parent)
            try:
                _write_head(head_fd, seq + 1, line_hash(line[:-1]))
            except OSError:
                _undo_append(fd, size)  # an unsealed line would read as tampering
                raise
            return line[:-1], seq + 1
        finally:
            if fd >= 0:
                os.close(fd)

    def _checkpoint_if_due(self, head_fd: int, seq: int, digest: str) -> None:
        """After line `seq` (hash `digest`), append a signed checkpoint when N lines or T seconds have passed.

        Under the lock, so the workers of one host share one series. A failure leaves the event line in place
        (it is durable and sealed); the next line tries again."""
        state_file = state_path(self.path)
        state, now = read_state(state_file), self.clock.now()
        if not self.checkpoints.due(state, seq, now):
            return
        time = self._now()

        def build(cp_seq: int, prev: str) -> bytes:
            jws = self.checkpoints.sign(cp_seq - 1, prev, time, state[0])
            return encode_line(dict(time=time, seq=cp_seq, event=CHECKPOINT_EVENT, outcome="info", request_id="",
                                    service="", client="", subject="", mie="", reason="",
                                    details={"jws": jws, "kid": self.checkpoints.key.thumbprint()}, prev=prev))
        try:
            cp_line, cp_seq = self._append_locked(head_fd, build)
            write_state(state_file, cp_seq, now)
            if self.export is not None:
                self.export.send(cp_line)
        except OSError as exc:
            log.warning("audit_checkpoint_failed", error=exc.strerror or str(exc), seq=seq)

    def _chain_end(self, fd: int, size: int) -> tuple[int, str]:
        """Seq and hash of the chain's last line: the live file's, else the newest rotated file's."""
        if size:
            return _last_line_info(fd, size, self.path)
        rotated = rotated_files(self.path)
        if not rotated:
            return 0, GENESIS
        # The live file is new or empty (a crash right after a rotation): continue the rotated chain.
        with open(rotated[-1], "rb") as file:
            end = os.fstat(file.fileno()).st_size
            return _last_line_info(file.fileno(), end, rotated[-1]) if end else (0, GENESIS)

    def _rotate(self) -> None:
        """Rename the live file to <name>.<UTC stamp>; a later name than any sibling keeps name order = chain order."""
        stamp = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        key = (stamp, 0)
        existing = [rotation_key(self.path, p) for p in rotated_files(self.path)]
        if existing and key <= existing[-1]:
            key = (existing[-1][0], existing[-1][1] + 1)
        name = f"{self.path.name}.{key[0]}" + (f"-{key[1]}" if key[1] else "")
        os.rename(self.path, self.path.with_name(name))
        _fsync_directory(self.path.parent)
        log.info("audit_rotated", path=str(self.path), rotated=name)

    # --- structured log (no file, no stream) -----------------------------------------------------------

    def _append_to_log(self, build: Callable[[int, str], bytes]) -> bytes:
        with self._log_lock:
            seq, prev = self._log_chain
            line = build(seq + 1, prev)
            self._log_chain = (seq + 1, line_hash(line))
        # A JSON object, not the line as a string (JSON inside JSON); encode_line(audit) gives the chained bytes back.
        log.info("audit", audit=json.loads(line))
        return line


def refuse_secrets(details: dict, where: str = "") -> None:
    """ValueError when a details key or value looks like a PIN, password, secret, token or assertion."""
    for key, value in details.items():
        words = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(key)).lower()))
        words |= {word[:-1] for word in words if word.endswith("s")}  # tokens, secrets, pins
        normal = "_".join(w for w in re.split(r"[^a-z0-9]+", str(key).lower()) if w)
        if words & SECRET_WORDS or normal in SECRET_NAMES:
            raise ValueError(f"audit details key {where}{key!r} looks like a secret: never written to the audit")
        if isinstance(value, str) and _JWT.search(value):
            raise ValueError(f"audit details {where}{key!r} looks like a token (JWT): never written to the audit")
        if isinstance(value, dict):
            refuse_secrets(value, f"{where}{key}.")
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, dict):
                    refuse_secrets(item, f"{where}{key}[].")
                elif isinstance(item, str) and _JWT.search(item):
                    raise ValueError(f"audit details {where}{key!r} holds a token (JWT): never written")


def audit_policy_refused(settings, error) -> None:
    """Record refused policy files (a bridge.policy.PolicyError) when the audit trail can be written at all."""
    try:
        open_audit(settings).record("policy_refused", outcome="failure", reason=error.errors[0][:500],
                                    errors=len(error.errors))
    except (AuditUnavailable, OSError):
        pass


def open_audit(settings, clock=None) -> Audit:
    """The Audit described by Settings (BRIDGE_AUDIT_*)."""
    stream = None
    if settings.audit_stream:
        stream = RedisStreamSink(settings.store_url, settings.audit_stream)
    path = settings.audit_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif stream is None:
        log.warning("audit_to_log", hint="set BRIDGE_AUDIT_PATH: audit lines go to the log only")
    return Audit(path, secret_key=settings.secret_key, pseudonymize=settings.audit_pseudonymize,
                 required=settings.audit_required, clock=clock, max_bytes=settings.audit_max_bytes, stream=stream,
                 checkpoints=_checkpoints(settings) if path is not None else None, export=exporter_for(settings))


def _checkpoints(settings) -> Checkpoints | None:
    """Signed checkpoints when BRIDGE_AUDIT_KEY_FILE is set and a trigger is on (the key is generated if absent)."""
    lines, seconds = settings.audit_checkpoint_lines, settings.audit_checkpoint_seconds
    if settings.audit_key_file is None or not (lines or seconds):
        return None
    return Checkpoints(load_or_create_key(settings.audit_key_file), lines=lines, seconds=seconds)


# --- low-level file operations -------------------------------------------------------------------------------

@contextmanager
def _exclusive(lock_path: Path):
    """flock on a fresh descriptor: excludes other processes and other threads (each opens its own)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _open_append(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)


def _last_line_info(fd: int, size: int, path: Path) -> tuple[int, str]:
    line = _last_line(fd, size, path)
    try:
        seq = json.loads(line)["seq"]
        if not isinstance(seq, int):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise AuditUnavailable(f"the last line of {path} is unreadable: run `bridge audit verify`") from None
    return seq, line_hash(line)


def _last_line(fd: int, size: int, path: Path) -> bytes:
    chunk = 8192
    while True:
        start = max(0, size - chunk)
        data = os.pread(fd, size - start, start)
        if not data.endswith(b"\n"):
            raise AuditUnavailable(f"{path} ends with an incomplete line: run `bridge audit verify`")
        cut = data.rfind(b"\n", 0, len(data) - 1)
        if cut >= 0 or start == 0:
            return data[cut + 1:-1]
        chunk *= 4


def _append_durably(fd: int, line: bytes, size: int, *, new_file: bool, directory: Path) -> None:
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(errno.ENOSPC, "short write (disk full?)")
        os.fdatasync(fd)
        if new_file:
            _fsync_directory(directory)  # the new file's name must survive a crash too
    except OSError:
        _undo_append(fd, size)
        raise


def _undo_append(fd: int, size: int) -> None:
    """Remove our own failed, partial or unsealed line (we hold the lock): the chain stays readable."""
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass  # e.g. a device: the next writer refuses an incomplete last line


def _write_head(fd: int, seq: int, digest: str) -> None:
    data = encode_head(seq, digest)
    if os.pwrite(fd, data, 0) != len(data):
        raise OSError(errno.ENOSPC, "short write of the audit head")
    os.fdatasync(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

