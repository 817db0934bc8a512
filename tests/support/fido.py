"""A software FIDO2 authenticator: the registrations and assertions a real key would send, built with cryptography
and cbor2 (py_webauthn's own CBOR library), so bridge.upstream.fido is tested against bytes, not mocks.

    key = SoftKey()
    credential = key.register(options, origin="http://localhost:8000")          # navigator.credentials.create
    assertion = key.assert_(options, origin="http://localhost:8000")            # navigator.credentials.get
Knobs: uv=False (no user verification), rp_id= (another site), counter= (a cloned key replays an old one).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftKey:
    def __init__(self, *, synced: bool = False):
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0
        self.user_handle = b""
        self.synced = synced

    def _cose(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _flags(self, uv: bool) -> int:
        return UP | (UV if uv else 0) | ((BE | BS) if self.synced else 0)

    def register(self, options: dict, *, origin: str, rp_id: str | None = None, uv: bool = True,
                 challenge: str | None = None) -> str:
        rp = rp_id or options["rp"]["id"]
        self.user_handle = unb64url(options["user"]["id"])
        client = json.dumps({"type": "webauthn.create", "challenge": challenge or options["challenge"],
                             "origin": origin, "crossOrigin": False}).encode()
        auth_data = (hashlib.sha256(rp.encode()).digest() + bytes([self._flags(uv) | AT])
                     + struct.pack(">I", self.counter) + bytes(16) + struct.pack(">H", len(self.credential_id))
                     + self.credential_id + self._cose())
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps({"id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
                           "response": {"clientDataJSON": b64url(client), "attestationObject": b64url(attestation),
                                        "transports": ["internal"]},
                           "clientExtensionResults": {}})

    def assert_(self, options: dict, *, origin: str, rp_id: str | None = None, uv: bool = True,
                counter: int | None = None, challenge: str | None = None) -> str:
        rp = rp_id or options["rpId"]
        if counter is None:
            self.counter += 1
            counter = self.counter
        client = json.dumps({"type": "webauthn.get", "challenge": challenge or options["challenge"],
                             "origin": origin, "crossOrigin": False}).encode()
        auth_data = hashlib.sha256(rp.encode()).digest() + bytes([self._flags(uv)]) + struct.pack(">I", counter)
        signature = self.private.sign(auth_data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps({"id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
                           "response": {"clientDataJSON": b64url(client), "authenticatorData": b64url(auth_data),
                                        "signature": b64url(signature), "userHandle": b64url(self.user_handle)},
                           "clientExtensionResults": {}})
