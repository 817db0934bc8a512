"""A desktop application logging a professional in through PSC Bridge (a native app, RFC 8252).

The pattern every thick client (DPI, billing, LGC) can copy:

1. listen on the loopback interface, on a port the system chooses (127.0.0.1, port 0);
2. open the system browser on the bridge's /authorize with PKCE S256, state and nonce, and
   redirect_uri http://127.0.0.1:<that port>/callback;
3. the professional logs in in the browser (Pro Santé Connect, card...: whatever the service's policy allows);
4. the browser comes back to the loopback port with the code; the app exchanges it at /token
   (public client: no secret, the PKCE verifier proves it is the same app) and prints the ID token claims.

The client is registered in the service's policy as a public client with a portless loopback redirect URI:

    clients:
      - client_id: dpi-desktop
        token_endpoint_auth_method: none
        redirect_uris: [http://127.0.0.1/callback]

Run:  python docs/examples/desktop_login.py --issuer https://bridge.example --client-id dpi-desktop
Needs only the standard library and `requests`. The browser is the system's (the BROWSER environment variable,
as for Python's webbrowser module, chooses another).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import sys
import threading
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

DONE_PAGE = ("<!doctype html><html lang='fr'><meta charset='utf-8'><title>Connexion</title>"
             "<p>Connexion terminée : vous pouvez fermer cet onglet et revenir à l'application.</p></html>")


class Callback(BaseHTTPRequestHandler):
    """Answers the one redirect from the browser and hands its query to the waiting app."""

    def do_GET(self):  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        if parts.path != self.server.callback_path:
            self.send_error(404)
            return
        self.server.answer = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = DONE_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.done.set()

    def log_message(self, *args):  # keep the terminal for the result
        pass


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def wait_for_code(authorize_endpoint: str, params: dict, path: str, timeout: float) -> tuple[dict, str]:
    """Listen on 127.0.0.1 (any free port), open the browser, return (the callback's query, redirect_uri)."""
    server = HTTPServer(("127.0.0.1", 0), Callback)
    server.callback_path, server.answer, server.done = path, None, threading.Event()
    redirect_uri = f"http://127.0.0.1:{server.server_port}{path}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"{authorize_endpoint}?{urlencode({**params, 'redirect_uri': redirect_uri})}"
        print(f"Ouverture du navigateur : {url}", file=sys.stderr)
        webbrowser.open(url)
        if not server.done.wait(timeout):
            sys.exit("Pas de réponse du navigateur à temps.")
        return server.answer, redirect_uri
    finally:
        server.shutdown()
        server.server_close()


def id_token_claims(id_token: str, issuer: str, client_id: str, nonce: str) -> dict:
    """The ID token's claims, checked. It came straight from the token endpoint over TLS, so OpenID Connect Core
    §3.1.3.7 lets the app trust the TLS server check instead of the signature; iss, aud, nonce and exp are checked."""
    payload = id_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    audience = claims.get("aud")
    if claims.get("iss") != issuer or client_id not in (audience if isinstance(audience, list) else [audience]):
        sys.exit("ID token d'un autre émetteur ou pour une autre application.")
    if claims.get("nonce") != nonce or claims.get("exp", 0) < time.time():
        sys.exit("ID token rejoué ou expiré.")
    return claims


def login(issuer: str, client_id: str, scope: str, path: str, timeout: float) -> dict:
    meta = requests.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=10).json()
    verifier, state, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    answer, redirect_uri = wait_for_code(meta["authorization_endpoint"], {
        "response_type": "code", "client_id": client_id, "scope": scope, "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256"}, path, timeout)
    if answer.get("state") != state or answer.get("iss", meta["issuer"]) != meta["issuer"]:
        sys.exit("Réponse inattendue (state ou iss) : connexion abandonnée.")
    if "error" in answer:
        sys.exit(f"Connexion refusée : {answer['error']} {answer.get('error_description', '')}")
    tokens = requests.post(meta["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": answer["code"], "redirect_uri": redirect_uri,
        "client_id": client_id, "code_verifier": verifier})
    if tokens.status_code != 200:
        sys.exit(f"Échange du code refusé : {tokens.text}")
    return id_token_claims(tokens.json()["id_token"], meta["issuer"], client_id, nonce)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Connexion d'une application de bureau via PSC Bridge.")
    parser.add_argument("--issuer", required=True, help="the bridge's URL, e.g. https://bridge.example")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--scope", default="openid profile")
    parser.add_argument("--path", default="/callback", help="the registered redirect URI's path")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    claims = login(args.issuer, args.client_id, args.scope, args.path, args.timeout)
    print(json.dumps(claims, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
