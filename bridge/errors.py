"""The bridge's refusals. Each has a `code` (its words for the user in bridge/web/messages.py, its reason in the
audit trail), a `detail` for the logs, and the HTTP status it maps to: decided here, once, not at each call site."""
from __future__ import annotations

# Codes whose status differs from their family's default (see each class's `default_status`).
STATUS = {
    "psc_timeout": 504,                  # PSC did not answer in time
    "challenge_invalid": 400,            # our own request to the card page was wrong, not the card
    "challenge_expired": 400,
    "proof_malformed": 400,
    "cps_tls_no_certificate": 400,
    "txn_invalid": 400,
    "admin_disabled": 404,               # no admin policy: the console does not exist
    "admin_misconfigured": 500,
}


class BridgeError(Exception):
    default_status = 400

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail

    @property
    def status(self) -> int:
        return STATUS.get(self.code, self.default_status)
