"""Test controls under `{base_url}/_emulator/` (not part of PSC): faults, key rotation, clock."""
from __future__ import annotations

from flask import jsonify, request

from .backchannel import end_and_notify
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


def end_sessions():
    """`{"sid": …}` or `{"user": SubjectNameID}` ends those SSO sessions as a logout elsewhere would (another
    application's logout, a revocation), with back-channel logout unless `"backchannel": false`."""
    emu = emulator()
    body = request.get_json(force=True, silent=True) or {}
    sids = [body["sid"]] if isinstance(body.get("sid"), str) else \
        emu.state.live_sessions_of(body["user"]) if isinstance(body.get("user"), str) else None
    if sids is None:
        return jsonify({"error": "invalid_request", "error_description": "sid or user"}), 400
    notify = body.get("backchannel", True) is not False
    return jsonify({"ended": {sid: end_and_notify(emu, sid, notify=notify) for sid in sids}})
