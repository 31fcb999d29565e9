// A real, independently written OpenID provider (oidc-provider) on loopback,
// for bearer-guard's interop tests (tests/interop.rs starts it; nothing else
// should).
//
//   node provider.mjs
//
// It listens on 127.0.0.1 on a free port, then prints ONE line of JSON on
// stdout: {"issuer": "http://127.0.0.1:<port>", "kids": {...}}. It exits when
// its standard input closes, so it never outlives the test that started it.
//
// What it issues (RFC 8707 resource indicators, RFC 9068 JWT access tokens):
// - One resource (an audience) per signing algorithm:
//   urn:bearer-guard:interop:{rs256,ps256,es256,es384,eddsa}, each signed with
//   its own key (one key per algorithm, `alg` published in the JWKS), scopes
//   `notes.read notes.write`; and urn:bearer-guard:interop:other, an API the
//   tests do not accept (the wrong-`aud` case).
// - An MCP-style resource: any loopback http URL, `http://127.0.0.1:<port>/…`
//   (the mcp_server example's `http://127.0.0.1:<port>/mcp`, port included,
//   as its RFC 9728 metadata names it): audience = the indicator, scope
//   `mcp:tools`, signed RS256 with the rs256 key.
// - Opaque access tokens (RFC 7662 introspection, RFC 7009 revocation): a
//   request for the API scopes WITHOUT a resource indicator defaults
//   (`defaultResource`) to urn:bearer-guard:interop:opaque, an API whose
//   tokens are opaque (`accessTokenFormat: 'opaque'`): audience = that
//   indicator, scopes `notes.read notes.write`. A request for OpenID scopes
//   only, without a resource, gets oidc-provider's own default: an opaque
//   access token for its UserInfo endpoint, with no audience and only the
//   OpenID scopes (oidc-provider drops every other scope without a
//   resource). Refresh tokens are opaque too.
// - Introspection (`features.introspection`, at /token/introspection): client
//   `notes-api` (client_secret_basic, secret `notes-api-secret`, no grant of
//   its own), the API as a resource server, may introspect every token;
//   another client only its own. The answer for an access token: `active`,
//   `sub` (not for client credentials), `client_id`, `exp`, `iat`, `iss`,
//   `aud` (when it has a resource), `scope`, `token_type` (Bearer or DPoP),
//   and its extra claims (`auth_time`, see extraTokenClaims); for a refresh
//   token the same without `aud` and `token_type`, even under the hint
//   `access_token`; `{"active": false}` for anything else.
// - Revocation (`features.revocation`, at /token/revocation): a client
//   revokes its own tokens (another's: 400 invalid_request). Revoking an
//   access token of an authorization-code grant revokes every access and
//   refresh token of that grant (oidc-provider's revokeByGrantId); a
//   client-credentials token alone.
// - Client `interop-service` (client_secret_basic): client-credentials grant.
// - Client `interop-app` (native, public, PKCE S256 required): authorization
//   code grant and refresh tokens (`offline_access`, with `prompt=consent`).
// - DPoP (RFC 9449, `features.dPoP`, no nonce required): a token request that
//   carries a `DPoP` proof gets an access token bound to the proof's key
//   (`token_type` DPoP; the JWT access token carries `cnf.jkt`, the key's RFC
//   7638 thumbprint). Proofs signed with ES256, EdDSA (named `EdDSA` or, as
//   RFC 9864 and oauth4webapi name it, `Ed25519`) or PS256 are accepted;
//   the same grants without a proof still issue bearer tokens.
// - Certificate-bound tokens (RFC 8705, `features.mTLS` with
//   `certificateBoundAccessTokens` and `selfSignedTlsClientAuth`): client
//   `interop-mtls` authenticates with `self_signed_tls_client_auth` (its
//   certificate, tests/data/client-cert.pem, registered in its `jwks` as a
//   public key with `x5c`) and gets access tokens bound to that certificate
//   (`tls_client_certificate_bound_access_tokens`; the JWT access token
//   carries `cnf.x5t#S256`, the SHA-256 thumbprint of its DER). Token type
//   Bearer, grant client credentials.
//
// The client certificate (test-only; this stands in for a TLS terminator):
// the provider listens on plain HTTP, so there is no TLS handshake to take a
// certificate from. `features.mTLS.getCertificate` reads it instead from the
// request header `x-test-client-cert`, the URL-encoded PEM, as a
// TLS-terminating proxy would forward it (nginx's
// `$ssl_client_escaped_cert`). Such a proxy would also have checked, in the
// handshake, that the client holds the certificate's private key; nothing
// here does (the test certificates' keys are not kept): the provider only
// checks the certificate against the client's registered `jwks`. Never
// trust a client-set header like this outside a test.
//
// Log-in and consent: instead of HTML pages, small JSON/form routes that the
// test drives over plain HTTP (oidc-provider's own interaction API behind them):
//   GET  /interaction/:uid           -> {"prompt": "login"|"consent", ...}
//   POST /interaction/:uid/login     form `account=<id>`: logs that account in
//   POST /interaction/:uid/consent   form `scope=<granted scopes>`: grants the
//        requested OpenID scopes and, of the requested API scopes, only those
//        listed (the others are rejected, so the token lacks them)
// Each POST answers 303 to the provider's resume URL, as a login page would.
//
// Key rotation (test-only admin routes, loopback only): oidc-provider's key
// set is fixed when a Provider is constructed, so rotation builds a new
// Provider with the same issuer, clients and configuration behind the same
// HTTP server. Its in-memory store is module-wide, so grants, sessions and
// refresh tokens survive the swap.
//   POST /__test/rotate      a new RS256 key signs from now on; the old one is
//                            still published (and may verify old tokens)
//   POST /__test/retire-old  the old RS256 key is no longer published
// Both answer {"kids": {...}}: the key ids now published, per algorithm.
//
// Counting introspection requests (test-only admin route, loopback only):
//   GET  /__test/introspections  {"introspections": n}: how many requests
//                            the introspection endpoint has had so far (any
//                            client, any answer), so a test can tell when
//                            an API asked and when it answered from its cache
//
// On stderr, oidc-provider 9 warns that Node.js 20 is not a supported runtime
// (it supports the LTS lines from 22 on) and that its in-memory adapter is for
// development only; both are expected here. The test shows this script's
// stderr only when a case fails.

