"""Admin console, cards (/admin/cards/): search by the card's printed number (typed, or scanned from the CODE_39
barcode of the card's envelope), its sessions and audit lines, and « carte perdue / opposée »: declare or lift an
opposition. HTTP only: bridge/admin/cards.py holds what it does, bridge/pki/opposition.py the opposition itself."""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from bridge.admin import cards
from bridge.pki.opposition import NumberError, typed_number
from bridge.web.admin import console_action, console_page, page
from bridge.web.context import bridge

bp = Blueprint("admin_cards", __name__, url_prefix="/admin/cards")
DONE = ("opposed", "lifted")


def _page(console, *, typed: str = "", number: str = "", error: str = "", status: int = 200, **context):
    b = bridge()
    listed = [cards.checked(b, o) for o in cards.oppositions(b).list()]
    view = cards.card_view(b, number, b.clock.now()) if number else None
    return page("cards.html", console, typed=typed, number=number, error=error, view=view, oppositions=listed,
                **context), status


@bp.get("/")
@console_page
def search(console):
    typed = request.args.get("number", "")[:64]
    done = request.args.get("done", "")
    context = {"done": done if done in DONE else "", "ended": request.args.get("ended", type=int)}
    if not typed.strip():
        return _page(console, **context)
    try:
        number = typed_number(typed)
    except NumberError as exc:
        return _page(console, typed=typed, error=exc.code, status=400)
    return _page(console, typed=typed, number=number, **context)


def _typed_or_error(console):
    """(number, None) from the form, or (None, the search page with the error)."""
    typed = request.form.get("number", "")[:64]
    try:
        return typed_number(typed), None
    except NumberError as exc:
        return None, _page(console, typed=typed, error=exc.code, status=400)


@bp.post("/oppose")
@console_action
def oppose(console):
    number, refusal = _typed_or_error(console)
    if refusal is not None:
        return refusal
    declared = cards.declare(bridge(), number, console.national_id)
    return redirect(url_for("admin_cards.search", number=number, done="opposed", ended=len(declared.ended)))


@bp.post("/lift")
@console_action
def lift(console):
    number, refusal = _typed_or_error(console)
    if refusal is not None:
        return refusal
    if cards.lift(bridge(), number, console.national_id) is None:
        return _page(console, typed=number, number=number, error="not_opposed", status=404)
    return redirect(url_for("admin_cards.search", number=number, done="lifted"))
