// One step of an OIDC relying party, done by a certified Node library, against the bridge.
// Usage: node oidc.mjs <openid-client|oauth4webapi> <step>   with a JSON object on stdin; prints one JSON object.
// Steps: discover, discover_oauth2, authorize, authorize_jar (JAR, RFC 9101), authorize_par (PAR, RFC 9126; with
// input.jar the pushed request is a signed request object), callback, userinfo, refresh, introspect, revoke, logout_url,
// dpop_key. With `dpop: true` (DPoP, RFC 9449), callback, userinfo and refresh send proofs of the session's key.
// Input: {issuer, client_id, client_secret?, auth: basic|none|private_key_jwt|tls, jwk?, alg?, redirect_uri, ...}.
// With `cert_header: {name, value}` (mTLS, RFC 8705) every request carries the header the bridge's reverse proxy
// would add after the TLS handshake with the client certificate: the test plays the proxy in the library's fetch.
// A library error is printed as {"error": {"name", "code", "error", "message"}} with exit code 0 (the test decides).
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';

const [lib, firstStep] = process.argv.slice(2);
// `session` mode: one JSON request per stdin line ({"step": ..., ...}), one JSON answer per stdout line, with the
// library's configuration (and so its JWKS cache) kept between steps, like a running app.
let step = firstStep;
let input;
const cache = {};

const ALGS = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
};

async function privateKey() {
  const { kid, ...jwk } = input.jwk;
  const key = await crypto.subtle.importKey('jwk', jwk, ALGS[input.alg], false, ['sign']);
  return { key, kid };
}

async function clientAuth(ns) {
  if (input.auth === 'none') return ns.None();
  if (input.auth === 'post') return ns.ClientSecretPost(input.client_secret);
  if (input.auth === 'private_key_jwt') return ns.PrivateKeyJwt(await privateKey());
  if (input.auth === 'tls') return ns.TlsClientAuth();
  return ns.ClientSecretBasic(input.client_secret);
}

// The reverse proxy's part of mTLS: the library fetches through it (customFetch), the proxy adds the header.
function proxyFetch(symbol) {
  if (!input.cert_header) return {};
  return { [symbol]: (url, options) => {
    const headers = new Headers(options.headers);
    headers.set(input.cert_header.name, input.cert_header.value);
    return fetch(url, { ...options, headers });
  } };
}

