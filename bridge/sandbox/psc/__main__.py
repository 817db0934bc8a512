"""`python -m bridge.sandbox.psc`: run the PSC emulator in the foreground."""
from __future__ import annotations

import argparse
import logging
import re
import sys
import threading

from .config import DEFAULT_BASE_URL, DEMO_CLIENT, EmulatedClient, EmulatorConfig, EstablishmentIdp
from .server import serve

_URIS = re.compile(r"^(https?://.+?)(?::(https?://.+))?$")


def parse_client(spec: str) -> EmulatedClient:
    """ID:SECRET:REDIRECT_URI[:POST_LOGOUT_URI] (the URIs keep their own colons)."""
    client_id, _, rest = spec.partition(":")
    secret, _, uris = rest.partition(":")
    match = _URIS.match(uris)
    if not client_id or not secret or not match:
        raise argparse.ArgumentTypeError(f"--client {spec!r}: expected ID:SECRET:REDIRECT_URI[:POST_LOGOUT_URI]")
    redirect_uri, post_logout = match.groups()
    return EmulatedClient(client_id, secret, [redirect_uri], [post_logout] if post_logout else [],
                          auth_method="client_secret_basic")


def parse_tls_client(spec: str) -> EmulatedClient:
    """ID:CERT_SHA256:REDIRECT_URI[:POST_LOGOUT_URI] for a tls_client_auth client."""
    client_id, _, rest = spec.partition(":")
    fingerprint, _, uris = rest.partition(":")
    match = _URIS.match(uris)
    if not client_id or not re.fullmatch(r"[0-9a-fA-F]{64}", fingerprint) or not match:
        raise argparse.ArgumentTypeError(f"--tls-client {spec!r}: "
                                         "expected ID:SHA256_HEX:REDIRECT_URI[:POST_LOGOUT_URI]")
    redirect_uri, post_logout = match.groups()
    return EmulatedClient(client_id, "", [redirect_uri], [post_logout] if post_logout else [],
                          auth_method="tls_client_auth", tls_client_cert_sha256=fingerprint)


def parse_establishment_idp(spec: str) -> EstablishmentIdp:
    """ALIAS:CLIENT_ID:SECRET:ISSUER (the issuer URL keeps its own colons)."""
    alias, client_id, secret, issuer = (spec.split(":", 3) + ["", "", ""])[:4]
    if not alias or not client_id or not secret or not re.match(r"^https?://", issuer):
        raise argparse.ArgumentTypeError(f"--establishment-idp {spec!r}: expected ALIAS:CLIENT_ID:SECRET:ISSUER_URL")
    return EstablishmentIdp(alias, issuer, client_id, secret)


def parse_acr(spec: str) -> tuple[tuple[str, str], ...]:
    """CARD=eidas2,MOBILE=eidas1 -> the acr each authMode gets."""
    pairs = [item.partition("=") for item in spec.split(",") if item.strip()]
    if not pairs or any(not mode.strip() or not sep or not acr.strip() for mode, sep, acr in pairs):
        raise argparse.ArgumentTypeError(f"--acr {spec!r}: expected MODE=ACR[,MODE=ACR] (e.g. CARD=eidas2)")
    return tuple((mode.strip(), acr.strip()) for mode, _, acr in pairs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bridge.sandbox.psc",
                                     description="Émulateur Pro Santé Connect (développement et tests uniquement).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--base-url", default="", help="public base URL if not http(s)://HOST:PORT")
    parser.add_argument("--wallet-url", default="", help="base of the authorize endpoint (default BASE/wallet)")
    parser.add_argument("--tls-cert", help="server certificate (PEM): serve https")
    parser.add_argument("--tls-key", help="server private key (PEM)")
    parser.add_argument("--client-ca", help="CA (PEM) of accepted TLS client certificates (tls_client_auth)")
    parser.add_argument("--id-token-alg", choices=["RS256", "HS256"], default="RS256")
    parser.add_argument("--userinfo-format", choices=["json", "jwt"], default="json")
    parser.add_argument("--no-iss", action="store_true", help="no RFC 9207 iss in the authorization response")
    parser.add_argument("--omit-logout-state", action="store_true", help="drop state on the post-logout redirect")
    parser.add_argument("--acr", type=parse_acr, default=None, metavar="MODE=ACR[,MODE=ACR]",
                        help="acr per authMode (default CARD=eidas2,MOBILE=eidas1, as production PSC now answers)")
    parser.add_argument("--unmet-acr", choices=["lower", "error"], default="lower",
                        help="an acr_values the login did not reach: answer the lower acr (default) or "
                             "error=unmet_authentication_requirements (PSC's behaviour is unconfirmed)")
    parser.add_argument("--client", type=parse_client, action="append", default=[],
                        metavar="ID:SECRET:REDIRECT_URI[:POST_LOGOUT_URI]",
                        help="register a client (repeatable; replaces the demo client bridge-demo)")
    parser.add_argument("--establishment-idp", type=parse_establishment_idp, action="append", default=[],
                        metavar="ALIAS:CLIENT_ID:SECRET:ISSUER", help="an establishment IdP for kc_idp_hint=ALIAS "
                        "(« FI local », e.g. the bridge: bridge-fi:psc-fi:psc-fi-secret:http://localhost:8000)")
    parser.add_argument("--tls-client", type=parse_tls_client, action="append", default=[],
                        metavar="ID:CERT_SHA256:REDIRECT_URI[:POST_LOGOUT_URI]",
                        help="register a tls_client_auth client (repeatable)")
    return parser


def _ssl_context(args):
    if not args.tls_cert:
        return None
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    if args.client_ca:
        context.load_verify_locations(args.client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL  # secret clients connect without a certificate
    return context


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.tls_cert and not args.tls_key:
        build_parser().error("--tls-cert needs --tls-key")
    clients = (args.client or ([] if args.tls_client else [DEMO_CLIENT])) + args.tls_client
    # Without --base-url, serve() derives it from the bound socket (https with --tls-cert).
    config = EmulatorConfig(base_url=args.base_url or DEFAULT_BASE_URL,
                            wallet_url=args.wallet_url, clients=clients, id_token_alg=args.id_token_alg,
                            userinfo_format=args.userinfo_format, send_iss=not args.no_iss,
                            omit_logout_state=args.omit_logout_state, unmet_acr=args.unmet_acr,
                            establishment_idps=args.establishment_idp,
                            **({"acr_by_auth_mode": args.acr} if args.acr else {}))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        server = serve(config, host=args.host, port=args.port, ssl_context=_ssl_context(args))
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"Émulateur PSC : {server.url}")
    print(f"  issuer        {server.issuer}")
    print(f"  discovery     {server.discovery_url}")
    print(f"  authorize     {server.authorization_endpoint}")
    for client in server.config.clients:
        print(f"  client        {client.client_id} ({client.auth_method}) -> {', '.join(client.redirect_uris)}")
    for idp in server.config.establishment_idps:
        print(f"  FI local      kc_idp_hint={idp.alias} -> {idp.issuer} (client {idp.client_id})")
    print("Ctrl+C pour arrêter.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
