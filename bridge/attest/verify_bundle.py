"""Offline verification of an evidence bundle (bridge/attest/bundle.py): `bridge attest verify FILE.zip`.

In order: the zip opens; manifest.json and manifest.jws are there; the JWS verifies with the auditor's key
(--public-key) or else the bundled one, and signs exactly manifest.json's bytes; the zip holds exactly the files
the manifest lists (none missing, none added), each with its SHA-256; the audit excerpt is an intact hash chain
whose signed checkpoints verify with the same key. The first failure stops, with its own exit code."""
from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from bridge.attest.bundle import ALG, EXCERPT, FORMAT, KEY_FILE, MANIFEST, SIGNATURE
from bridge.audit.chain import verify_chain

EXIT = {"ok": 0, "unreadable": 2, "no_signature": 3, "bad_signature": 4, "wrong_key": 4, "manifest_modified": 5,
        "tampered": 5, "missing_file": 6, "extra_file": 6, "audit_chain": 7, "timestamp": 8}

TEXT = {
    "fr": {
        "unreadable": "{file} n'est pas un dossier de preuves lisible (zip) : {error}",
        "no_signature": "signature absente : {name} manque, rien dans ce dossier n'est garanti",
        "bad_signature": "signature invalide : manifest.jws ne se vérifie pas avec la clé {kid} (dossier modifié "
                         "ou signé par une autre clé)",
        "wrong_key": "mauvaise clé : le dossier est signé par la clé {found}, pas par la clé d'audit donnée {kid}",
        "manifest_modified": "manifest.json modifié : il ne correspond plus à sa signature",
        "tampered": "fichier modifié : {name} n'a plus l'empreinte SHA-256 signée au manifeste",
        "missing_file": "fichier manquant : {name} figure au manifeste signé mais pas dans le dossier",
        "extra_file": "fichier ajouté : {name} est dans le dossier mais pas au manifeste signé",
        "audit_chain": "extrait d'audit invalide (ligne {line}) : {error}",
        "timestamp": "jeton d'horodatage RFC 3161 du point de contrôle seq {seq} invalide : {error}",
        "p_stamps": "{count} jeton(s) d'horodatage RFC 3161 vérifié(s) avec --tsa-ca : le point de contrôle seq "
                    "{seq} existait le {time} (selon la TSA) ;",
        "n_stamps": "les jetons d'horodatage RFC 3161 du dossier ({count}) n'ont pas été vérifiés : donnez --tsa-ca "
                    "(CA de la TSA) ;",
        "ok": "Dossier de preuves vérifié : {file}",
        "proves": "Ce que cette vérification prouve :",
        "p_signed": "le dossier est tel que la clé d'audit {kid} l'a signé le {time} : {count} fichiers, aucun "
                    "modifié, ajouté ni retiré ;",
        "p_policies": "les politiques attestées sont les {count} fichier(s) de policies/, octet pour octet "
                      "(empreintes SHA-256 au manifeste) ;",
        "p_audit": "l'extrait d'audit (seq {first} à {last}, {lines} lignes) est une chaîne intacte ; {cps} point(s) "
                   "de contrôle signé(s) à l'écriture vérifié(s), dernière ligne signée : seq {seq} ({when}) ;",
        "p_audit_unsigned": "l'extrait d'audit ({lines} lignes) est une chaîne intacte, sans point de contrôle "
                            "signé : seule la signature du dossier le couvre ;",
        "p_audit_none": "aucune ligne d'audit sur la période ;",
        "p_checks": "auto-tests en direct : {passed} conforme(s) sur {total}, transcriptions dans self-checks/.",
        "not_proves": "Ce qu'elle ne prouve pas :",
        "n_key": "que la clé {kid} soit celle de votre passerelle : comparez ce « kid » avec celui de `bridge audit "
                 "key --public` sur le serveur, ou vérifiez avec --public-key ;",
        "n_key_given": "que la clé donnée par --public-key soit celle de la passerelle : c'est à vous de l'avoir "
                       "obtenue du serveur ;",
        "n_live": "que la passerelle applique aujourd'hui ces politiques : le dossier décrit l'état au moment de sa "
                  "génération ;",
        "n_complete": "que le journal soit complet hors de l'extrait ; qui détient la clé d'audit peut réécrire "
                      "ensemble journal et dossier : conservez manifest.jws hors du serveur.",
    },
    "en": {
        "unreadable": "{file} is not a readable evidence bundle (zip): {error}",
        "no_signature": "signature missing: {name} is absent, nothing in this bundle is guaranteed",
        "bad_signature": "invalid signature: manifest.jws does not verify with key {kid} (bundle modified or "
                         "signed by another key)",
        "wrong_key": "wrong key: the bundle is signed by key {found}, not by the given audit key {kid}",
        "manifest_modified": "manifest.json modified: it no longer matches its signature",
        "tampered": "file modified: {name} no longer has the SHA-256 signed in the manifest",
        "missing_file": "file missing: {name} is in the signed manifest but not in the bundle",
        "extra_file": "file added: {name} is in the bundle but not in the signed manifest",
        "audit_chain": "invalid audit excerpt (line {line}): {error}",
        "timestamp": "RFC 3161 timestamp token of checkpoint seq {seq} invalid: {error}",
        "p_stamps": "{count} RFC 3161 timestamp token(s) verified with --tsa-ca: checkpoint seq {seq} existed at "
                    "{time} (per the TSA);",
        "n_stamps": "the bundle's RFC 3161 timestamp tokens ({count}) were not verified: give --tsa-ca (the TSA's "
                    "CA);",
        "ok": "Evidence bundle verified: {file}",
        "proves": "What this verification proves:",
        "p_signed": "the bundle is as audit key {kid} signed it on {time}: {count} files, none modified, added or "
                    "removed;",
        "p_policies": "the attested policies are the {count} file(s) of policies/, byte for byte (SHA-256 in the "
                      "manifest);",
        "p_audit": "the audit excerpt (seq {first} to {last}, {lines} lines) is an intact chain; {cps} checkpoint(s) "
                   "signed when written verified, last signed line: seq {seq} ({when});",
        "p_audit_unsigned": "the audit excerpt ({lines} lines) is an intact chain, with no signed checkpoint: only "
                            "the bundle's signature covers it;",
        "p_audit_none": "no audit line in the period;",
        "p_checks": "live self-checks: {passed} passed out of {total}, transcripts in self-checks/.",
        "not_proves": "What it does not prove:",
        "n_key": "that key {kid} is your bridge's: compare this kid with `bridge audit key --public` on the server, "
                 "or verify with --public-key;",
        "n_key_given": "that the key given with --public-key is the bridge's: you must have obtained it from the "
                       "server;",
        "n_live": "that the bridge enforces these policies today: the bundle describes the state when it was made;",
        "n_complete": "that the trail is complete outside the excerpt; whoever holds the audit key can rewrite trail "
                      "and bundle together: keep manifest.jws off the server.",
    },
}