function plain(value) {
  if (value instanceof URLSearchParams) return Object.fromEntries(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Response) return { status: value.status };
  if (value instanceof Error) {
    return { name: value.name, code: value.code, message: value.message, cause: plain(value.cause) ?? null };
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

function describe(err) {
  return { name: err?.name, code: err?.code, error: err?.error ?? err?.cause?.error,
           error_description: err?.error_description ?? err?.cause?.error_description,
           message: String(err?.message ?? err), cause: plain(err?.cause) ?? null };
}

// ---------------------------------------------------------------- openid-client 6
async function withOpenidClient() {
  const config = cache.config ?? await client.discovery(new URL(input.issuer), input.client_id, undefined,
    await clientAuth(client), { execute: [client.allowInsecureRequests],
                                algorithm: step === 'discover_oauth2' ? 'oauth2' : 'oidc',
                                ...proxyFetch(client.customFetch) });
  if (step === 'discover_oauth2') return { metadata: config.serverMetadata() };
  if (!cache.config) client.enableNonRepudiationChecks(config);   // verify the ID token's signature (JWKS)
  if (firstStep === 'session') cache.config = config;
  if (input.dpop) {   // the library retries a use_dpop_nonce answer by itself
    cache.dpopKey ??= await client.randomDPoPKeyPair(input.dpop_alg || 'ES256');
    cache.dpop ??= client.getDPoPHandle(config, cache.dpopKey);
  }
  const dpop = input.dpop ? { DPoP: cache.dpop } : undefined;
  switch (step) {
    case 'discover':
      return { metadata: config.serverMetadata() };
    case 'dpop_key':
      return { jwk: await crypto.subtle.exportKey('jwk', cache.dpopKey.publicKey), nonce_retries: null };
    case 'authorize_jar':     // a signed request object (JAR, RFC 9101): client_id + request in the URL
    case 'authorize_par': {   // a pushed request (PAR, RFC 9126): client_id + request_uri in the URL
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      let params = { redirect_uri: input.redirect_uri, scope: input.scope || 'openid profile', state, nonce,
                     code_challenge: await client.calculatePKCECodeChallenge(verifier),
                     code_challenge_method: 'S256' };
      if (step === 'authorize_jar' || input.jar) {
        const signed = await client.buildAuthorizationUrlWithJAR(config, params, await privateKey());
        if (step === 'authorize_jar') return { url: signed.href, state, nonce, verifier };
        params = { request: signed.searchParams.get('request') };   // JAR inside PAR
      }
      const url = await client.buildAuthorizationUrlWithPAR(config, params);
      return { url: url.href, state, nonce, verifier };
    }
    case 'authorize': {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const params = { redirect_uri: input.redirect_uri, scope: input.scope || 'openid profile', state, nonce,
                       code_challenge: await client.calculatePKCECodeChallenge(verifier),
                       code_challenge_method: 'S256', ...(input.extra || {}) };
      return { url: client.buildAuthorizationUrl(config, params).href, state, nonce, verifier };
    }
    case 'callback': {
      const tokens = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
        pkceCodeVerifier: input.verifier, expectedState: input.state, expectedNonce: input.nonce, idTokenExpected: true,
      }, undefined, dpop);
      return { tokens: { ...tokens }, claims: tokens.claims() };
    }
    case 'userinfo':
      return { userinfo: await client.fetchUserInfo(config, input.access_token, input.sub, dpop) };
    case 'refresh': {
      const tokens = await client.refreshTokenGrant(config, input.refresh_token, undefined, dpop);
      return { tokens: { ...tokens }, claims: tokens.claims() ?? null };
    }
    case 'introspect':
      return { introspection: await client.tokenIntrospection(config, input.token) };
    case 'revoke':
      await client.tokenRevocation(config, input.token);
      return { revoked: true };
    case 'logout_url':
      return { url: client.buildEndSessionUrl(config, { id_token_hint: input.id_token, state: input.state,
                                                        post_logout_redirect_uri: input.post_logout_redirect_uri }).href };
    default:
      throw new Error(`unknown step ${step}`);
  }
}

// DPoP (RFC 9449): one key pair per session (`input.dpop`), and the library's handle that keeps the server's nonce.
// A `use_dpop_nonce` answer is retried once, as the library's documentation tells apps to do.
async function dpopOptions(ns, c, options) {
  if (!input.dpop) return options;
  cache.dpopKey ??= await oauth.generateKeyPair(input.dpop_alg || 'ES256');
  cache.dpop ??= ns === oauth ? oauth.DPoP(c, cache.dpopKey) : null;
  return { ...options, DPoP: cache.dpop };
}

async function nonceRetry(call) {
  try {
    return await call();
  } catch (err) {
    if (!input.dpop || !oauth.isDPoPNonceError(err)) throw err;
    cache.nonceRetries = (cache.nonceRetries ?? 0) + 1;
    return await call();
  }
}

