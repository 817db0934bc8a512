"""Signing keys of the provider: current, next and retired keys, published together in the JWKS.

Keys live as JWK JSON files in BRIDGE_KEYS_DIR (mode 0600). In development a missing key is generated;
in production start-up refuses to run without one (`bridge keys rotate` creates it).

Rotation timeline (docs/provider.md "## Keys"): `bridge keys rotate` writes *next* keys (`next.json`) that are
published at once but sign only from `signs_from` = now + PUBLISH_BEFORE_SIGNING, i.e. after every client's cached
JWKS (Cache-Control max-age = JWKS_MAX_AGE) has had time to expire. From then on the previous keys are retired:
still published and still verifying (id_token_hint at logout) for `keep` seconds (RETIRED_KEEP by default: the
longest session plus the ID token lifetime). The switch needs no write by the serving processes: every process
derives the same state from the files and its clock. `bridge keys rotate --now` switches at once (emergency).

Files (all JWK JSON, mode 0600): `rs256-current.jwk.json`, `es256-current.jwk.json` (private keys signing now, or
until their next key takes over), `retired.json` (public keys with an `until` epoch) and, during a rotation,
`next.json` (`[{"alg", "key" (private), "signs_from", "keep"}]`). Directories written before `next.json` existed
load unchanged.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from bridge.clock import Clock

ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}

JWKS_MAX_AGE = 300                      # Cache-Control max-age of /jwks (bridge/web/oidc.py)
RELOAD_INTERVAL = 1.0                   # every process re-reads the key files at most this often
# A next key signs only after it has been published for the JWKS cache lifetime, plus a margin for the workers'
# reload, an HTTP cache's Age rounding and clock skew between hosts.
PUBLISH_BEFORE_SIGNING = JWKS_MAX_AGE + 60
ID_TOKEN_TTL = 300                      # bridge/provider/grants.py ID_TOKEN_TTL (logout tokens live less)
LONGEST_SESSION = 4 * 3600              # RIE-PS 13 absolute session limit (bridge.policy.rules.SESSION_LIMIT)
# Retired keys stay published and verifying while a token they signed may still be presented: an ID token is
# accepted as id_token_hint for the whole session it belongs to (≤ 4 h), and it was signed at most ID_TOKEN_TTL
# plus one JWKS cache lifetime before anyone could notice the switch.
RETIRED_KEEP = LONGEST_SESSION + ID_TOKEN_TTL + JWKS_MAX_AGE

NEXT_FILE = "next.json"
RETIRED_FILE = "retired.json"


class RotationPending(RuntimeError):
    """A rotation is already under way: its next keys do not sign yet."""


def _generate(alg: str):
    if alg == "RS256":
        key = RSAKey.generate_key(2048, private=True)
    else:
        key = ECKey.generate_key("P-256", private=True)
    params = {"kid": key.thumbprint(), "use": "sig", "alg": alg}
    return type(key).import_key(key.as_dict(private=True), parameters=params)


def _import(data: dict):
    return (RSAKey if data["kty"] == "RSA" else ECKey).import_key(data)


def retired_keep(policies=None) -> int:
    """How long retired keys stay: the longest absolute session of the policies (≥ 4 h) plus the token lifetimes."""
    longest = LONGEST_SESSION
    if policies is not None:
        longest = max([longest, *(service.max_session for service in policies.services.values())])
    return longest + ID_TOKEN_TTL + JWKS_MAX_AGE


class KeyRing:
    """One signing key per algorithm, the next ones being published before they sign, and retired keys kept
    until the tokens they signed can no longer be presented."""

    def __init__(self, directory: Path, *, create: bool = True, clock: Clock | None = None):
        self.directory = Path(directory)
        self.clock = clock or Clock()
        # One tuple, replaced as a whole on reload, so that a request never mixes two generations of files:
        # (current: alg -> key as in the *-current files, next: alg -> (key, signs_from, keep), retired: [(key, until)])
        self._ring: tuple[dict, dict, list] = ({}, {}, [])
        self._load(create)
        self._stamp, self._checked = self._mtime(), time.monotonic()

    @property
    def current(self) -> dict:
        return self._ring[0]

    @property
    def next(self) -> dict:
        return self._ring[1]

    @property
    def retired(self) -> list:
        return self._ring[2]

    def _mtime(self) -> float:
        return max((p.stat().st_mtime for p in self.directory.glob("*.json")), default=0.0)

    def _reload_if_rotated(self) -> None:
        """`bridge keys rotate` in another process: every worker picks the new keys up within a second."""
        if time.monotonic() - self._checked < RELOAD_INTERVAL:
            return
        self._checked = time.monotonic()
        stamp = self._mtime()
        if stamp != self._stamp:
            self._load(create=False)
            self._stamp = stamp

    def _file(self, alg: str) -> Path:
        return self.directory / f"{alg.lower()}-current.jwk.json"

    def _load(self, create: bool) -> None:
        current, upcoming, retired = {}, {}, []
        for alg in ALGORITHMS:
            path = self._file(alg)
            if not path.exists():
                if not create:
                    raise FileNotFoundError(f"{path}: no {alg} signing key (run `bridge keys rotate`)")
                self._write(path, _generate(alg).as_dict(private=True))
            current[alg] = _import(json.loads(path.read_text()))
        now = self.clock.now()
        retired_file = self.directory / RETIRED_FILE
        if retired_file.exists():
            for item in json.loads(retired_file.read_text()):
                if item["until"] > now:
                    retired.append((_import(item["key"]), item["until"]))
        next_file = self.directory / NEXT_FILE
        if next_file.exists():
            for item in json.loads(next_file.read_text()):
                if item.get("alg") in ALGORITHMS:
                    upcoming[item["alg"]] = (_import(item["key"]), float(item["signs_from"]),
                                             float(item.get("keep", RETIRED_KEEP)))
        self._ring = (current, upcoming, retired)

    def _write(self, path: Path, data) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)

    # -- state at a given time (derived, never written by the serving processes) --

    def _state(self, now: float):
        """(signing keys by alg, published-only next keys, retired keys with their `until`) at `now`."""
        current, upcoming, kept = self._ring
        signing, pending = dict(current), []
        retired = [(key, until) for key, until in kept if until > now]
        for alg, (key, signs_from, keep) in upcoming.items():
            if signs_from <= now:
                if signs_from + keep > now:
                    retired.append((signing[alg], signs_from + keep))
                signing[alg] = key
            else:
                pending.append(key)
        return signing, pending, retired

    def signing_key(self, alg: str = "RS256"):
        self._reload_if_rotated()
        return self._state(self.clock.now())[0][alg]

    def active(self) -> dict[str, object]:
        """The keys that sign now, by algorithm."""
        self._reload_if_rotated()
        return self._state(self.clock.now())[0]

    def pending(self) -> dict[str, float]:
        """Kids of the next keys that do not sign yet, with the epoch they start signing at."""
        self._reload_if_rotated()
        now = self.clock.now()
        return {key.kid: signs_from for key, signs_from, _ in self.next.values() if signs_from > now}

    def jwks(self) -> dict:
        self._reload_if_rotated()
        signing, pending, retired = self._state(self.clock.now())
        keys, seen = [], set()
        for key in [*signing.values(), *pending, *(key for key, _ in retired)]:
            if key.kid not in seen:
                seen.add(key.kid)
                keys.append(key)
        return KeySet(keys).as_dict(private=False)

    def verify(self, token: str) -> dict:
        """The claims of a JWT signed by one of the keys this bridge publishes; ValueError for anything else.
        The signature only: what the token must say (issuer, audience, nonce, expiry) is the caller's to check."""
        try:
            return dict(jwt.decode(token, KeySet.import_key_set(self.jwks()), algorithms=list(ALGORITHMS)).claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise ValueError(f"not signed by this bridge: {exc}") from None

    def rotate(self, keep_seconds: int = RETIRED_KEEP, *, now: bool = False,
               publish_seconds: int = PUBLISH_BEFORE_SIGNING) -> list[str]:
        """Start a rotation; returns the new kids.

        Default: new keys are published now and sign from now + publish_seconds; the keys they replace then stay
        published (and verify) for keep_seconds. now=True (emergency): the new keys sign at once, the previous
        ones are retired from now for keep_seconds (0 drops them from the JWKS immediately). A rotation whose next
        keys do not sign yet is finished or replaced only with now=True (RotationPending otherwise)."""
        self._load(create=True)
        at = self.clock.now()
        if self.pending() and not now:
            raise RotationPending(f"next keys published, signing from {min(self.pending().values()):.0f}")
        signing, _, retired = self._state(at)
        # Settle the rotation that already took effect (or drop next keys that never signed) into the files.
        for alg, key in signing.items():
            if key.kid != self.current[alg].kid:
                self._write(self._file(alg), key.as_dict(private=True))
        new = {alg: _generate(alg) for alg in ALGORITHMS}
        if now:
            retired += [(key, at + keep_seconds) for key in signing.values() if keep_seconds > 0]
            entries = [{"key": key.as_dict(private=False), "until": until} for key, until in retired]
            self._write(self.directory / RETIRED_FILE, entries)
            for alg, key in new.items():
                self._write(self._file(alg), key.as_dict(private=True))
            self._remove(self.directory / NEXT_FILE)
        else:
            entries = [{"key": key.as_dict(private=False), "until": until} for key, until in retired]
            self._write(self.directory / RETIRED_FILE, entries)
            self._write(self.directory / NEXT_FILE,
                        [{"alg": alg, "key": key.as_dict(private=True), "signs_from": at + publish_seconds,
                          "keep": keep_seconds} for alg, key in new.items()])
        self._load(create=False)
        self._stamp = self._mtime()
        return [key.kid for key in new.values()]

    def _remove(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
