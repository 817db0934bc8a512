"""The environment of a process a test starts: what the test gives, plus coverage's own variables, so `make test`
also measures the code that runs there (coverage's `patch = ["subprocess"]`, pyproject.toml)."""
from __future__ import annotations

import os


def child_env(env: dict) -> dict:
    return {**{k: v for k, v in os.environ.items() if k.startswith("COVERAGE_")}, **env}
