// A second, independent JOSE implementation (the `jose` package, WebCrypto
// underneath) mints RFC 9068 access tokens for bearer-guard's interop tests
// (tests/interop.rs runs it).
//
//   node jose-tokens.mjs <issuer> <audience>
//
// For every algorithm bearer-guard accepts (RS256/384/512, PS256/384/512,
// ES256, ES384, EdDSA) it generates a fresh key (one key per algorithm; RSA
// 2048 bits, EdDSA on Ed25519) and signs one token with it. It prints ONE line
// of JSON on stdout:
//   {"jose_version": "...",
//    "jwks": {"keys": [public JWKs with kid, alg, use]},
//    "tokens": [{"alg": "...", "kid": "...", "token": "..."}],
//    "wrong_aud": "...",        // RS256, aud = <audience>-other
//    "unpublished_key": "..."}  // ES256 with kid "ES256", signed by a key
//                               // that is not in the JWKS
// The test serves the JWKS itself. Claims: iss, sub, aud, client_id, scope
// ("notes.read"), iat, nbf, exp (+5 min), jti; header typ "at+jwt".

import { readFileSync } from 'node:fs';

import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const [issuer, audience] = process.argv.slice(2);
if (!issuer || !audience) {
  console.error('usage: node jose-tokens.mjs <issuer> <audience>');
  process.exit(2);
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

async function keyFor(alg) {
  const options = alg === 'EdDSA' ? { crv: 'Ed25519' } : alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {};
  const { privateKey, publicKey } = await generateKeyPair(alg, options);
  const jwk = { ...(await exportJWK(publicKey)), kid: alg, alg, use: 'sig' };
  return { privateKey, jwk };
}

function mint(alg, kid, privateKey, aud) {
  return new SignJWT({ client_id: 'jose-client', scope: 'notes.read' })
    .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setSubject(`jose-${alg}`)
    .setAudience(aud)
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('5m')
    .setJti(crypto.randomUUID())
    .sign(privateKey);
}

const keys = await Promise.all(ALGORITHMS.map(async (alg) => [alg, await keyFor(alg)]));
const tokens = await Promise.all(
  keys.map(async ([alg, { privateKey, jwk }]) => ({ alg, kid: jwk.kid, token: await mint(alg, jwk.kid, privateKey, audience) })),
);
const rs256 = keys.find(([alg]) => alg === 'RS256')[1];
const stranger = await keyFor('ES256');
const version = JSON.parse(readFileSync(new URL('./node_modules/jose/package.json', import.meta.url))).version;

process.stdout.write(`${JSON.stringify({
  jose_version: version,
  jwks: { keys: keys.map(([, { jwk }]) => jwk) },
  tokens,
  wrong_aud: await mint('RS256', 'RS256', rs256.privateKey, `${audience}-other`),
  unpublished_key: await mint('ES256', 'ES256', stranger.privateKey, audience),
})}\n`);
