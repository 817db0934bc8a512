"""Typed card errors. `code` is the machine code the agent returns and the web layer translates."""
from __future__ import annotations


class CardError(Exception):
    code = "card_error"

    def __init__(self, message: str = ""):
        super().__init__(message or self.code)


class NoReader(CardError):
    code = "no_reader"


class NoCard(CardError):
    code = "no_card"


class CardRemoved(CardError):
    code = "card_removed"


class UnsupportedCard(CardError):
    code = "unsupported_card"


class WrongPin(CardError):
    code = "wrong_pin"

    def __init__(self, tries_left: int):
        super().__init__(f"wrong PIN, {tries_left} tries left")
        self.tries_left = tries_left


class CardBlocked(CardError):
    code = "card_blocked"

    def __init__(self, message: str = "PIN blocked: unblock with the 8-digit code"):
        super().__init__(message)


class CardStatusError(CardError):
    """The card answered an unexpected status word."""

    def __init__(self, what: str, sw: int):
        super().__init__(f"{what}: status {sw:04X}")
        self.sw = sw
