"""Collects every error and warning of one policy file, each as 'file:line field: value problem (rule)'."""
from __future__ import annotations

from bridge.policy.rules import broken
from bridge.policy.yamlsource import INVALID, Parsed, Path_, field_name

MISSING = object()


def show(value) -> str:
    if value is MISSING:
        return "(missing)"
    if value is INVALID:
        return "(invalid)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Report:
    def __init__(self, file: str, parsed: Parsed | None = None):
        self.file = file
        self.parsed = parsed or Parsed(data=None)
        self._errors: list[tuple[int, str]] = []
        self._warnings: list[tuple[int, str]] = []
        for line, field, message in self.parsed.problems:
            self._errors.append((line, f"{file}:{line} {field}: {message}"))

    @property
    def errors(self) -> list[str]:
        """In line order, so the output reads like the file."""
        return [text for _, text in sorted(self._errors, key=lambda item: item[0])]

    @property
    def warnings(self) -> list[str]:
        return [text for _, text in sorted(self._warnings, key=lambda item: item[0])]

    def line(self, path: Path_) -> int:
        return self.parsed.line(path)

    def _format(self, path: Path_, value, message: str, rule: str | None) -> tuple[int, str]:
        line = self.line(path)
        text = f"{self.file}:{line} {field_name(path)}: {show(value)} {message}"
        return line, (f"{text} {broken(rule)}" if rule else text)

    def error(self, path: Path_, value, message: str, rule: str | None = None) -> None:
        self._errors.append(self._format(path, value, message, rule))

    def file_error(self, line: int, message: str) -> None:
        self._errors.append((line, f"{self.file}:{line} (file): {message}"))

    def warn(self, path: Path_, value, message: str, rule: str | None = None) -> None:
        self._warnings.append(self._format(path, value, message, rule))
