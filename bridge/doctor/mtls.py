"""The mTLS client certificate for PSC (BRIDGE_PSC_CLIENT_CERT / _KEY): readable, key matches, dates, chain."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from bridge.doctor.model import Check, Context
from bridge.pki import load_certificates


def _public(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _anchors(ctx: Context) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Roots and intermediates the chain may use: BRIDGE_PSC_CA_BUNDLE and BRIDGE_TRUST_DIR (IGC-Santé)."""
    files = [ctx.settings.psc_ca_bundle] if ctx.settings.psc_ca_bundle else []
    if ctx.settings.trust_dir and Path(ctx.settings.trust_dir).is_dir():
        files += [p for p in sorted(Path(ctx.settings.trust_dir).iterdir()) if p.is_file()]
    certs = [c for path in files for c in load_certificates(Path(path).read_bytes())]
    roots = [c for c in certs if c.subject == c.issuer]
    return roots, [c for c in certs if c.subject != c.issuer]


def _chain(ctx: Context, leaf: x509.Certificate, sent: list[x509.Certificate], now: datetime) -> str | None:
    """None when a path to a known root verifies; else why not (first word 'unknown' when no root is known)."""
    roots, intermediates = _anchors(ctx)
    if not any(r.subject == leaf.issuer for r in roots + intermediates + sent):
        return "unknown"
    ee = (ExtensionPolicy.webpki_defaults_ee()
          .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None))
    try:
        verifier = (PolicyBuilder().store(Store(roots)).time(now)
                    .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee)
                    .build_client_verifier())
        verifier.verify(leaf, sent + intermediates)
    except (VerificationError, ValueError) as exc:
        return str(exc)
    return None


def certificate(ctx: Context) -> Check:
    s, label = ctx.settings, ctx.t("Certificat mTLS PSC", "PSC mTLS certificate")
    if not s.psc_client_cert:
        return Check("psc.mtls", "skip", label, ctx.t("pas de BRIDGE_PSC_CLIENT_CERT (secret client)",
                                                      "no BRIDGE_PSC_CLIENT_CERT (client secret)"))
    loaded = _certificate_and_key(ctx, label)
    if isinstance(loaded, Check):
        return loaded
    leaf, sent = loaded
    now = datetime.fromtimestamp(ctx.now, UTC)
    out_of_dates = _validity(ctx, label, leaf, now)
    if out_of_dates:
        return out_of_dates
    problem = _chain(ctx, leaf, sent, now)
    if problem and problem != "unknown":
        return Check("psc.mtls", "fail", label, ctx.t(f"chaîne invalide : {problem}", f"invalid chain: {problem}"),
                     ctx.t("mettez le certificat puis ses intermédiaires IGC-Santé dans BRIDGE_PSC_CLIENT_CERT",
                           "put the certificate then its IGC-Santé intermediates in BRIDGE_PSC_CLIENT_CERT"))
    return _usage_and_expiry(ctx, label, leaf, now, issuer_known=problem != "unknown")


def _renew(ctx: Context) -> str:
    return ctx.t("demandez un nouveau certificat IGC-Santé (ORG AUTH_CLI) et faites enregistrer son empreinte "
                 "auprès de l'ANS", "request a new IGC-Santé certificate (ORG AUTH_CLI) and have it registered "
                 "with ANS")


