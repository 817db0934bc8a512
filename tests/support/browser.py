"""Debian's chromium driven by Playwright (no browser download here): one launcher for every e2e test."""
from __future__ import annotations

import pytest

CHROMIUM = "/usr/bin/chromium"
# No network on the machine: background networking would only produce refused connections.
ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync")


def launch(playwright, extra_args=()):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*ARGS, *extra_args])


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    return chromium.new_context(locale="fr-FR").new_page()
