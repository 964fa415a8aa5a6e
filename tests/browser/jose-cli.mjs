#!/usr/bin/env node
// The independent JOSE implementation of the Rust tests: a small CLI over panva's `jose`, so that
// the keys and client assertions the server verifies are not made by the server's own code.
//
//   node jose-cli.mjs keygen ALG [KID [BITS]] -> {"private": JWK, "public": JWK} (kid and alg on
//                                           both; BITS: an RSA key of that size; for HS*
//                                           {"secret": "..."})
//   node jose-cli.mjs sign   < REQUEST   -> the compact JWS
//   node jose-cli.mjs verify < REQUEST   -> {"header": {...}, "claims": {...}}  (self-checks)
//   node jose-cli.mjs serve              -> one JSON request per stdin line, one JSON answer per
//                                           stdout line: {"op": "keygen"|"sign"|"verify", ...}
//                                           answered {"ok": result} or {"error": "..."}
//
// A sign REQUEST is {"alg", "key", "header": {...extra, e.g. kid}, "claims": {...}} where `key` is
//   - a JWK (a private key for RS*, PS*, ES*);
//   - {"secret": "..."} for HS* (keyed with the secret's UTF-8 bytes);
//   - {"public_key_as_secret": JWK, "format": "pem"|"der"} for HS*: the classic algorithm
//     confusion attack, HMAC keyed with the bytes of the *public* key (SPKI PEM by default);
// with `"alg": "none"` no key: the unsigned `header.payload.` token. `"raw": true` signs with
// node:crypto directly instead of jose, skipping jose's checks that the key fits the algorithm
// (e.g. ES256 over a P-384 key, RS256 with a 1024-bit key). `header` may also override `alg`.
// A verify REQUEST is {"jwt", "key": public JWK or {"secret"}, "algorithms": [...]}.

import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign as cryptoSign, constants } from 'node:crypto';
import { createInterface } from 'node:readline';
import * as jose from 'jose';

const HASH = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };
const CURVE = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

function b64url(data) {
  return Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)).toString('base64url');
}

async function keygen(alg, kid = randomUUID(), bits = undefined) {
  if (/^HS(256|384|512)$/.test(alg)) {
    return { secret: randomBytes(32).toString('base64url') };
  }
  if (bits !== undefined) {
    // An RSA key of any size, by node:crypto (jose makes none under 2048 bits): sign it with raw.
    if (!/^(RS|PS)/.test(alg)) throw new Error('bits is for RS* and PS* keys');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: Number(bits) });
    const extra = { kid, alg, use: 'sig' };
    return { private: { ...privateKey.export({ format: 'jwk' }), ...extra }, public: { ...publicKey.export({ format: 'jwk' }), ...extra } };
  }
  const options = { extractable: true };
  if (/^(RS|PS)/.test(alg)) options.modulusLength = 2048;
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, options);
  const priv = { ...(await jose.exportJWK(privateKey)), kid, alg, use: 'sig' };
  const pub = { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { private: priv, public: pub };
}

/** The HMAC secret of the algorithm confusion attack: the public key's own bytes. */
function publicKeyBytes(jwk, format = 'pem') {
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  const key = createPublicKey({ key: pub, format: 'jwk' });
  return format === 'der'
    ? key.export({ type: 'spki', format: 'der' })
    : Buffer.from(key.export({ type: 'spki', format: 'pem' }));
}

/** Signs `input` with node:crypto only: no check that the key fits `alg`. */
function rawSignature(alg, key, input) {
  const family = alg.slice(0, 2);
  const hash = HASH[alg.slice(2)];
  if (!hash) throw new Error(`unknown alg ${alg}`);
  if (family === 'HS') {
    const secret = key.secret !== undefined ? Buffer.from(key.secret, 'utf8') : publicKeyBytes(key.public_key_as_secret, key.format);
    return createHmac(hash, secret).update(input).digest();
  }
  const privateKey = createPrivateKey({ key, format: 'jwk' });
  if (family === 'RS') return cryptoSign(hash, Buffer.from(input), { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  if (family === 'PS') {
    return cryptoSign(hash, Buffer.from(input), {
      key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8,
    });
  }
  if (family === 'ES') return cryptoSign(hash, Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  throw new Error(`unknown alg ${alg}`);
}

async function sign({ alg, key, header = {}, claims = {}, raw = false }) {
  if (!alg) throw new Error('sign needs alg');
  const protectedHeader = { alg, ...header };
  if (protectedHeader.alg === 'none' || alg === 'none') {
    return `${b64url(protectedHeader)}.${b64url(claims)}.`;
  }
  // HS* keyed with the public key: jose refuses such keys, so node:crypto makes it.
  if (raw || key?.public_key_as_secret) {
    const input = `${b64url(protectedHeader)}.${b64url(claims)}`;
    return `${input}.${rawSignature(alg, key, input).toString('base64url')}`;
  }
  let signingKey;
  if (key?.secret !== undefined) signingKey = new TextEncoder().encode(key.secret);
  else signingKey = await jose.importJWK({ ...key, alg: key.alg ?? alg }, alg);
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(protectedHeader)
    .sign(signingKey);
}

async function verify({ jwt, key, algorithms }) {
  const verifyKey = key.secret !== undefined ? new TextEncoder().encode(key.secret) : await jose.importJWK(key, key.alg ?? algorithms?.[0]);
  const { payload, protectedHeader } = await jose.jwtVerify(jwt, verifyKey, { algorithms });
  return { header: protectedHeader, claims: payload };
}

async function run(op, request) {
  switch (op) {
    case 'keygen': return keygen(request.alg, request.kid, request.bits);
    case 'sign': return sign(request);
    case 'verify': return verify(request);
    default: throw new Error(`unknown op ${op}`);
  }
}

async function stdinJson() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

const [op, ...args] = process.argv.slice(2);
try {
  if (op === 'keygen') {
    if (!args[0]) throw new Error('usage: jose-cli.mjs keygen ALG [KID [BITS]]');
    process.stdout.write(`${JSON.stringify(await keygen(args[0], args[1], args[2]))}\n`);
  } else if (op === 'sign') {
    process.stdout.write(`${await sign(await stdinJson())}\n`);
  } else if (op === 'verify') {
    process.stdout.write(`${JSON.stringify(await verify(await stdinJson()))}\n`);
  } else if (op === 'serve') {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim()) continue;
      let answer;
      try {
        const request = JSON.parse(line);
        answer = { ok: await run(request.op, request) };
      } catch (e) {
        answer = { error: String(e?.stack ?? e) };
      }
      process.stdout.write(`${JSON.stringify(answer)}\n`);
    }
  } else {
    throw new Error('usage: jose-cli.mjs keygen ALG [KID [BITS]] | sign | verify | serve');
  }
} catch (e) {
  process.stderr.write(`jose-cli: ${e?.stack ?? e}\n`);
  process.exit(1);
}
