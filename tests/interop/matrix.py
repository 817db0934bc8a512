"""Client matrix (library × operation) from the interop suite's results, for docs/provider.md.

    python -m pytest tests/interop          # writes var/interop-results.json (or $INTEROP_RESULTS)
    python tests/interop/matrix.py          # prints the table
    python tests/interop/matrix.py --write  # replaces the table in docs/provider.md's "## Client matrix"

The results file comes from the `client(library, operation)` markers (tests/interop/conftest.py): one row per
test, whatever its outcome (pass, xfail, fail, xpass, skip). A cell holding several tests (one per algorithm)
shows the worst outcome.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ["openid-client", "oauth4webapi", "Authlib", "pyoidc", "idpyoidc"]
VERSIONS = {"openid-client": "6.9.0", "oauth4webapi": "3.8.8", "Authlib": "1.9.9", "pyoidc": "oic 1.7.0",
            "idpyoidc": "5.0.0"}
WORST = ["fail", "xpass", "skip", "xfail", "pass"]   # first is worst
BEGIN, END = "<!-- client-matrix:begin (tests/interop/matrix.py --write) -->", "<!-- client-matrix:end -->"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def table(results: dict) -> str:
    cells: dict[tuple[str, str], list[str]] = {}
    operations: list[str] = []
    reasons: dict[str, int] = {}
    for row in results.values():
        operation = row["operation"]
        if operation not in operations:
            operations.append(operation)
        outcome = row["result"]
        if outcome == "xfail" and row.get("reason"):
            number = reasons.setdefault(row["reason"], len(reasons) + 1)
            outcome = f"xfail[^x{number}]"
        cells.setdefault((operation, row["library"]), []).append(outcome)
    order = ["discovery", "RFC 8414", "code", "ID token", "RFC 9207 iss on success", "RFC 9207 iss on error",
             "userinfo", "refresh", "introspection", "revocation", "RP-initiated", "back-channel", "private_key_jwt",
             "public", "client_secret_post", "key rotation", "request object", "pushed authorization request", "PAR"]

    def rank(operation: str):
        for index, prefix in enumerate(order):
            if operation.startswith(prefix):
                return index, operation
        return len(order), operation

    libraries = [lib for lib in LIBRARIES if any(row["library"] == lib for row in results.values())]
    lines = ["| operation | " + " | ".join(f"{lib} {VERSIONS.get(lib, '')}".strip() for lib in libraries) + " |",
             "|---|" + "---|" * len(libraries)]
    for operation in sorted(operations, key=rank):
        row = []
        for lib in libraries:
            found = cells.get((operation, lib))
            if not found:
                row.append("—")
                continue
            row.append(min(found, key=lambda outcome: WORST.index(outcome.split("[")[0])))
        lines.append(f"| {operation} | " + " | ".join(row) + " |")
    totals = []
    for lib in libraries:
        counts: dict[str, int] = {}
        for row in results.values():
            if row["library"] == lib:
                counts[row["result"]] = counts.get(row["result"], 0) + 1
        totals.append(", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: WORST.index(kv[0]))))
    lines.append("| **tests** | " + " | ".join(totals) + " |")
    lines.append("")
    for reason, number in reasons.items():
        lines.append(f"[^x{number}]: {reason}")
    return "\n".join(lines).rstrip() + "\n"


def write(doc: Path, text: str) -> None:
    content = doc.read_text()
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in content:
        content = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, content, flags=re.S)
    else:
        raise SystemExit(f"{doc}: no {BEGIN} marker under '## Client matrix'")
    doc.write_text(content)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path,
                        default=Path(os.environ.get("INTEROP_RESULTS", ROOT / "var" / "interop-results.json")))
    parser.add_argument("--write", action="store_true", help="update docs/provider.md in place")
    args = parser.parse_args(argv)
    text = table(load(args.results))
    if args.write:
        write(ROOT / "docs" / "provider.md", text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
