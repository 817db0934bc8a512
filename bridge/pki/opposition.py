"""Card oppositions ("carte perdue / opposée"): a card an administrator declared lost or opposed at this
establishment is refused at every card login (cps-pin, cps-tls) until the IGC-Santé CRL lists its certificate, from
when the CRL check refuses it anyway.

    oppositions = Oppositions(store, clock)
    oppositions.declare("2400140649", by="899700000001", certificates=[Certificate(sha256, issuer, serial)])
    found = oppositions.match(card.cert_sha256, card.logical_number)   # None, or the Match that refuses the card
    oppositions.lift("2400140649")

Here, in bridge/pki, because an opposition is a local revocation: checked right after the chain and CRL checks,
and superseded by the CRL. It knows the store and the clock only; ending the card's sessions and writing the audit
are the console's (bridge/admin/cards.py) and the login's (bridge/upstream/cps.py) business.

The number the card agent reports is read from the chip by the workstation and is NOT authenticated (a tampered
agent reports what it likes). So an opposition holds the number AND the SHA-256 of every certificate seen with it
(the certificate is authenticated: chain, CRL, and for cps-pin the card's signature over the challenge). A
certificate refused because of the number it came with joins the opposition: the card stays refused whatever
number it reports next.

Store keys, each with a TTL (OPPOSITION_TTL, longer than a CPS certificate lives), refreshed when written:
    {opposition}:card:<number>    JSON {number, declared_at, declared_by}
    {opposition}:certs:<number>   hash sha256 -> JSON {issuer, serial, source, seen_at, listed_at}
    {opposition}:cert:<sha256>    the number: the login check's lookup by certificate
    {opposition}:all              hash number -> declared_at: the console's list
"""
from __future__ import annotations

import json
import string
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

from bridge.cps_number import LENGTH, normalize_typed

OPPOSITION_TTL = 4 * 366 * 24 * 3600   # a CPS certificate is valid 3 years: an opposition outlives the card
PREFIX = "{opposition}"                # one Redis Cluster slot: the multi-key reads and deletes stay legal
ALL = f"{PREFIX}:all"
SEPARATORS = " -*.\t"                  # what people and barcode scanners (CODE_39 `*…*`) type around the digits


class NumberError(ValueError):
    """A typed card number that is not one: `code` says why (empty, characters, length)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def typed_number(value: str | None) -> str:
    """The 10-digit printed number from what was typed or scanned (`*2400140649*`, `24 0014 0649`, `2400-140-649`);
    NumberError when it holds anything else or is not 10 digits long."""
    text = (value or "").strip()
    if not text:
        raise NumberError("card_number_empty")
    if any(ch not in string.digits and ch not in SEPARATORS for ch in text):
        raise NumberError("card_number_characters")
    digits = normalize_typed(text)
    if len(digits) != LENGTH:
        raise NumberError("card_number_length")
    return digits


@dataclass(frozen=True)
class Certificate:
    """One card certificate of an opposition. `issuer` (RFC 4514) and `serial` (hex) are what a CRL lists: known
    when the certificate came through a login since they are recorded, empty for older audit lines."""
    sha256: str
    issuer: str = ""
    serial: str = ""
    source: str = ""        # where it was found: session | audit | login
    seen_at: float = 0.0
    listed_at: float = 0.0  # when a CRL was first seen listing it; 0: not (yet)


@dataclass(frozen=True)
class Opposition:
    number: str
    declared_at: float
    declared_by: str        # the administrator's national id
    certificates: tuple[Certificate, ...] = ()

    @property
    def crl_listed(self) -> bool:
        """Every certificate seen with the card is revoked by its CA: the CRL refuses the card now, the opposition
        may be lifted. Never true while no certificate is known (a number alone says nothing a CRL can list)."""
        return bool(self.certificates) and all(c.listed_at for c in self.certificates)


@dataclass(frozen=True)
class Match:
    """Why a login is refused: its certificate is opposed (`by` "certificate") or the number reported with it is
    (`by` "number")."""
    opposition: Opposition
    cert_sha256: str
    by: str


def _card(number: str) -> str:
    return f"{PREFIX}:card:{number}"


def _certs(number: str) -> str:
    return f"{PREFIX}:certs:{number}"


def _cert(sha256: str) -> str:
    return f"{PREFIX}:cert:{sha256}"


def _merged(old: Certificate | None, new: Certificate) -> Certificate:
    """Keep what each sighting knows: the first sighting's time and source, a CRL listing once seen."""
    if old is None:
        return new
    return replace(old, issuer=old.issuer or new.issuer, serial=old.serial or new.serial,
                   listed_at=old.listed_at or new.listed_at)


