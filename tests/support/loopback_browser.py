"""A stand-in for the system browser, for docs/examples/desktop_login.py run in a test (BROWSER=this, via a
wrapper script): it plays the professional through the bridge and the PSC emulator (tests.support.bridge
AppClient.follow), then delivers the final redirect to the app's loopback port, as a browser would.

    python -m tests.support.loopback_browser <authorize URL>
"""
from __future__ import annotations

import sys
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from tests.support.bridge import AppClient


def main(url: str) -> int:
    redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    browser = requests.Session()
    answer = AppClient.follow(SimpleNamespace(redirect_uri=redirect_uri), browser, url, user="899700000002")
    if not isinstance(answer, dict):
        print(f"login stopped on {answer.status_code} {answer.url}", file=sys.stderr)
        return 1
    page = browser.get(f"{redirect_uri}?{urlencode(answer)}", timeout=10)
    return 0 if page.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
