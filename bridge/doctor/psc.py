"""Pro Santé Connect checks: discovery against the configuration, JWKS, the client credentials, the mTLS
certificate. Calls go through bridge.upstream.psc.PscClient (same TLS settings, deadline and size limit as logins)."""
from __future__ import annotations

from urllib.parse import quote_plus, urlsplit

import requests

from bridge.doctor.model import Check, Context
from bridge.upstream.psc import PscClient, PscError, ResponseTooLarge

REQUIRED = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
# Served by the issuer's host (Keycloak); the authorize page lives on PSC's wallet host.
ISSUER_HOSTED = ("token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint")
PROBE_CODE = "bridge-doctor-probe"   # never a valid code: PSC authenticates the client, then says invalid_grant


def expected_issuer(ctx: Context) -> str | None:
    """BRIDGE_PSC_ISSUER, or what precedes /.well-known/ in BRIDGE_PSC_DISCOVERY_URL."""
    if ctx.environ.get("BRIDGE_PSC_ISSUER"):
        return ctx.environ["BRIDGE_PSC_ISSUER"].rstrip("/")
    url = ctx.settings.psc_discovery_url
    return url.split("/.well-known/")[0] if "/.well-known/" in url else None


def discovery(ctx: Context) -> list[Check]:
    from bridge.clock import Clock

    label, url = ctx.t("Découverte PSC", "PSC discovery"), ctx.settings.psc_discovery_url
    client = ctx.extra["psc"] = PscClient(ctx.settings, ctx.store, Clock())
    try:
        meta = client.metadata()
    except PscError as exc:
        why = exc.detail[len(url) + 2:] if exc.detail.startswith(f"{url}: ") else exc.detail   # e.g. SSLError
        fix = ctx.t("vérifiez BRIDGE_PSC_DISCOVERY_URL, le DNS, le pare-feu ou le proxy sortant et "
                    "BRIDGE_PSC_CA_BUNDLE", "check BRIDGE_PSC_DISCOVERY_URL, DNS, the firewall or outgoing "
                    "proxy, and BRIDGE_PSC_CA_BUNDLE")
        if ctx.settings.psc_client_cert:  # PSC's TLS layer may refuse a client certificate it does not trust
            fix += ctx.t(", et que PSC accepte BRIDGE_PSC_CLIENT_CERT", ", and that PSC accepts BRIDGE_PSC_CLIENT_CERT")
        return [Check("psc.discovery", "fail", label,
                      ctx.t(f"{url} : {exc.code} ({why})", f"{url}: {exc.code} ({why})"), fix)]
    ctx.extra["psc_meta"] = meta
    problems = _compare(ctx, meta)
    if problems:
        return [Check("psc.discovery", "fail", label, "; ".join(problems),
                      ctx.t("le document ne correspond pas à la configuration : vérifiez que "
                            "BRIDGE_PSC_DISCOVERY_URL (ou BRIDGE_PSC_ISSUER) vise le bon environnement (BAS ou "
                            "production)", "the document does not match the configuration: check that "
                            "BRIDGE_PSC_DISCOVERY_URL (or BRIDGE_PSC_ISSUER) names the right environment (BAS or "
                            "production)"))]
    checks = [Check("psc.discovery", "ok", label, ctx.t(f"issuer {meta['issuer']}, points d'accès conformes",
                                                        f"issuer {meta['issuer']}, endpoints as configured"))]
    if not meta.get("end_session_endpoint"):
        checks[0] = Check("psc.discovery", "warn", label, ctx.t("pas d'end_session_endpoint",
                                                                "no end_session_endpoint"),
                          ctx.t("la déconnexion ne fermera pas la session PSC", "logout will not end the PSC session"))
    checks.append(_jwks(ctx, client))
    return checks


def _compare(ctx: Context, meta: dict) -> list[str]:
    problems, issuer = [], meta.get("issuer", "")
    expected = expected_issuer(ctx)
    if expected and issuer != expected:
        problems.append(ctx.t(f"issuer annoncé {issuer}, attendu {expected}", f"issuer {issuer}, expected {expected}"))
    for name in REQUIRED:
        if not isinstance(meta.get(name), str) or not urlsplit(meta[name]).netloc:
            problems.append(ctx.t(f"{name} absent", f"{name} missing"))
    issuer_host = urlsplit(issuer).netloc
    for name in ("authorization_endpoint", *ISSUER_HOSTED):
        value = meta.get(name)
        if not isinstance(value, str) or not value:
            continue
        if ctx.settings.production and not value.startswith("https://"):
            problems.append(ctx.t(f"{name} {value} n'est pas en https", f"{name} {value} is not https"))
        elif name in ISSUER_HOSTED and urlsplit(value).netloc != issuer_host:
            problems.append(ctx.t(f"{name} {value} hors de l'hôte de l'issuer",
                                  f"{name} {value} is off the issuer's host"))
    methods = meta.get("token_endpoint_auth_methods_supported")
    method = ctx.settings.psc_token_auth_method
    if isinstance(methods, list) and method not in methods:
        problems.append(ctx.t(f"{method} non proposé par PSC", f"{method} not offered by PSC"))
    return problems


