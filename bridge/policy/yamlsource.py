"""Parse one YAML file into plain Python data plus the line of every value, so errors can say 'file:line'.

yaml.compose gives nodes with marks; scalars are then built by PyYAML's safe constructor (so dates, ints and
booleans mean what they mean in YAML). A scalar that cannot be built (2026-02-30) becomes INVALID plus an error
at its line, and duplicate keys, which PyYAML would silently overwrite, are reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple  # ("clients", 0, "redirect_uris", 1)


class _Invalid:
    def __repr__(self) -> str:
        return "<invalid>"


INVALID = _Invalid()


@dataclass
class Parsed:
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (line, field, message)

    def line(self, path: Path_) -> int:
        """Line of the value at `path`, or of its closest parent (a missing key points at its mapping)."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)


def field_name(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


MAX_NODES = 20_000  # a policy file has a few hundred; aliases could otherwise expand exponentially


class TooComplex(yaml.YAMLError):
    def __init__(self, problem: str, node: yaml.Node):
        super().__init__(problem)
        self.problem, self.problem_mark = problem, node.start_mark


def parse(text: str) -> Parsed:
    """Raise yaml.YAMLError for malformed YAML; everything else is returned as data and problems."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        parsed = Parsed(data=None)
        if root is not None:
            parsed.data = _build(loader, root, (), parsed, set())
        return parsed
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, parsed: Parsed, open_nodes: set) -> Any:
    if id(node) in open_nodes:
        raise TooComplex("recursive alias", node)
    if len(parsed.lines) > MAX_NODES:
        raise TooComplex(f"more than {MAX_NODES} values (alias expansion?)", node)
    parsed.lines[path] = node.start_mark.line + 1
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        open_nodes.add(id(node))
        try:
            return _build_collection(loader, node, path, parsed, open_nodes)
        finally:
            open_nodes.discard(id(node))
    return _scalar(loader, node, path, parsed)


def _build_collection(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, parsed: Parsed, open_nodes: set):
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node, path, parsed) if isinstance(key_node, yaml.ScalarNode) else INVALID
            if not isinstance(key, (str, int, bool)) or key is None:
                parsed.problems.append((key_node.start_mark.line + 1, field_name(path),
                                        f"{_source(key_node)!r} is not a valid key"))
                continue
            if key in result:
                parsed.problems.append((key_node.start_mark.line + 1, field_name(path + (key,)),
                                        f"duplicate key (first at line {parsed.lines[path + (key,)]})"))
                continue
            result[key] = _build(loader, value_node, path + (key,), parsed, open_nodes)
            parsed.lines[path + (key,)] = key_node.start_mark.line + 1
        return result
    return [_build(loader, item, path + (i,), parsed, open_nodes) for i, item in enumerate(node.value)]


def _scalar(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, parsed: Parsed) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        reason = getattr(exc, "problem", None) or str(exc)
        parsed.problems.append((node.start_mark.line + 1, field_name(path), f"{_source(node)!r} is invalid: {reason}"))
        return INVALID


def _source(node: yaml.Node) -> str:
    return node.value if isinstance(node.value, str) else f"<{node.id}>"
