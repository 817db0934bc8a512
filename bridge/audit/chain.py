"""The audit line format and its verification, shared by the file trail and the Redis stream.

A line is one compact JSON object with FIELDS in that order. Its hash is SHA-256 over its exact UTF-8 bytes
(without the trailing newline); the next line's `prev` carries that hash, so changing, removing or moving any
line breaks the chain at or right after it. The last line is sealed by a head (`<file>.head`, or the stream's
head key) holding its seq and hash.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bridge.audit.checkpoint import MESSAGES as CHECKPOINT_MESSAGES
from bridge.audit.checkpoint import CheckpointChecker, is_checkpoint
from bridge.i18n import N_, translated

FIELDS = ("time", "seq", "event", "outcome", "request_id", "service", "client", "subject", "mie", "reason",
          "details", "prev")
OUTCOMES = ("success", "failure", "denied", "info")
GENESIS = "0" * 64
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Rotated files: <name>.<UTC stamp>[-<n>]; n breaks ties so that name order is always chain order.
_ROTATED = r"\.(\d{8}T\d{6}\.\d{6}Z)(?:-(\d+))?"


class AuditUnavailable(RuntimeError):
    """The audit line could not be made durable: when the audit is required the caller fails closed (503)."""


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def encode_line(fields: dict) -> bytes:
    return json.dumps({name: fields[name] for name in FIELDS}, ensure_ascii=False,
                      separators=(",", ":"), allow_nan=False).encode("utf-8")


# --- the head: seq and hash of the chain's last line, fixed length so one pwrite replaces it -------------

def encode_head(seq: int, digest: str) -> bytes:
    return f"{seq:020d} {digest}\n".encode("ascii")


def decode_head(raw: bytes | str) -> tuple[int, str] | None:
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
    match = re.fullmatch(r"(\d{1,20}) ([0-9a-f]{64})\n?", text)
    return (int(match[1]), match[2]) if match else None


def head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


# --- rotated siblings ------------------------------------------------------------------------------------

def rotation_key(path: Path, rotated: Path) -> tuple[str, int] | None:
    match = re.fullmatch(re.escape(path.name) + _ROTATED, rotated.name)
    return (match[1], int(match[2] or 0)) if match else None


def rotated_files(path: Path) -> list[Path]:
    """The rotated siblings of `path`, oldest first."""
    if not path.parent.is_dir():
        return []
    keyed = [(key, p) for p in path.parent.iterdir() if (key := rotation_key(path, p)) is not None]
    return [p for _, p in sorted(keyed)]


def chain_files(path: Path) -> list[Path]:
    """Rotated siblings in order, then the live file when it exists."""
    return rotated_files(path) + ([path] if path.exists() else [])


# --- verification ----------------------------------------------------------------------------------------

# code -> French text (msgid; English in the gettext catalogue); {placeholders} come from VerifyResult.params.
MESSAGES = {
    "ok": N_("{lines} lignes intactes"),
    "no_files": N_("aucun fichier d'audit"),
    "missing_file": N_("fichier introuvable"),
    "unreadable": N_("lecture impossible : {error}"),
    "truncated": N_("dernière ligne tronquée (pas de fin de ligne)"),
    "not_json": N_("ligne illisible (pas une ligne d'audit JSON)"),
    "bad_fields": N_("les champs ne sont pas ceux d'une ligne d'audit"),
    "bad_value": N_("valeur invalide pour {field}"),
    "bad_start": N_(
        "la chaîne ne commence pas ici (prev non nul, seq {seq}) : lignes ou fichiers antérieurs manquants"),
    "seq_gap": N_(
        "seq {seq} après {previous} : {missing} ligne(s) manquante(s) (ligne supprimée ou fichier tourné manquant)"),
    "seq_back": N_("seq {seq} après {previous} : ligne dupliquée ou déplacée"),
    "prev_mismatch": N_(
        "prev ne correspond pas au hachage de la ligne précédente : ligne modifiée, supprimée ou déplacée"),
    "head_unreadable": N_("la tête {head} est absente ou illisible"),
    "head_mismatch": N_(
        "la tête {head} scelle la seq {head_seq}, la chaîne finit à la seq {seq} : dernière ligne modifiée, "
        "supprimée ou ajoutée, ou arrêt brutal pendant la dernière écriture"),
    **CHECKPOINT_MESSAGES,
}


def render(code: str, lang: str = "en", **params) -> str:
    return translated(MESSAGES[code], lang).format(**params)


@dataclass
class VerifyResult:
    ok: bool
    lines: int
    first_error: str | None = None       # English; `message(lang)` renders it in French too
    line_no: int | None = None            # 1-based, within `file`
    file: str | None = None
    code: str = "ok"
    params: dict = field(default_factory=dict)
    last_seq: int = 0                      # what an operator can note outside the host to anchor the chain
    last_hash: str = GENESIS
    checkpoints: int | None = None         # signed checkpoints verified; None when no key was given
    signed_seq: int = 0                    # the last line a verified checkpoint signature covers
    signed_time: str = ""

    def message(self, lang: str = "en") -> str:
        return render(self.code, lang, lines=self.lines, **self.params)


class ChainChecker:
    """Feeds lines in chain order and stops at the first one that breaks the chain."""

    def __init__(self, *, allow_partial_start: bool = False):
        self.allow_partial_start = allow_partial_start
        self.lines = 0
        self.seq = 0
        self.hash = GENESIS
        self._last: dict = {}

    def feed(self, line: bytes) -> tuple[str, dict] | None:
        """None when the line continues the chain, else (code, params)."""
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return "not_json", {}
        if not isinstance(obj, dict):
            return "not_json", {}
        if tuple(obj) != FIELDS:
            return "bad_fields", {}
        self._last = obj
        problem = _bad_value(obj)
        if problem:
            return "bad_value", {"field": problem}
        seq, prev = obj["seq"], obj["prev"]
        if self.lines == 0 and self.allow_partial_start:
            pass
        elif self.lines == 0 and (prev != GENESIS or seq != 1):
            return "bad_start", {"seq": seq}
        elif seq > self.seq + 1:
            return "seq_gap", {"seq": seq, "previous": self.seq, "missing": seq - self.seq - 1}
        elif seq <= self.seq:
            return "seq_back", {"seq": seq, "previous": self.seq}
        elif prev != self.hash:
            return "prev_mismatch", {}
        self.lines, self.seq, self.hash = self.lines + 1, seq, line_hash(line)
        return None

    def failure(self, code: str, params: dict, file: str | None, line_no: int | None) -> VerifyResult:
        return VerifyResult(False, self.lines, render(code, **params), line_no, file, code, params, self.seq,
                            self.hash)

    def success(self) -> VerifyResult:
        return VerifyResult(True, self.lines, last_seq=self.seq, last_hash=self.hash)

    @property
    def last(self) -> dict:
        """The line just fed, as a dict (feed parsed it)."""
        return self._last

    def check_head(self, head: tuple[int, str] | None, name: str) -> tuple[str, dict] | None:
        if head is None:
            return "head_unreadable", {"head": name}
        if head != (self.seq, self.hash):
            return "head_mismatch", {"head": name, "head_seq": head[0], "seq": self.seq}
        return None


def _bad_value(obj: dict) -> str | None:
    if not isinstance(obj["seq"], int) or isinstance(obj["seq"], bool) or obj["seq"] < 1:
        return "seq"
    if not isinstance(obj["prev"], str) or not _HEX64.fullmatch(obj["prev"]):
        return "prev"
    if obj["outcome"] not in OUTCOMES:
        return "outcome"
    if not isinstance(obj["details"], dict):
        return "details"
    for name in ("time", "event", "request_id", "service", "client", "subject", "mie", "reason"):
        if not isinstance(obj[name], str):
            return name
    return None


def split_lines(data: bytes) -> Iterator[tuple[bytes, bool]]:
    """(line without newline, complete?) for each line; only the last can be incomplete."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:], False
            return
        yield data[start:end], True
        start = end + 1