@dataclass
class BundleCheck:
    code: str
    params: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    audit: object = None
    stamps: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code == "ok"

    @property
    def exit_code(self) -> int:
        return EXIT[self.code]

    def message(self, lang: str = "fr") -> str:
        params = {**self.params, "error": self.audit.message(lang)} if self.code == "audit_chain" else self.params
        return TEXT["en" if lang == "en" else "fr"][self.code].format(**params)


def verify_bundle(path: Path, public_key: ECKey | None = None, tsa_ca: Path | None = None) -> BundleCheck:
    try:
        with zipfile.ZipFile(path) as archive:
            check = _verify(archive, Path(path), public_key)
            if check.ok and tsa_ca is not None:
                check = _verify_stamps(archive, check, tsa_ca)
            return check
    except (OSError, zipfile.BadZipFile) as exc:
        return BundleCheck("unreadable", {"file": path, "error": getattr(exc, "strerror", None) or exc})


def _verify(archive: zipfile.ZipFile, path: Path, given: ECKey | None) -> BundleCheck:
    names = archive.namelist()
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:   # two entries with one name: which one a tool shows is not what was hashed
        return BundleCheck("extra_file", {"name": duplicated[0]})
    for name in (MANIFEST, SIGNATURE) + (() if given is not None else (KEY_FILE,)):
        if name not in names:
            return BundleCheck("no_signature", {"name": name})
    try:
        key = given or ECKey.import_key(json.loads(archive.read(KEY_FILE)))
    except (ValueError, JoseError, TypeError):
        return BundleCheck("bad_signature", {"kid": KEY_FILE})
    compact = archive.read(SIGNATURE).decode("ascii", "replace").strip()
    try:
        signed = jws.deserialize_compact(compact, key, algorithms=[ALG])
    except (JoseError, ValueError, TypeError):
        found = _header_kid(compact)
        if given is not None and found and found != given.thumbprint():
            return BundleCheck("wrong_key", {"found": found, "kid": given.thumbprint()})
        return BundleCheck("bad_signature", {"kid": key.thumbprint()})
    data = archive.read(MANIFEST)
    if signed.payload != data:
        return BundleCheck("manifest_modified")
    manifest = json.loads(data)
    if manifest.get("format") != FORMAT or manifest.get("audit_key", {}).get("kid") != key.thumbprint():
        return BundleCheck("wrong_key", {"found": manifest.get("audit_key", {}).get("kid"), "kid": key.thumbprint()})
    listed, present = set(manifest["files"]), set(names) - {MANIFEST, SIGNATURE}
    for name in sorted(listed - present):
        return BundleCheck("missing_file", {"name": name}, manifest)
    for name in sorted(present - listed):
        return BundleCheck("extra_file", {"name": name}, manifest)
    for name in sorted(listed):
        if hashlib.sha256(archive.read(name)).hexdigest() != manifest["files"][name]:
            return BundleCheck("tampered", {"name": name}, manifest)
    audit = _verify_excerpt(archive.read(EXCERPT), key, manifest["audit_excerpt"].get("checkpoints", 0))
    if audit is not None and not audit.ok:
        return BundleCheck("audit_chain", {"line": audit.line_no or "—"}, manifest,
                           audit)
    return BundleCheck("ok", {"file": path}, manifest, audit)


