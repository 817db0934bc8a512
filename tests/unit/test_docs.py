"""The docs stand on their own: nothing points outside the repository, and every relative link resolves."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("../shared", "/work/shared", "DESIGN §", "DESIGN.md", "research/")
SUFFIXES = {".md", ".py", ".html", ".yaml", ".yml", ".txt", ".js", ".css"}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _files():
    yield ROOT / "README.md"
    for top in ("docs", "bridge", "templates", "policies"):
        yield from (p for p in (ROOT / top).rglob("*") if p.is_file() and p.suffix in SUFFIXES)


def outside_references(files) -> list[str]:
    return [f"{p}: {word}" for p in files for word in FORBIDDEN
            if word in p.read_text(encoding="utf-8", errors="replace")]


def anchors(markdown: str) -> set[str]:
    """GitHub-style heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", markdown, re.M)}


def broken_links(pages) -> list[str]:
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path) if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
                broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def test_nothing_refers_outside_the_repository():
    assert outside_references(_files()) == []


def test_the_outside_reference_check_finds_one(tmp_path):
    page = tmp_path / "x.md"
    page.write_text("see DESIGN §3 and ../shared/research/psc.md")
    assert len(outside_references([page])) == 3


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_resolve(page):
    assert broken_links([page]) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "a.md").write_text("# Title here\n[ok](a.md#title-here) [gone](b.md) [bad](a.md#nope)")
    assert broken_links([tmp_path / "a.md"]) == ["a.md: b.md", "a.md: a.md#nope (no such heading)"]
