"""A thick client logging a professional in through PSC Bridge with CIBA (OpenID CIBA Core 1.0, poll mode).

No browser at all: the program knows who sits in front of it (their national id, e.g. typed once or read from the
card), asks the bridge to authenticate them, and the professional approves on their e-CPS app (or with their card
through CPS-Gestion) after checking that the code shown by the program is the one on their phone.

1. discovery: the bridge's backchannel_authentication_endpoint (/bc-authorize) and token_endpoint;
2. POST /bc-authorize with the client's credentials: scope, login_hint (national id), binding_message (the code
   shown on both screens) -> auth_req_id, expires_in, interval;
3. poll /token (grant_type urn:openid:params:grant-type:ciba) every `interval` seconds, 5 s more after each
   slow_down, until tokens, access_denied or expired_token;
4. print the ID token claims. They come straight from the token endpoint, over TLS, to an authenticated client:
   OpenID Connect Core §3.1.3.7 lets such a client skip the signature check; verify it anyway with your OIDC
   library (jwks_uri) if the token travels further.

The client is registered in the service's policy as a confidential client that lists the CIBA grant:

    clients:
      - client_id: dpi-lourd
        client_secret_sha256: …
        grant_types: [urn:openid:params:grant-type:ciba, refresh_token]
        scopes: [openid, profile, rpps]

Run:  python docs/examples/ciba_client.py --issuer http://localhost:8000 --client-id dpi-lourd \
          --client-secret dpi-lourd-secret --login-hint 899700000002
(with `make demo`, approve on the PSC emulator's page http://127.0.0.1:8001/wallet/ciba). Needs only `requests`.
"""
from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import time

import requests

GRANT = "urn:openid:params:grant-type:ciba"


def claims_of(id_token: str) -> dict:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--login-hint", required=True, help="the professional's national id (RPPS with prefix 8)")
    parser.add_argument("--binding-message", default=f"{secrets.randbelow(90) + 10}",
                        help="the code shown here and on the professional's phone (default: 2 random digits)")
    parser.add_argument("--scope", default="openid profile rpps")
    parser.add_argument("--channel", choices=["CARD", "MOBILE"], help="PSC's channel (default: the bridge's)")
    args = parser.parse_args(argv)

    meta = requests.get(f"{args.issuer.rstrip('/')}/.well-known/openid-configuration", timeout=10).json()
    auth = (args.client_id, args.client_secret)
    form = {"scope": args.scope, "login_hint": args.login_hint, "binding_message": args.binding_message}
    if args.channel:
        form["channel"] = args.channel
    started = requests.post(meta["backchannel_authentication_endpoint"], data=form, auth=auth, timeout=30)
    if started.status_code != 200:
        print(f"Demande refusée : {started.status_code} {started.text}", file=sys.stderr)
        return 1
    request = started.json()
    interval = request.get("interval", 5)
    print(f"Validez la demande sur votre application e-CPS : le code affiché doit être {args.binding_message} "
          f"(expire dans {request['expires_in']} s).", file=sys.stderr, flush=True)
    deadline = time.monotonic() + request["expires_in"]
    while time.monotonic() < deadline:
        time.sleep(interval)
        answer = requests.post(meta["token_endpoint"], data={"grant_type": GRANT,
                                                              "auth_req_id": request["auth_req_id"]},
                               auth=auth, timeout=30)
        body = answer.json()
        if answer.status_code == 200:
            print(json.dumps(claims_of(body["id_token"]), ensure_ascii=False))
            return 0
        error = body.get("error")
        if error == "slow_down":
            interval += 5
        elif error in ("authorization_pending", "temporarily_unavailable"):
            continue
        else:
            print(f"Connexion refusée : {error} {body.get('error_description', '')}", file=sys.stderr)
            return 1
    print("La demande a expiré.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
