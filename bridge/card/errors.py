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


class NoCpsCard(CardError):
    """Cards are present (e.g. the patient's carte Vitale), but none is a CPx card."""
    code = "no_cps_card"


class SeveralCards(CardError):
    """More than one CPx card is present and the request did not say which reader to use."""
    code = "several_cards"


class CardRemoved(CardError):
    code = "card_removed"


class CardReset(CardError):
    """Another application reset the card after our PIN verification: signing now would use a card whose state
    we no longer know, so the PIN must be entered again."""
    code = "card_reset"


class Busy(CardError):
    """Another application (e.g. the billing software) kept the card longer than we wait."""
    code = "busy"


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