def verify_chain(files: Iterable[Path], *, head: Path | None = None, allow_partial_start: bool = False,
                 key=None) -> VerifyResult:
    """Verify files in chain order (oldest rotated first, live file last).

    `head`: the live file's `.head`; without it the last line is only checked for its format.
    `allow_partial_start`: the first file may begin mid-chain (older files archived elsewhere).
    `key`: the audit key (public or private ECKey): every checkpoint's signature is checked, and a chain with
    lines but no checkpoint fails.
    """
    files = [Path(f) for f in files]
    checker = ChainChecker(allow_partial_start=allow_partial_start)
    signed = CheckpointChecker(key, allow_partial_start=allow_partial_start) if key is not None else None

    def failed(code: str, params: dict, path: Path | None, line_no: int | None) -> VerifyResult:
        return _with_checkpoints(checker.failure(code, params, str(path) if path else None, line_no), signed)

    if not files:
        return failed("no_files", {}, None, None)
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return failed("missing_file", {}, path, None)
        except OSError as exc:
            return failed("unreadable", {"error": exc.strerror or str(exc)}, path, None)
        for line_no, (line, complete) in enumerate(split_lines(data), start=1):
            if not complete:
                return failed("truncated", {}, path, line_no)
            error = checker.feed(line)
            if error is None and signed is not None and is_checkpoint(line):
                error = signed.feed(checker.last)
            if error:
                return failed(*error, path, line_no)
    if head is not None:
        try:
            sealed = decode_head(head.read_bytes())
        except OSError:
            sealed = None
        error = checker.check_head(sealed, head.name)
        if error:
            return failed(*error, files[-1], _count_lines(files[-1]) or None)
    if signed is not None and signed.count == 0 and checker.lines:
        return failed("cp_none", {}, None, None)
    return _with_checkpoints(checker.success(), signed)


def _with_checkpoints(result: VerifyResult, signed: CheckpointChecker | None) -> VerifyResult:
    if signed is not None:
        result.checkpoints, result.signed_seq, result.signed_time = signed.count, signed.covered_seq, \
            signed.covered_time
    return result


def _count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")
