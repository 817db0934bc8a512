"""Signing keys of the provider: current + previous keys, published together in the JWKS.

Keys live as JWK JSON files in BRIDGE_KEYS_DIR (mode 0600). In development a missing key is generated;
in production start-up refuses to run without one (`bridge keys rotate` creates it).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from joserfc.jwk import ECKey, KeySet, RSAKey

ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}


def _generate(alg: str):
    if alg == "RS256":
        key = RSAKey.generate_key(2048, private=True)
    else:
        key = ECKey.generate_key("P-256", private=True)
    params = {"kid": key.thumbprint(), "use": "sig", "alg": alg}
    return type(key).import_key(key.as_dict(private=True), parameters=params)


class KeyRing:
    """One current signing key per algorithm plus retired keys kept until their tokens have expired."""

    def __init__(self, directory: Path, *, create: bool = True):
        self.directory = Path(directory)
        self.current: dict[str, object] = {}
        self.retired: list[tuple[object, float]] = []
        self._load(create)
        self._stamp, self._checked = self._mtime(), time.monotonic()

    def _mtime(self) -> float:
        return max((p.stat().st_mtime for p in self.directory.glob("*.json")), default=0.0)

    def _reload_if_rotated(self) -> None:
        """`bridge keys rotate` in another process: every worker picks the new keys up within a second."""
        if time.monotonic() - self._checked < 1.0:
            return
        self._checked = time.monotonic()
        stamp = self._mtime()
        if stamp != self._stamp:
            self.current, self.retired = {}, []
            self._load(create=False)
            self._stamp = stamp

    def _file(self, alg: str) -> Path:
        return self.directory / f"{alg.lower()}-current.jwk.json"

    def _load(self, create: bool) -> None:
        for alg in ALGORITHMS:
            path = self._file(alg)
            if not path.exists():
                if not create:
                    raise FileNotFoundError(f"{path}: no {alg} signing key (run `bridge keys rotate`)")
                self._write(path, _generate(alg).as_dict(private=True))
            data = json.loads(path.read_text())
            self.current[alg] = (RSAKey if alg == "RS256" else ECKey).import_key(data)
        retired_file = self.directory / "retired.json"
        if retired_file.exists():
            for item in json.loads(retired_file.read_text()):
                if item["until"] > time.time():
                    cls = RSAKey if item["key"]["kty"] == "RSA" else ECKey
                    self.retired.append((cls.import_key(item["key"]), item["until"]))

    def _write(self, path: Path, data) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)

    def signing_key(self, alg: str = "RS256"):
        self._reload_if_rotated()
        return self.current[alg]

    def jwks(self) -> dict:
        self._reload_if_rotated()
        keys = [*self.current.values(), *(key for key, _ in self.retired if _ > time.time())]
        return KeySet(keys).as_dict(private=False)

    def rotate(self, keep_seconds: int) -> list[str]:
        """New keys sign from now on; the old ones stay published for keep_seconds (longest token lifetime)."""
        until = time.time() + keep_seconds
        retired = [{"key": key.as_dict(private=False), "until": until} for key in self.current.values()]
        retired += [{"key": key.as_dict(private=False), "until": t} for key, t in self.retired if t > time.time()]
        self._write(self.directory / "retired.json", retired)
        for alg in ALGORITHMS:
            self._write(self._file(alg), _generate(alg).as_dict(private=True))
        self.current, self.retired = {}, []
        self._load(create=False)
        self._stamp = self._mtime()
        return [key.kid for key in self.current.values()]
