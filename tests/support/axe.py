"""axe-core (bundled by axe-playwright-python) on a Playwright page (sync API): WCAG 2.1 A and AA rules only.

`check_page(page)` is the one call an e2e test needs: it fails on any `serious` or `critical` violation, with the
rule, its impact, the elements (CSS selectors) and axe's help page, and returns every violation (for counts).
`Tour` does the same over several pages and fails once, listing every page's violations (docs/accessibility.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
BLOCKING = ("serious", "critical")
OPTIONS = {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)}, "resultTypes": ["violations"]}


def violations(page) -> list[dict]:
    """Every WCAG 2.1 A/AA violation axe finds in the page as it is now (hidden elements are not checked)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page, options=OPTIONS).response["violations"]


def blocking(found: list[dict]) -> list[dict]:
    return [v for v in found if v.get("impact") in BLOCKING]


def report(found: list[dict], where: str = "") -> str:
    """One paragraph per rule: id, impact, what it asks, the elements' selectors, axe's help URL."""
    lines = []
    for v in found:
        lines.append(f"{where + ': ' if where else ''}{v['id']} ({v.get('impact')}): {v['help']} — {v['helpUrl']}")
        for node in v["nodes"]:
            target = " ".join(" >>> ".join(t) if isinstance(t, list) else t for t in node["target"])
            lines.append(f"    {target}: {node.get('failureSummary', '').replace(chr(10), ' ')}")
    return "\n".join(lines)


def check_page(page, where: str | None = None) -> list[dict]:
    """Fail on any serious or critical WCAG 2.1 A/AA violation of `page`; return all its violations."""
    found = violations(page)
    bad = blocking(found)
    assert not bad, f"{len(bad)} serious/critical accessibility violation(s):\n" + report(bad, where or page.url)
    return found


@dataclass
class Tour:
    """Several pages (or states of one page) checked in a row; `done()` fails once, listing all of them."""
    pages: dict[str, list[dict]] = field(default_factory=dict)

    def check(self, page, name: str) -> None:
        self.pages[name] = violations(page)

    def done(self) -> dict[str, list[dict]]:
        bad = {name: blocking(found) for name, found in self.pages.items() if blocking(found)}
        assert not bad, (f"serious/critical accessibility violations on {len(bad)} of {len(self.pages)} page(s):\n"
                         + "\n".join(report(found, name) for name, found in bad.items()))
        return self.pages
