"""PSC Bridge web application. `python app.py` runs the development server on embedded defaults."""
from __future__ import annotations

import sys
from pathlib import Path

from bridge.config import ConfigError, error_line
from bridge.policy import PolicyError
from bridge.web.factory import create_app

ROOT = Path(__file__).resolve().parent
__all__ = ["create_app", "main"]


def _development_card_trust() -> None:
    """`python app.py` on embedded defaults: the shipped teleservice allows cps-pin, so trust the test PKI
    (var/testpki, as `make demo` and `bridge sandbox card`). Never in production."""
    import os

    if os.environ.get("BRIDGE_ENV", "development") != "development" or os.environ.get("BRIDGE_TRUST_DIR"):
        return
    from bridge.demo import PKI_SEED, trust_env
    from bridge.sandbox.testpki import TestPki

    for name, value in trust_env(TestPki(PKI_SEED, ROOT / "var/testpki")).items():
        os.environ.setdefault(name, value)


def main() -> int:
    _development_card_trust()
    try:
        app = create_app()
    except (ConfigError, PolicyError) as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    settings = app.extensions["bridge"].settings
    host, port = "127.0.0.1", int(settings.public_url.rsplit(":", 1)[-1].split("/")[0] or 8000)
    app.run(host=host, port=port, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