def _jwks(ctx: Context, client: PscClient) -> Check:
    label = ctx.t("Clés de PSC (JWKS)", "PSC keys (JWKS)")
    try:
        keys = client.jwks()
    except PscError as exc:
        return Check("psc.jwks", "fail", label, f"{client.metadata()['jwks_uri']} : {exc.code}",
                     ctx.t("PSC ne publie pas de clés lisibles : réessayez, puis contactez le support ANS",
                           "PSC publishes no readable keys: retry, then contact ANS support"))
    return Check("psc.jwks", "ok", label, ctx.t(f"{len(keys.keys)} clé(s)", f"{len(keys.keys)} key(s)"))


def client_credentials(ctx: Context) -> Check:
    """A token request with a code that cannot exist: `invalid_grant` proves PSC authenticated this client
    (secret or mTLS certificate); `invalid_client` says it did not."""
    s, label = ctx.settings, ctx.t("Identifiants client PSC", "PSC client credentials")
    client, meta = ctx.extra.get("psc"), ctx.extra.get("psc_meta")
    if client is None or meta is None:
        return Check("psc.client", "skip", label, ctx.t("non vérifiés (découverte en échec)",
                                                        "not checked (discovery failed)"))
    data = {"grant_type": "authorization_code", "code": PROBE_CODE, "redirect_uri": f"{s.public_url}/psc/callback"}
    auth = None
    if s.psc_token_auth_method == "client_secret_basic":
        auth = (quote_plus(s.psc_client_id), quote_plus(s.psc_client_secret))   # RFC 6749 §2.3.1, as Authlib
    elif s.psc_token_auth_method == "client_secret_post":
        data.update(client_id=s.psc_client_id, client_secret=s.psc_client_secret)
    else:
        data["client_id"] = s.psc_client_id
    session = client._http()
    try:
        response = client._bounded(lambda hooks: session.post(
            meta["token_endpoint"], data=data, auth=auth, timeout=client.timeout, stream=True, hooks=hooks,
            **client._tls()))
    except (requests.RequestException, ResponseTooLarge) as exc:
        return Check("psc.client", "fail", label, ctx.t(f"point d'accès token injoignable ({type(exc).__name__})",
                                                        f"token endpoint unreachable ({type(exc).__name__})"),
                     ctx.t("avec mTLS, vérifiez BRIDGE_PSC_CLIENT_CERT/KEY et que PSC accepte ce certificat",
                           "with mTLS, check BRIDGE_PSC_CLIENT_CERT/KEY and that PSC accepts this certificate"))
    try:
        error = response.json().get("error", "")
    except (ValueError, AttributeError):
        error = ""
    who = f"{s.psc_client_id} ({s.psc_token_auth_method})"
    if error == "invalid_grant":
        return Check("psc.client", "ok", label, ctx.t(f"{who} reconnu par PSC", f"{who} accepted by PSC"))
    if error in ("invalid_client", "unauthorized_client") or response.status_code == 401:
        fix = (ctx.t("PSC ne reconnaît pas ce certificat : faites enregistrer son empreinte auprès de l'ANS ou "
                     "corrigez BRIDGE_PSC_CLIENT_CERT", "PSC does not know this certificate: have it registered "
                     "with ANS or fix BRIDGE_PSC_CLIENT_CERT")
               if s.psc_token_auth_method == "tls_client_auth" else
               ctx.t("vérifiez BRIDGE_PSC_CLIENT_ID et BRIDGE_PSC_CLIENT_SECRET (fournis par l'ANS)",
                     "check BRIDGE_PSC_CLIENT_ID and BRIDGE_PSC_CLIENT_SECRET (issued by ANS)"))
        return Check("psc.client", "fail", label, ctx.t(f"{who} refusé ({error or response.status_code})",
                                                        f"{who} refused ({error or response.status_code})"), fix)
    return Check("psc.client", "warn", label, ctx.t(f"réponse inattendue HTTP {response.status_code} {error}",
                                                    f"unexpected answer HTTP {response.status_code} {error}").strip(),
                 ctx.t("essayez une connexion réelle et lisez le journal de la passerelle",
                       "try a real login and read the bridge's log"))