def _certificate_and_key(ctx: Context, label: str) -> tuple[x509.Certificate, list[x509.Certificate]] | Check:
    """The leaf certificate and the ones sent after it, once the files are read and the key matches; else the ✗."""
    s = ctx.settings
    try:
        certs, key_pem = load_certificates(Path(s.psc_client_cert).read_bytes()), Path(s.psc_client_key).read_bytes()
    except OSError as exc:
        return Check("psc.mtls", "fail", label, f"{exc.filename}: {exc.strerror}",
                     ctx.t("le compte de la passerelle doit pouvoir lire le certificat et la clé",
                           "the bridge's account must be able to read the certificate and the key"))
    if not certs:
        return Check("psc.mtls", "fail", label, ctx.t(f"{s.psc_client_cert} : aucun certificat lisible",
                                                      f"{s.psc_client_cert}: no readable certificate"),
                     ctx.t("BRIDGE_PSC_CLIENT_CERT doit être le certificat PEM",
                           "BRIDGE_PSC_CLIENT_CERT must be the PEM certificate"))
    leaf, sent = certs[0], certs[1:]
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return Check("psc.mtls", "fail", label, ctx.t(f"{s.psc_client_key} : clé privée illisible ou chiffrée",
                                                      f"{s.psc_client_key}: private key unreadable or encrypted"),
                     ctx.t("BRIDGE_PSC_CLIENT_KEY doit être la clé PEM non chiffrée (mode 0600)",
                           "BRIDGE_PSC_CLIENT_KEY must be the unencrypted PEM key (mode 0600)"))
    if _public(key.public_key()) != _public(leaf.public_key()):
        subject = leaf.subject.rfc4514_string()
        return Check("psc.mtls", "fail", label, ctx.t(f"la clé ne correspond pas au certificat {subject}",
                                                      f"the key does not match the certificate {subject}"),
                     ctx.t("BRIDGE_PSC_CLIENT_KEY doit être la clé de ce certificat (même demande de certificat)",
                           "BRIDGE_PSC_CLIENT_KEY must be this certificate's key (same certificate request)"))
    return leaf, sent


def _validity(ctx: Context, label: str, leaf: x509.Certificate, now: datetime) -> Check | None:
    """✗ when the certificate has expired or is not valid yet."""
    subject = leaf.subject.rfc4514_string()
    if now >= leaf.not_valid_after_utc:
        return Check("psc.mtls", "fail", label, ctx.t(f"{subject} expiré le {leaf.not_valid_after_utc:%Y-%m-%d}",
                                                      f"{subject} expired on {leaf.not_valid_after_utc:%Y-%m-%d}"),
                     _renew(ctx))
    if now < leaf.not_valid_before_utc:
        return Check("psc.mtls", "fail", label,
                     ctx.t(f"{subject} valable à partir du {leaf.not_valid_before_utc:%Y-%m-%d}",
                           f"{subject} valid from {leaf.not_valid_before_utc:%Y-%m-%d}"),
                     ctx.t("vérifiez l'horloge du serveur (NTP)", "check the server's clock (NTP)"))
    return None


def _usage_and_expiry(ctx: Context, label: str, leaf: x509.Certificate, now: datetime, *,
                      issuer_known: bool) -> Check:
    """A valid certificate whose chain is verified or unknown: clientAuth usage, then how soon it expires."""
    subject = leaf.subject.rfc4514_string()
    days = (leaf.not_valid_after_utc - now).days
    detail = ctx.t(f"{subject}, expire le {leaf.not_valid_after_utc:%Y-%m-%d} (dans {days} j)",
                   f"{subject}, expires {leaf.not_valid_after_utc:%Y-%m-%d} (in {days} days)")
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            return Check("psc.mtls", "fail", label,
                         detail + ctx.t(" ; pas d'usage clientAuth", "; no clientAuth usage"),
                         ctx.t("il faut un certificat d'authentification client (ORG AUTH_CLI)",
                               "a client authentication certificate (ORG AUTH_CLI) is needed"))
    except x509.ExtensionNotFound:
        pass
    if days < ctx.cert_warn_days:
        return Check("psc.mtls", "warn", label, detail, _renew(ctx))
    if not issuer_known:
        return Check("psc.mtls", "warn", label, detail + ctx.t(f" ; émetteur {leaf.issuer.rfc4514_string()} inconnu",
                                                               f"; issuer {leaf.issuer.rfc4514_string()} unknown"),
                     ctx.t("chaîne non vérifiée : ajoutez l'AC IGC-Santé à BRIDGE_TRUST_DIR "
                           "ou au fichier du certificat",
                           "chain not checked: add the IGC-Santé CA to BRIDGE_TRUST_DIR or to the certificate file"))
    return Check("psc.mtls", "ok", label, detail + ctx.t(", chaîne vérifiée", ", chain verified"))
