"""Signed audit checkpoints: every N lines or T seconds the writer appends an `audit_checkpoint` line whose
`details.jws` is a JWS (ES256, compact) over the seq and hash of the line before it (the chain head), the time
and the seq of the previous checkpoint line. The key is a dedicated P-256 key in BRIDGE_AUDIT_KEY_FILE (JWK JSON,
0600, generated when absent); `bridge audit key --public` prints its public half for the auditor.

The writer's state (seq and time of the last checkpoint line) is `<file>.checkpoint`, read and written under the
same flock as the lines, so that the workers of one host share one series. docs/audit.md "## Signed checkpoints".
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from bridge.i18n import N_, translated

CHECKPOINT_EVENT = "audit_checkpoint"
ALG = "ES256"

MESSAGES = {
    "cp_bad_signature": N_(
        "la signature du point de contrôle ne se vérifie pas avec la clé d'audit : fichier réécrit ou autre clé"),
    "cp_mismatch": N_(
        "le point de contrôle signé ne correspond pas à la chaîne (seq {seq}) : fichier réécrit et rechaîné"),
    "cp_previous": N_(
        "le point de contrôle ne désigne pas le précédent (seq {expected}, lu {found}) : point de contrôle supprimé"),
    "cp_none": N_(
        "aucun point de contrôle signé : rien dans ce fichier n'est garanti par la clé d'audit "
        "(points de contrôle retirés, ou jamais activés)"),
}


class AuditKeyError(RuntimeError):
    """The audit key file cannot be read or is not an EC P-256 JWK."""


def load_or_create_key(path: Path) -> ECKey:
    """The private audit key in `path`; generated (mode 0600) when the file does not exist yet."""
    path = Path(path)
    if not path.exists():
        _create_key(path)
    return load_key(path)


def _create_key(path: Path) -> None:
    key = ECKey.generate_key("P-256", private=True)
    data = json.dumps({**key.as_dict(private=True), "kid": key.thumbprint(), "alg": ALG, "use": "sig"})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")  # mkstemp: 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temp, path)   # atomic and never replaces a key another worker created meanwhile
        except FileExistsError:
            pass
    finally:
        os.unlink(temp)


def load_key(path: Path) -> ECKey:
    """An EC P-256 JWK (private or public) from a JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        key = ECKey.import_key(data)
    except (OSError, ValueError, JoseError, TypeError) as exc:
        raise AuditKeyError(f"audit key {path}: {exc}") from None
    if key.as_dict().get("crv") != "P-256":
        raise AuditKeyError(f"audit key {path}: not a P-256 key")
    return key


def public_jwk(key: ECKey) -> dict:
    return {**key.as_dict(private=False), "kid": key.thumbprint(), "alg": ALG, "use": "sig"}


@dataclass
class Checkpoints:
    """When the writer appends a checkpoint, and with which key. 0 turns a trigger off."""
    key: ECKey
    lines: int = 1000
    seconds: int = 300

    def due(self, state: tuple[int, float], seq: int, now: float) -> bool:
        """`state`: (seq, time) of the last checkpoint line; `seq`: the line just written."""
        last_seq, last_time = state
        return bool((self.lines and seq - last_seq >= self.lines)
                    or (self.seconds and now - last_time >= self.seconds))

    def sign(self, seq: int, digest: str, time: str, previous: int) -> str:
        payload = {"seq": seq, "hash": digest, "time": time, "prev_checkpoint": previous}
        header = {"alg": ALG, "kid": self.key.thumbprint(), "typ": "audit-checkpoint"}
        return jws.serialize_compact(header, json.dumps(payload, separators=(",", ":")), self.key,
                                     algorithms=[ALG])


def read_state(path: Path) -> tuple[int, float]:
    """(seq, time) of the last checkpoint line; (0, 0.0) when none was written or the state is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return int(data["seq"]), float(data["time"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0, 0.0


def write_state(path: Path, seq: int, now: float) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps({"seq": seq, "time": now}), encoding="utf-8")
    os.replace(temp, path)


def state_path(path: Path) -> Path:
    return path.with_name(path.name + ".checkpoint")


# --- verification ----------------------------------------------------------------------------------------

class CheckpointChecker:
    """Checks the checkpoint lines met along a verified chain against the auditor's public key."""

    def __init__(self, key: ECKey, *, allow_partial_start: bool = False):
        self.key = key
        self.partial = allow_partial_start
        self.count = 0
        self.last_line = 0        # seq of the last checkpoint line
        self.covered_seq = 0      # seq of the last line a signature covers
        self.covered_time = ""

    def feed(self, obj: dict) -> tuple[str, dict] | None:
        """`obj`: a line that continues the chain (other events pass)."""
        if obj.get("event") != CHECKPOINT_EVENT:
            return None
        compact = obj["details"].get("jws") if isinstance(obj["details"], dict) else None
        try:
            payload = json.loads(jws.deserialize_compact(str(compact), self.key, algorithms=[ALG]).payload)
        except (JoseError, ValueError, TypeError):
            return "cp_bad_signature", {}
        if not isinstance(payload, dict) or payload.get("seq") != obj["seq"] - 1 or payload.get("hash") != obj["prev"]:
            return "cp_mismatch", {"seq": obj["seq"]}
        previous = payload.get("prev_checkpoint")
        if previous != self.last_line and not (self.partial and self.count == 0):
            return "cp_previous", {"expected": self.last_line, "found": previous}
        self.count += 1
        self.last_line, self.covered_seq = obj["seq"], payload["seq"]
        self.covered_time = str(payload.get("time", ""))
        return None


def is_checkpoint(line: bytes) -> bool:
    return b'"event":"' + CHECKPOINT_EVENT.encode() + b'"' in line


def render(code: str, lang: str = "en", **params) -> str:
    return translated(MESSAGES[code], lang).format(**params)
