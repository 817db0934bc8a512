"""Load and validate policies/*.yaml. All or nothing: every problem of every file is reported at once, and a
policy set with any error is refused as a whole (PolicyError), so nothing is ever half-loaded."""
from __future__ import annotations

import time
from pathlib import Path

import yaml

from bridge.policy.checks import check_service
from bridge.policy.reader import read_service
from bridge.policy.report import Report
from bridge.policy.schema import PolicySet, Service
from bridge.policy.values import parse_duration  # noqa: F401 - re-exported for existing callers
from bridge.policy.yamlsource import parse


class PolicyError(ValueError):
    """errors: one line each, 'file:line field: value problem (rule)'."""

    def __init__(self, errors: list[str], warnings: list[str] | None = None):
        self.errors = list(errors)
        self.warnings = list(warnings or [])
        super().__init__("\n".join(self.errors))


def policy_files(directory: Path) -> list[Path]:
    """*.yaml and *.yml directly in `directory`, sorted; editor/hidden files (.foo.yaml) are skipped."""
    found = [*directory.glob("*.yaml"), *directory.glob("*.yml")]
    return sorted(p for p in found if p.is_file() and not p.name.startswith("."))


def _read_file(path: Path, *, dev: bool, now: float, display: str) -> tuple[Service | None, Report]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        report = Report(display)
        report.file_error(1, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return None, report
    except OSError as exc:
        report = Report(display)
        report.file_error(1, f"cannot be read ({exc.strerror})")
        return None, report
    try:
        parsed = parse(text)
    except yaml.YAMLError as exc:
        report = Report(display)
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        report.file_error(line, f"malformed YAML: {problem}")
        return None, report
    report = Report(display, parsed)
    service = read_service(report, parsed.data, dev=dev)
    if service is not None:
        check_service(report, service, parsed.data, now)
        if service.service and service.service != path.stem:
            report.warn(("service",), service.service, f"differs from the file name {path.name!r} "
                        "(one file per service, named after it, is easier to find)")
    return service, report


def _client_path(report: Report, client_id: str) -> tuple:
    clients = report.parsed.data.get("clients") if isinstance(report.parsed.data, dict) else None
    for i, raw in enumerate(clients if isinstance(clients, list) else []):
        if isinstance(raw, dict) and raw.get("client_id") == client_id:
            return ("clients", i, "client_id")
    return ("clients",)


def load_policies(directory, *, dev: bool = True, now: float | None = None, shown_as=None) -> PolicySet:
    """Load every policy file of `directory`; raise PolicyError listing every problem in every file.

    dev: http redirect URIs are tolerated for loopback hosts. now: the instant for the date-dependent warnings
    (attestation calendar); defaults to the current time. shown_as: the directory to name in messages and
    `Service.source` (the operator's, when `directory` is the validated copy of bridge.policy.active).
    """
    now = time.time() if now is None else now
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyError([f"{directory}: not a directory (policies directory, BRIDGE_POLICIES_DIR)"])
    files = policy_files(directory)
    if not files:
        raise PolicyError([f"{directory}: no policy files (*.yaml); at least one service is needed"])
    errors: list[str] = []
    warnings: list[str] = []
    services: dict[str, Service] = {}
    client_files: dict[str, str] = {}
    for path in files:
        display = str(Path(shown_as) / path.name) if shown_as is not None else str(path)
        service, report = _read_file(path, dev=dev, now=now, display=display)
        warnings += report.warnings
        if service is not None and service.service:
            if service.service in services:
                report.error(("service",), service.service,
                             f"duplicate service id (also in {services[service.service].source})")
            else:
                services[service.service] = service
            for client in service.clients:
                if client.client_id in client_files:
                    report.error(_client_path(report, client.client_id), client.client_id,
                                 f"duplicate client_id (also in {client_files[client.client_id]})")
                client_files.setdefault(client.client_id, str(path))
        errors += report.errors
    if errors:
        raise PolicyError(errors, warnings)
    return PolicySet(services=services, warnings=tuple(warnings))
