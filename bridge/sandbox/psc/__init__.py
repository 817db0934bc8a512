"""Pro Santé Connect emulator: a standalone HTTP server that behaves like PSC (Keycloak realm `esante-wallet`).

For development and tests only: it refuses to start when BRIDGE_ENV=production.

    from bridge.sandbox.psc import EmulatorConfig, EmulatedClient, serve
    with serve(EmulatorConfig(clients=[EmulatedClient("rp", "secret", ["http://127.0.0.1:9000/cb"])])) as psc:
        psc.discovery_url   # {base}/auth/realms/esante-wallet/.well-known/wallet-openid-configuration

    python -m bridge.sandbox.psc --host 127.0.0.1 --port 8001 [--tls-cert F --tls-key F --client-ca F]
        [--id-token-alg HS256] [--userinfo-format jwt] [--client ID:SECRET:REDIRECT_URI[:POST_LOGOUT_URI]]
        [--acr CARD=eidas2,MOBILE=eidas1] [--unmet-acr lower|error]

Endpoints (issuer = {base_url}/auth/realms/esante-wallet, oidc = {issuer}/protocol/openid-connect)
    {wallet_url}/auth                    authorize (GET) + login page form (POST, hidden `txn`); wallet_url
                                         defaults to {base_url}/wallet: another base URL than the issuer, as in PSC
    {issuer}/.well-known/wallet-openid-configuration   (and .../openid-configuration)
    {oidc}/certs  /token  /userinfo  /token/introspect  /revoke  /logout

Behaviour (as PSC/Keycloak, docs/sources.md, PSC)
- Codes: 60 s, single use (even when the exchange fails), bound to client, redirect_uri, nonce, PKCE
  (plain|S256), SSO session. Refresh tokens: opaque, rotated on every use (the old one -> invalid_grant),
  min(30 min, end of SSO session). Access token: RS256 JWT, 120 s. ID token: RS256 with `kid`, or HS256 signed
  with the client secret (`id_token_alg="HS256"`); it lives 120 s and carries `at_hash`.
- SSO session (cookie KEYCLOAK_SESSION, `sso_ttl` 4 h): a later authorize without prompt=login returns a code
  at once with the original auth_time; prompt=none without a session -> error=login_required; max_age honoured.
  Logging in as another professional in the same browser (card swap) ends the previous session and its tokens.
- Userinfo, introspection and refresh stop working once the SSO session ends (logout or sso_ttl).
- A refreshed ID token keeps the original auth_time, sid and nonce (as Keycloak does). acr per authMode as
  production PSC now answers: "eidas2" for CARD, "eidas1" otherwise (`acr_by_auth_mode`). An `acr_values` the
  login did not reach: the lower acr (`unmet_acr="lower"`, default, Keycloak's voluntary acr_values) or
  error=unmet_authentication_requirements (`unmet_acr="error"`); PSC's own behaviour is UNCONFIRMED.
  Client auth: secret clients may use Basic or post (either method
  registered); tls_client_auth clients send `client_id` in the form and the registered certificate on token,
  introspection and revocation. Userinfo does not enforce the `cnf` binding (PSC enforcement unconfirmed).
- Access-token claims: iss azp sub SubjectNameID PSISubjectNameID("") preferred_username otherIds sid
  acr(eidas2|eidas1) authMode(CARD|MOBILE) auth_level("1") exp iat auth_time jti("onrtac:…") nonce scope
  typ("Bearer") [+ cnf.x5t#S256 after mTLS client auth]. ID-token claims: iss aud azp sub exp iat auth_time
  nonce acr sid SubjectNameID typ("ID") jti at_hash. `authMode` is only in the access token (as observed).
- Userinfo body = bridge.sandbox.professionals.TEST_PROFESSIONALS[SubjectNameID]; `sub` is the same UUID in
  every token. With userinfo_format="jwt": application/jwt, RS256, claims iss + aud(client_id) + the body.

Fault injection (tests): `POST {base_url}/_emulator/faults` with a JSON object REPLACES the active faults
(`{}` clears them); they apply to every following response until changed. `GET` returns them. Unknown keys or
wrong types -> 400 `invalid_faults`. In-process: `EmulatorServer.set_faults(dict)`.
    id_token_claims         {claim: value|null}  merged into the ID token; null deletes the claim
    id_token_alg            "none" (unsigned, header alg none) | "RS256" | "HS256" (overrides the config)
    id_token_bad_signature  true: signature corrupted (header and claims intact)
    id_token_kid_unknown    true: RS256 with a key whose kid is not in the JWKS (and never will be)
    access_token_claims     {claim: value|null}  merged into the access token (still validly signed; userinfo
                            and introspection keep working: the emulator indexes tokens by hash, and expiry
                            uses the real lifetime whatever `exp` says)
    userinfo_claims         {claim: value|null}  merged into the userinfo body / userinfo JWT (e.g. {"sub":
                            "other"} or {"SubjectNameID": null}); for the JWT, iss/aud can be overridden too
    userinfo_format         "json" | "jwt"
    userinfo_status         HTTP status (400-599) returned by userinfo with a JSON error (401 -> invalid_token)
    userinfo_delay          seconds to sleep before answering userinfo (0-120)
    token_delay             seconds to sleep before answering the token endpoint (0-120)
    token_error             OAuth error code returned by the token endpoint before any processing (the code
                            stays usable): status 400, 401 for "invalid_client"
    token_status            HTTP status for token_error (default above); alone -> error "server_error"
    authorize_error         the authorize endpoint redirects back with error=<value>, error_description, state
                            (and iss) after checking client_id and redirect_uri
« FI local » (broker.py): `kc_idp_hint=<alias>` naming one of `establishment_idps` (EstablishmentIdp: alias,
issuer, client_id, client_secret) hands the login to that IdP; its answer comes back at
{issuer}/broker/<alias>/endpoint; the tokens then say authMode "FI" and carry the IdP's `amr`, acr per `fi_acr`
("psc": acr_by_auth_mode, "idp": the IdP's); all UNCONFIRMED. CLI: --establishment-idp ALIAS:CLIENT_ID:SECRET:ISSUER.
CIBA (poll mode, ciba.py): `POST {oidc}/ext/ciba/auth`, the token endpoint's urn:openid:params:grant-type:ciba,
`GET|POST {base_url}/_emulator/ciba` (list / {"login_hint", "decision": approve|deny, "auth_mode"}) and the page
`{wallet_url}/ciba` that plays the professional's e-CPS app.
Other controls: `POST {base_url}/_emulator/rotate-keys` -> {"kid": new}: a new signing key replaces the old one
in the JWKS (tokens signed with the old key no longer verify at userinfo/logout). `POST {base_url}/_emulator/clock`
{"advance": seconds} moves the emulator's clock (expiry of codes, tokens, sessions) without sleeping.
"""
from .app import create_emulator
from .config import DEMO_CLIENT, REALM, EmulatedClient, EmulatorConfig, EstablishmentIdp
from .core import AUTH_MODES
from .faults import FAULT_KEYS
from .server import EmulatorServer, serve

__all__ = ["AUTH_MODES", "DEMO_CLIENT", "FAULT_KEYS", "REALM", "EmulatedClient", "EmulatorConfig",
           "EmulatorServer", "EstablishmentIdp", "create_emulator", "serve"]