class Oppositions:
    def __init__(self, store, clock):
        self.store, self.clock = store, clock

    def get(self, number: str) -> Opposition | None:
        record = self.store.get_json(_card(number))
        if record is None:
            return None
        certificates = [Certificate(sha256=sha, **json.loads(raw))
                        for sha, raw in self.store.hash_get_all(_certs(number)).items()]
        return Opposition(record["number"], record["declared_at"], record["declared_by"],
                          tuple(sorted(certificates, key=lambda c: (c.seen_at, c.sha256))))

    def list(self) -> list[Opposition]:
        """Every opposition in force, the latest declared first."""
        found = [self.get(number) for number in self.store.hash_get_all(ALL)]
        return sorted((o for o in found if o is not None), key=lambda o: o.declared_at, reverse=True)

    def declare(self, number: str, by: str, certificates: Iterable[Certificate] = ()) -> Opposition:
        """Oppose the card (a second declaration keeps the first one's date and author and adds certificates)."""
        existing = self.get(number)
        if existing is None:
            record = {"number": number, "declared_at": self.clock.now(), "declared_by": by}
            self.store.set_json(_card(number), record, OPPOSITION_TTL)
            self.store.hash_set(ALL, {number: str(record["declared_at"])}, OPPOSITION_TTL)
        self.add(number, certificates)
        return self.get(number)

    def add(self, number: str, certificates: Iterable[Certificate]) -> None:
        """Certificates seen with the card: each refused at login from now on, whatever number comes with it."""
        known = {c.sha256: c for c in (self.get(number) or Opposition(number, 0, "")).certificates}
        for certificate in certificates:
            if not certificate.sha256:
                continue
            merged = _merged(known.get(certificate.sha256), certificate)
            known[certificate.sha256] = merged
            fields = {k: v for k, v in asdict(merged).items() if k != "sha256"}
            self.store.hash_set(_certs(number), {merged.sha256: json.dumps(fields)}, OPPOSITION_TTL)
            self.store.set(_cert(merged.sha256), number, OPPOSITION_TTL)

    def lift(self, number: str) -> Opposition | None:
        """End the opposition; None when there was none."""
        opposition = self.get(number)
        if opposition is None:
            return None
        mine = [c.sha256 for c in opposition.certificates]
        pointers = self.store.get_many([_cert(sha) for sha in mine]) if mine else []
        # A certificate another opposition took over since keeps that one's pointer.
        self.store.delete(_card(number), _certs(number),
                          *(_cert(sha) for sha, owner in zip(mine, pointers, strict=True) if owner == number))
        self.store.hash_delete(ALL, number)
        return opposition

    def match(self, cert_sha256: str, reported_number: str = "") -> Match | None:
        """The opposition that refuses this certificate, by its fingerprint first, then by the reported number (in
        which case the certificate joins the opposition)."""
        keys = [_cert(cert_sha256)] + ([_card(reported_number)] if reported_number else [])
        values = self.store.get_many(keys)
        owner = values[0]
        if owner:
            opposition = self.get(owner)
            if opposition is not None:    # else: the pointer of a lifted opposition, left by a race
                return Match(opposition, cert_sha256, "certificate")
        if reported_number and values[1]:
            opposition = self.get(reported_number)
            if opposition is not None:
                return Match(opposition, cert_sha256, "number")
        return None

    def listed(self, number: str, sha256: str) -> None:
        """The CRL lists this certificate of the opposition (seen at a login or by the console)."""
        opposition = self.get(number)
        found = next((c for c in opposition.certificates if c.sha256 == sha256), None) if opposition else None
        if found is not None and not found.listed_at:
            self.add(number, [replace(found, listed_at=self.clock.now())])

    def check_crl(self, opposition: Opposition, trust) -> Opposition:
        """Ask the CRLs at hand (`trust`: a bridge.pki.TrustStore) about every certificate not yet seen listed."""
        for certificate in opposition.certificates:
            if certificate.listed_at or not (certificate.issuer and certificate.serial):
                continue
            if trust.listed(certificate.issuer, int(certificate.serial, 16)):
                self.listed(opposition.number, certificate.sha256)
        return self.get(opposition.number) or opposition