def _verify_stamps(archive: zipfile.ZipFile, check: BundleCheck, ca: Path) -> BundleCheck:
    """The excerpt's RFC 3161 tokens against its checkpoint lines and the TSA's CA."""
    from bridge.attest.bundle import TIMESTAMPS
    from bridge.audit.timestamp import verify_timestamps

    seqs = check.manifest["audit_excerpt"].get("timestamps") or []
    if not seqs:
        return check
    with tempfile.TemporaryDirectory(prefix="bridge-bundle-") as tmp:
        (Path(tmp) / "excerpt.jsonl").write_bytes(archive.read(EXCERPT))
        (Path(tmp) / "tsr").mkdir()
        for seq in seqs:
            (Path(tmp) / "tsr" / f"{seq}.tsr").write_bytes(archive.read(f"{TIMESTAMPS}{seq}.tsr"))
        stamps = verify_timestamps([Path(tmp) / "excerpt.jsonl"], Path(tmp) / "tsr", ca)
    bad = [s for s in stamps if not s.ok]
    if bad:
        return BundleCheck("timestamp", {"seq": bad[0].seq, "error": bad[0].error}, check.manifest, check.audit,
                           stamps)
    return BundleCheck("ok", check.params, check.manifest, check.audit, stamps)


def _header_kid(compact: str) -> str:
    try:
        header = compact.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))).get("kid", "")
    except (ValueError, AttributeError):
        return ""


def _verify_excerpt(data: bytes, key: ECKey, checkpoints: int):
    """The excerpt begins mid-chain; its checkpoints were signed when the lines were written (None: empty)."""
    if not data:
        return None
    with tempfile.TemporaryDirectory(prefix="bridge-bundle-") as tmp:
        excerpt = Path(tmp) / "excerpt.jsonl"
        excerpt.write_bytes(data)
        return verify_chain([excerpt], allow_partial_start=True, key=key if checkpoints else None)


def explain(check: BundleCheck, lang: str, key_given: bool) -> list[str]:
    """The plain-language report of a successful verification: what it proves, what it does not."""
    t, m = TEXT["en" if lang == "en" else "fr"], check.manifest
    excerpt, checks, audit = m.get("audit_excerpt", {}), m.get("self_checks", {}), check.audit
    lines = [t["ok"].format(**check.params), t["proves"],
             "  - " + t["p_signed"].format(kid=m["audit_key"]["kid"], time=m["generated_at"],
                                           count=len(m["files"])),
             "  - " + t["p_policies"].format(count=len(m.get("policies", {})))]
    if audit is None:
        lines.append("  - " + t["p_audit_none"])
    elif audit.checkpoints:
        lines.append("  - " + t["p_audit"].format(first=excerpt["first_seq"], last=excerpt["last_seq"],
                                                  lines=excerpt["lines"], cps=audit.checkpoints,
                                                  seq=audit.signed_seq, when=audit.signed_time))
    else:
        lines.append("  - " + t["p_audit_unsigned"].format(lines=excerpt["lines"]))
    tokens = excerpt.get("timestamps") or []
    if check.stamps:
        lines.append("  - " + t["p_stamps"].format(count=len(check.stamps), seq=check.stamps[-1].seq,
                                                   time=check.stamps[-1].time))
    lines += ["  - " + t["p_checks"].format(passed=checks.get("passed", 0), total=checks.get("total", 0)),
              t["not_proves"]]
    if tokens and not check.stamps:
        lines.append("  - " + t["n_stamps"].format(count=len(tokens)))
    lines += ["  - " + (t["n_key_given"] if key_given else t["n_key"].format(kid=m["audit_key"]["kid"])),
              "  - " + t["n_live"], "  - " + t["n_complete"]]
    return lines
