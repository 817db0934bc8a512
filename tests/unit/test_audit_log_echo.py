"""Without an audit file or stream, each audit line goes to the log as a JSON object, not as JSON inside a string."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr

from bridge import logs
from bridge.audit import open_audit
from bridge.audit.chain import encode_line, line_hash
from bridge.config import load_settings


def test_an_audit_line_in_the_log_is_an_object_that_still_chains():
    logs.configure("INFO")
    audit = open_audit(load_settings({}))
    with redirect_stderr(io.StringIO()) as stderr:
        first = audit.record("policy_loaded", outcome="info", service="dmp")
        audit.record("policy_loaded", outcome="info", service="dpi")
    echoed = [json.loads(line) for line in stderr.getvalue().splitlines()]
    assert [entry["event"] for entry in echoed] == ["audit", "audit"]
    assert (
        echoed[0]["audit"]["event"] == "policy_loaded"
        and echoed[0]["audit"]["service"] == "dmp"
    )
    assert "line" not in echoed[0]
    # The object gives the chained bytes back: the second line's `prev` is the hash of the first.
    assert encode_line(echoed[0]["audit"]) == encode_line(first)
    assert echoed[1]["audit"]["prev"] == line_hash(encode_line(echoed[0]["audit"]))