import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { promisify } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const RESOURCE_PREFIX = 'urn:bearer-guard:interop:';
const API_SCOPES = 'notes.read notes.write';
const MCP_SCOPES = 'mcp:tools';
// The API that takes opaque tokens (introspection), the resource a request
// for its scopes without a resource indicator defaults to.
const OPAQUE_RESOURCE = `${RESOURCE_PREFIX}opaque`;
const ALGORITHMS = { rs256: 'RS256', ps256: 'PS256', es256: 'ES256', es384: 'ES384', eddsa: 'EdDSA' };
const REDIRECT_URI = 'http://127.0.0.1/callback';
// The header a TLS terminator would set (see the top of this file).
const CLIENT_CERT_HEADER = 'x-test-client-cert';
// The resource server's client, the one that may introspect any token.
const INTROSPECTOR = 'notes-api';
// oidc-provider's default routes for RFC 7662 and RFC 7009.
const INTROSPECTION_PATH = '/token/introspection';
const REVOCATION_PATH = '/token/revocation';

// The certificate `interop-mtls` registers: its public key, with the
// certificate itself in `x5c` (oidc-provider matches the presented
// certificate's SHA-256 thumbprint against it).
const MTLS_CERTIFICATE = new crypto.X509Certificate(readFileSync(new URL('../data/client-cert.pem', import.meta.url)));
const MTLS_JWK = {
  ...MTLS_CERTIFICATE.publicKey.export({ format: 'jwk' }),
  x5c: [MTLS_CERTIFICATE.raw.toString('base64')],
};

// The request's client certificate, from the header a TLS terminator would
// set: undefined without it; a value that is not a URL-encoded PEM
// certificate is refused (400 invalid_request), never taken for none.
function getCertificate(ctx) {
  const value = ctx.get(CLIENT_CERT_HEADER);
  if (!value) return undefined;
  try {
    return new crypto.X509Certificate(decodeURIComponent(value));
  } catch {
    throw new errors.InvalidRequest(`${CLIENT_CERT_HEADER} is not a URL-encoded PEM certificate`);
  }
}

const generateKeyPair = promisify(crypto.generateKeyPair);

