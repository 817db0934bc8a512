"""The self-checks told as an auditor watching the screen wants to follow them: what is tried, what is expected,
each step, the audit lines written, what happened and the verdict. `bridge attest --demonstrate` prints it live
(Narrator, fed by bridge.sandbox.selfcheck.run_checks); the evidence bundle keeps it (transcript_text)."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from bridge.attest.model import SelfCheck

# What each self-check tries, by check id (its function name before it runs).
INTENT = {
    "single_factor": ("Pro Santé Connect renvoie une connexion par mot de passe seul (amr pwd, sans authMode) : "
                      "la passerelle doit la refuser (RIE-PS 09, deux facteurs)",
                      "Pro Santé Connect returns a password-only login (amr pwd, no authMode): the bridge must "
                      "refuse it (RIE-PS 09, two factors)"),
    "disallowed_means": ("connexion par un moyen d'identification que le service n'admet pas : refus attendu",
                         "login with a means the service does not allow: refusal expected"),
    "card_pin_login": ("connexion par carte CPS virtuelle et code PIN, par l'agent du poste, jusqu'au code remis à "
                       "l'application", "login with a virtual CPS card and PIN, through the workstation agent, up to "
                       "the code handed to the app"),
    "idle_logout": ("connexion, puis inactivité au-delà du délai du service (horloge avancée) : la session doit "
                    "expirer, l'application être prévenue, une nouvelle identification exigée",
                    "login, then idle past the service's timeout (clock moved): the session must expire, the app be "
                    "told, a new login required"),
    "legacy_card": ("vérification de certificats de carte de TEST : carte IGC-Santé valide, carte révoquée, carte "
                    "de l'ancienne IGC GIP-CPS", "verification of TEST card certificates: valid IGC-Santé card, "
                    "revoked card, legacy GIP-CPS card"),
}
WORDS = {
    "fr": {"check": "Auto-test {n}", "tried": "Ce qui est essayé", "expected": "Attendu", "steps": "Étapes",
           "audit": "Lignes d'audit écrites", "observed": "Constaté", "verdict": "Verdict", "none": "aucune",
           "pass": "CONFORME", "fail": "NON CONFORME", "not_run": "NON EXÉCUTÉ", "global": "tous services",
           "skipped": "sans objet pour ce service", "colon": " : ",
           "summary": "{passed} conforme(s), {failed} non conforme(s), {not_run} non exécuté(s) sur {total}"},
    "en": {"check": "Self-check {n}", "tried": "What is tried", "expected": "Expected", "steps": "Steps",
           "audit": "Audit lines written", "observed": "Observed", "verdict": "Verdict", "none": "none",
           "pass": "PASSED", "fail": "FAILED", "not_run": "NOT RUN", "global": "all services",
           "skipped": "not applicable to this service", "colon": ": ",
           "summary": "{passed} passed, {failed} failed, {not_run} not run out of {total}"},
}


def _words(lang: str) -> dict:
    return WORDS["en" if lang == "en" else "fr"]


def intent(check_id: str, lang: str) -> str:
    fr, en = INTENT.get(check_id, (check_id, check_id))
    return en if lang == "en" else fr


def verdict(check: SelfCheck, lang: str) -> str:
    w = _words(lang)
    return w["pass"] if check.passed else w["not_run"] if check.passed is None else w["fail"]


def heading(n: int, check_id: str, service: str, lang: str) -> list[str]:
    w = _words(lang)
    return [f"{w['check'].format(n=n)} — [{service or w['global']}] {check_id}",
            f"  {w['tried']}{w['colon']}{intent(check_id, lang)}"]


def outcome(check: SelfCheck, lang: str) -> list[str]:
    """Everything known once the check has run, in the order it happened."""
    w, c = _words(lang), _words(lang)["colon"]
    lines = [f"  {check.title}", f"  {w['expected']}{c}{check.expected or '—'}", f"  {w['steps']}{c}".rstrip()]
    lines += [f"    {i}. {step}" for i, step in enumerate(check.steps, start=1)] or [f"    {w['none']}"]
    lines.append(f"  {w['audit']}{c}".rstrip())
    lines += [f"    seq {x.get('seq', '')} {x.get('event', '')} ({x.get('outcome', '')}"
              + (f", {x['reason']}" if x.get("reason") else "") + (f", mie {x['mie']}" if x.get("mie") else "") + ")"
              for x in check.audit_lines] or [f"    {w['none']}"]
    lines += [f"  {w['observed']}{c}{check.observed}", f"  {w['verdict']}{c}{verdict(check, lang)}", ""]
    return lines


def summary(checks: Iterable[SelfCheck], lang: str) -> str:
    checks = list(checks)
    return _words(lang)["summary"].format(
        passed=sum(1 for c in checks if c.passed), failed=sum(1 for c in checks if c.passed is False),
        not_run=sum(1 for c in checks if c.passed is None), total=len(checks))


def transcript_text(checks: Iterable[SelfCheck], lang: str) -> str:
    checks = list(checks)
    lines = []
    for n, check in enumerate(checks, start=1):
        lines += heading(n, check.id, check.service, lang) + outcome(check, lang)
    return "\n".join(lines + [summary(checks, lang), ""])


class Narrator:
    """Prints each self-check as it runs (run_checks calls `start` before and `done` after each one)."""

    def __init__(self, lang: str, echo: Callable[[str], None]):
        self.lang, self.echo, self.count, self.checks = lang, echo, 0, []

    def start(self, check_id: str, service: str) -> None:
        self.count += 1
        for line in heading(self.count, check_id, service, self.lang):
            self.echo(line)

    def done(self, check: SelfCheck | None) -> None:
        if check is None:
            self.echo(f"  → {_words(self.lang)['skipped']}")
            self.echo("")
            return
        self.checks.append(check)
        for line in outcome(check, self.lang):
            self.echo(line)

    def finish(self) -> None:
        self.echo(summary(self.checks, self.lang))
