// An independent DPoP client (RFC 9449) for bearer-guard's interop tests
// (tests/interop.rs runs it): oauth4webapi, WebCrypto underneath, gets
// DPoP-bound access tokens from oidc-provider (provider.mjs) and makes the
// proofs of the requests the test then sends to the API. Not a line of it,
// nor of its proofs, comes from bearer-guard.
//
//   node dpop-client.mjs <issuer> <api-base-url>
//
// <issuer> is the running provider.mjs; <api-base-url> is the URL the API is
// called at (https://api.interop.test): the API is never called here. Each
// request to it goes through oauth4webapi's own `protectedResourceRequest`,
// with a fetch that records the request (its `Authorization` and `DPoP`
// headers) instead of sending it; the test sends it to the router.
//
// For each proof key (ES256 on P-256, EdDSA on Ed25519, PS256 with RSA 2048)
// it generates a key pair, discovers the provider, and runs the client
// credentials grant (client `interop-service`, scope `notes.read`) with a
// DPoP proof at the token endpoint for the resource of the same algorithm
// (urn:bearer-guard:interop:{es256,eddsa,ps256}): twice, for two tokens bound
// to the key; and once without a proof, for a bearer token.
//
// oauth4webapi names an Ed25519 proof's `alg` `Ed25519` (RFC 9864), which
// the provider accepts. The Ed25519 key's requests to the API rename it
// `EdDSA` (RFC 8037's name for the same signature) through oauth4webapi's
// `modifyAssertion` hook, before signing; `as_named` is one request with the
// proof as oauth4webapi names it.
//
// It prints ONE line of JSON on stdout, and exits:
//   {"oauth4webapi_version": "...",
//    "dpop_signing_alg_values_supported": [...],   // from discovery
//    "keys": [{
//      "name": "ES256" | "EdDSA" | "PS256",
//      "resource": "urn:bearer-guard:interop:…",
//      "jkt": "...",               // oauth4webapi's RFC 7638 thumbprint
//      "token_type": "...",        // the token response's, as oauth4webapi
//                                  // reports it
//      "access_token": "...",      // bound to the key
//      "unbound_token_type": "...",
//      "requests": {NAME: {"method", "path", "authorization", "dpop"}}
//    }]}
// `dpop` is null when no proof is sent. The requests, by NAME:
//   me             GET /me with the key's token and its proof
//   notes          GET /notes, the same
//   post_notes     POST /notes, the same (the token lacks notes.write)
//   wrong_htu      GET /me with a proof made for GET /notes
//   wrong_htm      GET /me with a proof made for POST /me
//   stale_iat      GET /me with a proof whose iat is the token's own iat - 600
//   other_ath      GET /me with a proof made for the key's second token
//   other_key      GET /me with a proof by another key of the same algorithm
//   as_bearer      GET /me with the token as oauth4webapi sends it without a
//                  DPoP handle: `Bearer <token>`, no proof
//   unbound_token  GET /me with the bearer token, `DPoP <token>`, and a proof
//   as_named       (EdDSA only) GET /me, the proof's alg `Ed25519`

import { readFileSync } from 'node:fs';

import * as oauth from 'oauth4webapi';

const [issuer, apiBase] = process.argv.slice(2);
if (!issuer || !apiBase) {
  console.error('usage: node dpop-client.mjs <issuer> <api-base-url>');
  process.exit(2);
}

const RESOURCE_PREFIX = 'urn:bearer-guard:interop:';
const KEYS = [
  { name: 'ES256', generate: 'ES256', resource: 'es256' },
  { name: 'EdDSA', generate: 'Ed25519', resource: 'eddsa', rename: 'EdDSA' },
  { name: 'PS256', generate: 'PS256', resource: 'ps256' },
];

// The provider is on loopback http.
const insecure = { [oauth.allowInsecureRequests]: true };
const issuerUrl = new URL(issuer);
const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, insecure));
const client = { client_id: 'interop-service' };
const clientAuth = oauth.ClientSecretBasic('interop-service-secret');

// A DPoP handle for `keyPair`; `modify(header, payload)` runs before signing.
function handle(keyPair, ...modify) {
  const hooks = modify.filter(Boolean);
  return oauth.DPoP(client, keyPair, {
    [oauth.modifyAssertion]: (header, payload) => hooks.forEach((hook) => hook(header, payload)),
  });
}

// The client credentials grant for `resource`, with a proof by `dpop` if given.
async function token(resource, dpop) {
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    client,
    clientAuth,
    { scope: 'notes.read', resource },
    { ...insecure, DPoP: dpop },
  );
  return oauth.processClientCredentialsResponse(as, client, response);
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

// The request oauth4webapi makes for `method path` with `accessToken` (and a
// proof by `dpop` if given), recorded, not sent.
async function request(accessToken, method, path, dpop) {
  let seen;
  const record = async (url, init) => {
    seen = { url, method: init.method, headers: init.headers };
    return new Response(null, { status: 204 });
  };
  await oauth.protectedResourceRequest(accessToken, method, new URL(`${apiBase}${path}`), undefined, null, {
    DPoP: dpop,
    [oauth.customFetch]: record,
  });
  return {
    method: seen.method,
    path,
    authorization: seen.headers.authorization,
    dpop: seen.headers.dpop ?? null,
  };
}

async function forKey({ name, generate, resource: suffix, rename }) {
  const resource = `${RESOURCE_PREFIX}${suffix}`;
  const keyPair = await oauth.generateKeyPair(generate);
  const other = await oauth.generateKeyPair(generate);
  const renamed = rename ? (header) => { header.alg = rename; } : undefined;
  // At the token endpoint, the proof as oauth4webapi makes it.
  const asNamed = handle(keyPair);
  const first = await token(resource, asNamed);
  const second = await token(resource, asNamed);
  const unbound = await token(resource, undefined);
  const at = first.access_token;
  const api = handle(keyPair, renamed);
  const stale = handle(keyPair, renamed, (_header, payload) => {
    payload.iat = claims(at).iat - 600;
  });
  const requests = {
    me: await request(at, 'GET', '/me', api),
    notes: await request(at, 'GET', '/notes', api),
    post_notes: await request(at, 'POST', '/notes', api),
    wrong_htu: { ...(await request(at, 'GET', '/notes', api)), path: '/me' },
    wrong_htm: { ...(await request(at, 'POST', '/me', api)), method: 'GET' },
    stale_iat: await request(at, 'GET', '/me', stale),
    other_ath: { ...(await request(second.access_token, 'GET', '/me', api)), authorization: `DPoP ${at}` },
    other_key: await request(at, 'GET', '/me', handle(other, renamed)),
    as_bearer: await request(at, 'GET', '/me', undefined),
    unbound_token: await request(unbound.access_token, 'GET', '/me', api),
  };
  if (rename) {
    requests.as_named = await request(at, 'GET', '/me', asNamed);
  }
  return {
    name,
    resource,
    jkt: await asNamed.calculateThumbprint(),
    token_type: first.token_type,
    access_token: at,
    unbound_token_type: unbound.token_type,
    requests,
  };
}

const keys = [];
for (const key of KEYS) {
  keys.push(await forKey(key));
}
const version = JSON.parse(readFileSync(new URL('./node_modules/oauth4webapi/package.json', import.meta.url))).version;

process.stdout.write(`${JSON.stringify({
  oauth4webapi_version: version,
  dpop_signing_alg_values_supported: as.dpop_signing_alg_values_supported,
  keys,
})}\n`);