async function generate(alg, kid) {
  const [type, options] = {
    RS256: ['rsa', { modulusLength: 2048 }],
    PS256: ['rsa', { modulusLength: 2048 }],
    ES256: ['ec', { namedCurve: 'P-256' }],
    ES384: ['ec', { namedCurve: 'P-384' }],
    EdDSA: ['ed25519', {}],
  }[alg];
  const { privateKey } = await generateKeyPair(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

// The keys, per algorithm: `signing` signs, `also` is only published.
const keys = Object.fromEntries(
  await Promise.all(
    Object.entries(ALGORITHMS).map(async ([name, alg]) => [name, { signing: await generate(alg, `${name}-1`), also: [] }]),
  ),
);
let rotations = 1;
// Requests to the introspection endpoint so far (see /__test/introspections).
let introspections = 0;

function publishedKids() {
  return Object.fromEntries(
    Object.entries(keys).map(([name, k]) => [name, [k.signing.kid, ...k.also.map((a) => a.kid)]]),
  );
}

// Whether `indicator` is an MCP-style resource: an http URL on 127.0.0.1
// with an explicit port (the servers the tests start), no query, no fragment.
function isLoopbackResource(indicator) {
  if (!URL.canParse(indicator)) return false;
  const url = new URL(indicator);
  return url.protocol === 'http:' && url.hostname === '127.0.0.1' && url.port !== '' && !url.search && !url.hash;
}

function getResourceServerInfo(_ctx, indicator) {
  if (isLoopbackResource(indicator)) {
    return {
      scope: MCP_SCOPES,
      audience: indicator,
      accessTokenFormat: 'jwt',
      accessTokenTTL: 300,
      jwt: { sign: { alg: 'RS256', kid: keys.rs256.signing.kid } },
    };
  }
  if (!indicator.startsWith(RESOURCE_PREFIX)) {
    throw new errors.InvalidTarget();
  }
  const name = indicator.slice(RESOURCE_PREFIX.length);
  if (indicator === OPAQUE_RESOURCE) {
    return { scope: API_SCOPES, audience: indicator, accessTokenFormat: 'opaque', accessTokenTTL: 300 };
  }
  if (name === 'other') {
    return {
      scope: API_SCOPES,
      audience: indicator,
      accessTokenFormat: 'jwt',
      accessTokenTTL: 300,
      jwt: { sign: { alg: 'RS256', kid: keys.rs256.signing.kid } },
    };
  }
  const k = Object.hasOwn(keys, name) ? keys[name] : undefined;
  if (!k) {
    throw new errors.InvalidTarget();
  }
  return {
    scope: API_SCOPES,
    audience: indicator,
    accessTokenFormat: 'jwt',
    accessTokenTTL: 300,
    jwt: { sign: { alg: k.signing.alg, kid: k.signing.kid } },
  };
}

function build(issuer) {
  const jwks = { keys: Object.values(keys).flatMap((k) => [k.signing, ...k.also]) };
  return new Provider(issuer, {
    clients: [
      {
        client_id: 'interop-service',
        client_secret: 'interop-service-secret',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: 'interop-mtls',
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [MTLS_JWK] },
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        // The API itself, as a resource server: no grant of its own; it
        // authenticates to the introspection endpoint (client_secret_basic).
        client_id: INTROSPECTOR,
        client_secret: 'notes-api-secret',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: 'interop-app',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
      },
    ],
    jwks,
    cookies: { keys: ['bearer-guard interop cookie key, not a secret'] },
    scopes: ['openid', 'offline_access'],
    claims: { openid: ['sub'] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    // oidc-provider's default client authentication methods, and RFC 8705's
    // self_signed_tls_client_auth (for interop-mtls).
    clientAuthMethods: [
      'client_secret_basic',
      'client_secret_jwt',
      'client_secret_post',
      'private_key_jwt',
      'none',
      'self_signed_tls_client_auth',
    ],
    acrValues: ['urn:interop:pwd', 'urn:interop:mfa'],
    // oidc-provider's default routes, said here because the introspection
    // counter (see /__test/introspections) matches on the path.
    routes: { introspection: INTROSPECTION_PATH, revocation: REVOCATION_PATH },
    // The DPoP proof algorithms the token endpoint accepts: oidc-provider's
    // default (ES256, Ed25519, EdDSA) and PS256.
    enabledJWA: { dPoPSigningAlgValues: ['ES256', 'Ed25519', 'EdDSA', 'PS256'] },
    // RFC 9068 §2.2.1: acr and auth_time in the JWT access tokens of the
    // authorization-code and refresh grants, from the sign-in they carry.
    extraTokenClaims(ctx, token) {
      if (token.kind !== 'AccessToken') return undefined;
      const from = ctx.oidc.entities.AuthorizationCode || ctx.oidc.entities.RefreshToken;
      if (!from) return undefined;
      const claims = {};
      if (from.acr) claims.acr = from.acr;
      if (from.authTime) claims.auth_time = from.authTime;
      return claims;
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // On by default in oidc-provider 9; said here because the tests rely on
      // it. No nonce (`requireNonce` is false without a `nonceSecret`).
      dPoP: { enabled: true },
      // RFC 8705: certificate-bound access tokens and self-signed
      // certificate client authentication, the certificate from a header
      // (test-only, see the top of this file).
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        selfSignedTlsClientAuth: true,
        getCertificate,
      },
      // RFC 7662: the resource server (notes-api) may introspect any token;
      // any other client only its own (oidc-provider's default lets every
      // confidential client introspect every token).
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) =>
          client.clientId === INTROSPECTOR || token.clientId === client.clientId,
      },
      // RFC 7009: a client revokes its own tokens only (oidc-provider's
      // default, said here).
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      resourceIndicators: {
        enabled: true,
        // No resource indicator: a request for the API's scopes is for the
        // opaque-token API; one for OpenID scopes only gets oidc-provider's
        // own default, a UserInfo access token (opaque, no audience). Several
        // resources where one is needed stay an error.
        defaultResource: (ctx, _client, oneOf) => {
          if (oneOf) return undefined;
          const requested = (ctx.oidc.params.scope || '').split(' ');
          return requested.some((s) => API_SCOPES.split(' ').includes(s)) ? OPAQUE_RESOURCE : undefined;
        },
        useGrantedResource: () => true,
        getResourceServerInfo,
      },
    },
    ttl: {
      AccessToken: 300,
      ClientCredentials: 300,
      AuthorizationCode: 60,
      IdToken: 300,
      RefreshToken: 3600,
      Interaction: 300,
      Session: 3600,
      Grant: 3600,
    },
  });
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function form(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    return json(res, 400, { error: 'interaction uid does not match its cookie' });
  }
  const { prompt, params, session, grantId } = details;
  if (req.method === 'GET' && !action) {
    return json(res, 200, {
      uid,
      prompt: prompt.name,
      reasons: prompt.reasons,
      details: prompt.details,
      client_id: params.client_id,
      scope: params.scope,
      resource: params.resource,
    });
  }
  if (req.method !== 'POST') {
    return json(res, 405, { error: 'method not allowed' });
  }
  const submitted = await form(req);
  if (action === 'login') {
    if (prompt.name !== 'login') return json(res, 409, { error: `prompt is ${prompt.name}, not login` });
    const account = submitted.get('account');
    if (!account) return json(res, 400, { error: 'account is required' });
    // The authentication context class the user signed in with, if the test
    // names one (a step-up case): it reaches the access token through
    // extraTokenClaims, with auth_time.
    const acr = submitted.get('acr');
    const login = acr ? { accountId: account, acr } : { accountId: account };
    return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
  }
  if (action === 'consent') {
    if (prompt.name !== 'consent') return json(res, 409, { error: `prompt is ${prompt.name}, not consent` });
    const granted = new Set((submitted.get('scope') || '').split(' ').filter(Boolean));
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    for (const [indicator, scopes] of Object.entries(missingResourceScopes || {})) {
      const yes = scopes.filter((s) => granted.has(s));
      const no = scopes.filter((s) => !granted.has(s));
      if (yes.length) grant.addResourceScope(indicator, yes.join(' '));
      if (no.length) grant.rejectResourceScope(indicator, no.join(' '));
    }
    const id = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId: id } }, { mergeWithLastSubmission: true });
  }
  return json(res, 404, { error: 'no such interaction action' });
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  let provider = build(issuer);
  let callback = provider.callback();
  const swap = () => {
    provider = build(issuer);
    callback = provider.callback();
  };

  server.on('request', (req, res) => {
    const url = new URL(req.url, issuer);
    const route = async () => {
      if (url.pathname === '/__test/rotate' && req.method === 'POST') {
        rotations += 1;
        const next = await generate('RS256', `rs256-${rotations}`);
        keys.rs256.also.unshift(keys.rs256.signing);
        keys.rs256.signing = next;
        swap();
        return json(res, 200, { kids: publishedKids() });
      }
      if (url.pathname === '/__test/introspections' && req.method === 'GET') {
        return json(res, 200, { introspections });
      }
      if (url.pathname === INTROSPECTION_PATH && req.method === 'POST') {
        introspections += 1;
      }
      if (url.pathname === '/__test/retire-old' && req.method === 'POST') {
        keys.rs256.also = [];
        swap();
        return json(res, 200, { kids: publishedKids() });
      }
      const m = /^\/interaction\/([\w-]+)(?:\/(login|consent))?$/.exec(url.pathname);
      if (m) {
        return interaction(provider, req, res, m[1], m[2]);
      }
      return callback(req, res);
    };
    route().catch((err) => {
      console.error('provider.mjs:', err);
      if (!res.headersSent) json(res, 500, { error: String(err?.message || err) });
      else res.destroy();
    });
  });

  process.stdout.write(`${JSON.stringify({ issuer, kids: publishedKids() })}\n`);
});

// The test holds our stdin open; when it goes away, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
