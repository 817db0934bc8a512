"""Only bridge/config.py touches the process environment for BRIDGE_* variables.

The server reads its settings through bridge.config (load_settings, and environment()/variable()/set_variable() for
the few variables outside Settings); command-line options take theirs with click's envvar= (shown in --help). A
module that reads os.environ itself would escape the one list of names (bridge.config.SETTINGS + OTHER_VARIABLES)
and its checks. The scan is of the syntax tree: os.environ (item, get, setdefault, pop, `in`), os.getenv,
os.putenv, os.unsetenv, and `from os import environ/getenv`; the variable name is the literal or a string
constant (of the module, or imported from another bridge module). A use whose name cannot be known (the whole
environment passed on, an f-string) counts as a BRIDGE_* read.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Where reading BRIDGE_* directly is allowed, and why. A path ending in / is a package.
ALLOWED = {
    "bridge/config.py": "the settings module itself",
    "bridge/sandbox/": "emulators and demo apps for development, never part of a production bridge: they read their "
                       "own ports (BRIDGE_ATTEST_VPCD_PORT, ...) and refuse to run when BRIDGE_ENV=production",
    "bridge/demo.py": "`make demo`: builds the environment of the bridge, PSC emulator and demo apps it starts",
    "app.py": "`python app.py`, the development launcher: on embedded defaults only (BRIDGE_ENV development, no "
              "BRIDGE_TRUST_DIR), it sets the test PKI variables of bridge.demo.trust_env before create_app",
}
# Not BRIDGE_* and read directly on purpose (the scan lets any non-BRIDGE_ name through; listed for the reader):
# PROMETHEUS_MULTIPROC_DIR (bridge/metrics.py, bridge/gunicorn_conf.py) is prometheus-client's own convention;
# PCSCLITE_CSOCK_NAME (bridge/demo.py) is pcsc-lite's.

ENV_FUNCTIONS = {"getenv", "putenv", "unsetenv"}
MAPPING_METHODS = {"get", "setdefault", "pop", "__getitem__", "__setitem__", "__delitem__", "__contains__"}
UNKNOWN = "?"   # the whole environment, or a name computed at run time


def _string_constants(tree: ast.Module) -> dict[str, str]:
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)}


def _constants(tree: ast.Module, root: Path) -> dict[str, str]:
    """String constants this module can name: its own, and those it imports from bridge modules (anywhere in it)."""
    names = _string_constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bridge":
            base = root / node.module.replace(".", "/")
            source = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
            if source.exists():
                theirs = _string_constants(ast.parse(source.read_text(encoding="utf-8")))
                names.update({alias.asname or alias.name: theirs[alias.name] for alias in node.names
                              if alias.name in theirs})
    return names


def _is_os(node: ast.AST, attrs: set[str], from_os: dict[str, str]) -> bool:
    """os.<one of attrs>, or a name imported from os as one of them."""
    if isinstance(node, ast.Attribute):
        return node.attr in attrs and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and from_os.get(node.id) in attrs


def environment_uses(source: str, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, variable name) of every use of the process environment in `source`; UNKNOWN when it can't be told."""
    tree = ast.parse(source)
    constants = _constants(tree, root)
    from_os = {alias.asname or alias.name: alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.module == "os" for alias in node.names}
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def name_of(expr: ast.AST | None) -> str:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        if isinstance(expr, ast.Name) and expr.id in constants:
            return constants[expr.id]
        return UNKNOWN

    uses = []
    for node in ast.walk(tree):
        if _is_os(node, ENV_FUNCTIONS, from_os) and isinstance(parents.get(node), ast.Call) \
                and parents[node].func is node:
            call = parents[node]
            uses.append((node.lineno, name_of(call.args[0] if call.args else None)))
        elif _is_os(node, {"environ", "environb"}, from_os):
            parent = parents.get(node)
            if isinstance(parent, ast.Subscript) and parent.value is node:
                key = parent.slice
            elif isinstance(parent, ast.Attribute) and parent.attr in MAPPING_METHODS \
                    and isinstance(parents.get(parent), ast.Call):
                key = next(iter(parents[parent].args), None)
            elif isinstance(parent, ast.Compare) and node in parent.comparators:
                key = parent.left
            else:   # dict(os.environ), f(os.environ), {**os.environ}: everything, BRIDGE_* included
                key = None
            uses.append((node.lineno, name_of(key)))
    return sorted(uses)


def _allowed(relative: str) -> bool:
    return any(relative == entry or (entry.endswith("/") and relative.startswith(entry)) for entry in ALLOWED)


def _modules() -> list[Path]:
    return [ROOT / "app.py", *sorted(p for p in (ROOT / "bridge").rglob("*.py") if "__pycache__" not in p.parts)]


def test_only_config_reads_bridge_variables_from_the_environment():
    offending = []
    for path in _modules():
        relative = path.relative_to(ROOT).as_posix()
        if _allowed(relative):
            continue
        for line, name in environment_uses(path.read_text(encoding="utf-8")):
            if name == UNKNOWN or name.startswith("BRIDGE_"):
                offending.append(f"{relative}:{line}: {'the environment' if name == UNKNOWN else name}")
    assert offending == [], ("read it through bridge.config (variable(), environment()) or click's envvar=; "
                             "or list the module in ALLOWED with the reason")


def test_every_allowed_exception_still_exists():
    assert [entry for entry in ALLOWED if not (ROOT / entry).exists()] == []


@pytest.mark.parametrize("source, expected", [
    ('import os\nos.environ.get("BRIDGE_FOO")', [(2, "BRIDGE_FOO")]),
    ('import os\nos.environ["BRIDGE_FOO"] = "1"', [(2, "BRIDGE_FOO")]),
    ('import os\nos.environ.setdefault("BRIDGE_FOO", "1")', [(2, "BRIDGE_FOO")]),
    ('import os\n"BRIDGE_FOO" in os.environ', [(2, "BRIDGE_FOO")]),
    ('import os\nos.getenv("BRIDGE_FOO", "")', [(2, "BRIDGE_FOO")]),
    ('from os import environ\nenviron.get("BRIDGE_FOO")', [(2, "BRIDGE_FOO")]),
    ('from os import getenv as ge\nge("BRIDGE_FOO")', [(2, "BRIDGE_FOO")]),
    ('import os\nNAME = "BRIDGE_FOO"\nos.environ.get(NAME)', [(3, "BRIDGE_FOO")]),
    ('import os\nfrom bridge.policy.active import ACTIVE_ENV\nos.environ[ACTIVE_ENV]',
     [(3, "BRIDGE_POLICIES_ACTIVE_DIR")]),
    ('import os\nos.environ.get(f"BRIDGE_{name}")', [(2, UNKNOWN)]),
    ('import os\nrun(env=dict(os.environ))', [(2, UNKNOWN)]),
    ('import os\ncheck(os.environ)', [(2, UNKNOWN)]),
    ('import os\nos.environ.get("PROMETHEUS_MULTIPROC_DIR")', [(2, "PROMETHEUS_MULTIPROC_DIR")]),
    ('import os\nos.getpid(); os.path.join("a", "BRIDGE_FOO")', []),
    ('import click\n@click.option("--port", envvar="BRIDGE_AGENT_PORT")\ndef f(port): pass', []),
    ('env = {}\nenv.get("BRIDGE_FOO")', []),   # a mapping given as an argument is not the process environment
])
def test_the_scan_sees_each_way_of_reading_the_environment(source, expected):
    assert environment_uses(source) == expected