// ---------------------------------------------------------------- oauth4webapi 3
async function withOauth4webapi() {
  const issuer = new URL(input.issuer);
  const options = { [oauth.allowInsecureRequests]: true, ...proxyFetch(oauth.customFetch) };
  const algorithm = step === 'discover_oauth2' ? 'oauth2' : 'oidc';   // RFC 8414 or OIDC Discovery
  const as = cache.as ?? await oauth.processDiscoveryResponse(issuer,
    await oauth.discoveryRequest(issuer, { algorithm, ...options }));
  if (firstStep === 'session') cache.as = as;   // oauth4webapi keeps its JWKS cache per `as` object
  if (step === 'discover_oauth2') return { metadata: as };
  const c = { client_id: input.client_id };
  const auth = await clientAuth(oauth);
  const dpop = await dpopOptions(oauth, c, options);
  switch (step) {
    case 'discover':
      return { metadata: as };
    case 'dpop_key':   // the session's public DPoP key (the test computes its RFC 7638 thumbprint)
      return { jwk: await crypto.subtle.exportKey('jwk', cache.dpopKey.publicKey),
               nonce_retries: cache.nonceRetries ?? 0 };
    case 'authorize': {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const url = new URL(as.authorization_endpoint);
      const params = { client_id: input.client_id, redirect_uri: input.redirect_uri, response_type: 'code',
                       scope: input.scope || 'openid profile', state, nonce,
                       code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
                       ...(input.extra || {}) };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return { url: url.href, state, nonce, verifier };
    }
    case 'authorize_jar':     // a signed request object (JAR, RFC 9101): client_id + request in the URL
    case 'authorize_par': {   // a pushed request (PAR, RFC 9126): client_id + request_uri in the URL
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      let params = new URLSearchParams({ client_id: input.client_id, redirect_uri: input.redirect_uri,
                                         response_type: 'code', scope: input.scope || 'openid profile', state, nonce,
                                         code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
                                         code_challenge_method: 'S256' });
      const url = new URL(as.authorization_endpoint);
      url.searchParams.set('client_id', input.client_id);
      if (step === 'authorize_jar' || input.jar) {
        const request = await oauth.issueRequestObject(as, c, params, await privateKey());
        if (step === 'authorize_jar') {
          url.searchParams.set('request', request);
          return { url: url.href, state, nonce, verifier };
        }
        params = new URLSearchParams({ request });   // JAR inside PAR
      }
      const response = await oauth.pushedAuthorizationRequest(as, c, auth, params, options);
      const pushed = await oauth.processPushedAuthorizationResponse(as, c, response);
      url.searchParams.set('request_uri', pushed.request_uri);
      return { url: url.href, state, nonce, verifier, expires_in: pushed.expires_in };
    }
    case 'callback': {
      const params = oauth.validateAuthResponse(as, c, new URL(input.callback_url), input.state);
      let response;
      const result = await nonceRetry(async () => {
        response = await oauth.authorizationCodeGrantRequest(as, c, auth, params, input.redirect_uri,
                                                             input.verifier, dpop);
        return oauth.processAuthorizationCodeResponse(as, c, response,
          { expectedNonce: input.nonce, requireIdToken: true });
      });
      // Signature of the ID token (the library leaves it to TLS by default, OIDC Core §3.1.3.7 item 6).
      await oauth.validateApplicationLevelSignature(as, response, options);
      return { tokens: result, claims: oauth.getValidatedIdTokenClaims(result) };
    }
    case 'userinfo': {
      const userinfo = await nonceRetry(async () => oauth.processUserInfoResponse(as, c, input.sub,
        await oauth.userInfoRequest(as, c, input.access_token, dpop)));
      return { userinfo };
    }
    case 'refresh': {
      const result = await nonceRetry(async () => oauth.processRefreshTokenResponse(as, c,
        await oauth.refreshTokenGrantRequest(as, c, auth, input.refresh_token, dpop)));
      return { tokens: result, claims: oauth.getValidatedIdTokenClaims(result) ?? null };
    }
    case 'introspect': {
      const response = await oauth.introspectionRequest(as, c, auth, input.token, options);
      return { introspection: await oauth.processIntrospectionResponse(as, c, response) };
    }
    case 'revoke': {
      const response = await oauth.revocationRequest(as, c, auth, input.token, options);
      await oauth.processRevocationResponse(response);
      return { revoked: true };
    }
    case 'logout_url': {
      const url = new URL(as.end_session_endpoint);
      url.searchParams.set('id_token_hint', input.id_token);
      url.searchParams.set('post_logout_redirect_uri', input.post_logout_redirect_uri);
      url.searchParams.set('state', input.state);
      return { url: url.href };
    }
    default:
      throw new Error(`unknown step ${step}`);
  }
}

async function answer() {
  try {
    const run = { 'openid-client': withOpenidClient, oauth4webapi: withOauth4webapi }[lib];
    if (!run) throw new Error(`unknown library ${lib}`);
    return JSON.stringify(await run());
  } catch (err) {
    return JSON.stringify({ error: describe(err) });
  }
}

if (firstStep === 'session') {
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    ({ step, ...input } = JSON.parse(line));
    process.stdout.write(`${await answer()}\n`);
  }
} else {
  input = JSON.parse(await new Promise((resolve) => {
    let data = '';
    process.stdin.on('data', (chunk) => { data += chunk; });
    process.stdin.on('end', () => resolve(data));
  }));
  process.stdout.write(await answer());
}
