"""Test controls under `{base_url}/_emulator/` (not part of PSC): faults, key rotation, clock."""
from __future__ import annotations

from flask import jsonify, request

from .core import emulator
from .faults import FaultError, validate_faults


def faults():
    emu = emulator()
    if request.method == "GET":
        return jsonify(emu.state.faults)
    try:
        emu.state.faults = validate_faults(request.get_json(force=True, silent=True))
    except FaultError as error:
        return jsonify({"error": "invalid_faults", "error_description": str(error)}), 400
    return jsonify(emu.state.faults)


def rotate_keys():
    return jsonify({"kid": emulator().keys.rotate()})


def clock():
    """`{"advance": seconds}` moves the emulator's clock forward (token, code and session expiry)."""
    emu = emulator()
    body = request.get_json(force=True, silent=True) or {}
    advance = body.get("advance", 0)
    if not isinstance(advance, (int, float)) or isinstance(advance, bool) or advance < 0:
        return jsonify({"error": "invalid_request", "error_description": "advance: positive seconds"}), 400
    emu.state.clock.advance(advance)
    return jsonify({"now": emu.state.now()})
