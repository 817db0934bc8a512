"""The card's printed number ("numéro logique", 10 digits on the mailer and as a CODE_39 barcode on the envelope)
from what the chip holds: the one rule the card agent, the server and the admin console share.

The chip's EF.SN.ICC holds a PAN: ANS issuer `80 25 00 00 01` then the card number in BCD, possibly followed by a
Luhn check digit and `F` padding (ANS Cryptolib strips both to name the token). The agent reports the digits after
the issuer without the `F` nibbles (`CpxCard.serial`). That the printed 10-digit number is exactly those digits,
without the Luhn digit when there are 11, is UNCONFIRMED (docs/card.md, « Numéro de carte »):
check it against a real card and its mailer, and change only this function.
"""
from __future__ import annotations

LENGTH = 10


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def logical_number(serial: str) -> str:
    """The printed card number for the chip's serial, or "" when the serial does not look like one."""
    if not isinstance(serial, str) or not serial.isdigit():
        return ""
    if len(serial) == LENGTH:
        return serial
    if len(serial) == LENGTH + 1 and luhn_ok(serial):
        return serial[:LENGTH]
    return ""


def normalize_typed(value: str) -> str:
    """What a person or a barcode scanner typed (spaces, dashes, CODE_39 `*` start/stop characters) -> digits."""
    return "".join(ch for ch in (value or "") if ch.isdigit())
