"""The policy set a served bridge runs: a validated copy of BRIDGE_POLICIES_DIR.

gunicorn workers load the copy, not the operator's directory: a worker that restarts (crash, timeout, memory
limit) must not pick up a half-edited file, and a bad file must never take the bridge down (a worker that cannot
load its application makes the gunicorn master stop everything). The copy changes only when `bridge serve`
starts and when gunicorn reloads (SIGHUP), and only once the files validate (bridge/gunicorn_conf.py).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bridge.policy.loader import load_policies, policy_files
from bridge.policy.schema import PolicySet

ACTIVE_ENV = "BRIDGE_POLICIES_ACTIVE_DIR"   # set by `bridge serve` for its workers: <root>/active
KEEP = 2                                      # snapshots kept: the active one and the one before it


def activate(source: Path, root: Path, *, dev: bool) -> PolicySet:
    """Validate the files of `source` (PolicyError lists every problem; nothing changes then), copy them into a
    new snapshot under `root` and point `root/active` at it in one step."""
    policies = load_policies(source, dev=dev)
    root.mkdir(parents=True, exist_ok=True)
    snapshot = Path(tempfile.mkdtemp(prefix="snap-", dir=root))
    for path in policy_files(source):
        shutil.copy2(path, snapshot / path.name)
    link = root / "active.new"
    link.unlink(missing_ok=True)
    link.symlink_to(snapshot.name)
    os.replace(link, root / "active")   # atomic: a worker booting now reads the old set or the new one
    # A worker may still be reading the previous snapshot: remove only older ones.
    for old in sorted(root.glob("snap-*"), key=lambda p: p.stat().st_mtime)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return policies
