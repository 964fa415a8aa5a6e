// A third-party client authenticating with a private key JWT (RFC 7523): panva's openid-client,
// unmodified, discovers the local server, signs its own client assertions (aud = the issuer, as
// it does by default) and runs a client_credentials grant, then introspects and revokes the token
// it got, in both dialects. The app is registered through the management API with the demo admin
// worker's token; its keys come from panva's jose.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import * as client from 'openid-client';
import { ENV, startServer } from './harness.mjs';

const ADMIN_APP = '00000000-0000-4000-8000-0000000000b1';
const ADMIN_SECRET = 'demo-admin-secret';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function adminToken() {
  const response = await fetch(`${server.url}/${ENV}/as/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${ADMIN_APP}:${ADMIN_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.access_token;
}

/** A new PRIVATE_KEY_JWT app whose inline JWKS holds `publicJwk`; its client id. */
async function registerApp(token, publicJwk) {
  const response = await fetch(`${server.url}/v1/environments/${ENV}/applications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      name: `openid-client ${randomUUID()}`, enabled: true, type: 'WORKER', protocol: 'OPENID_CONNECT',
      grantTypes: ['CLIENT_CREDENTIALS'], tokenEndpointAuthMethod: 'PRIVATE_KEY_JWT',
      jwks: JSON.stringify({ keys: [publicJwk] }),
    }),
  });
  const body = await response.json();
  assert.equal(response.status, 201, JSON.stringify(body));
  return body.id;
}

async function keyPair(alg) {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg);
  const kid = randomUUID();
  return { privateKey, kid, publicJwk: { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** openid-client's configuration by discovery: the environment's issuer (PingOne) or the bare
 * base URL (PingFederate). */
async function configure(dialect, clientId, privateKey, kid) {
  const issuer = dialect === 'pingone' ? `${server.url}/${ENV}/as` : server.url;
  const auth = client.PrivateKeyJwt({ key: privateKey, kid });
  const config = await client.discovery(new URL(issuer), clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
  assert.equal(config.serverMetadata().issuer, issuer);
  return config;
}

for (const dialect of ['pingone', 'pingfederate']) {
  test(`openid-client with private_key_jwt (${dialect}): client_credentials, introspection, revocation`, async () => {
    const token = await adminToken();
    const { privateKey, kid, publicJwk } = await keyPair('ES256');
    const clientId = await registerApp(token, publicJwk);
    const config = await configure(dialect, clientId, privateKey, kid);
    const metadata = config.serverMetadata();
    assert.ok(metadata.token_endpoint_auth_methods_supported.includes('private_key_jwt'));

    const tokens = await client.clientCredentialsGrant(config);
    assert.ok(typeof tokens.access_token === 'string' && tokens.access_token.length > 0, JSON.stringify(tokens));
    assert.equal(tokens.token_type, 'bearer');
    assert.ok(tokens.expires_in > 0);

    // Each call signs a new assertion (a new jti): introspection and revocation authenticate too.
    const seen = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(seen.active, true, JSON.stringify(seen));
    assert.equal(seen.client_id, clientId);
    await client.tokenRevocation(config, tokens.access_token);
    const gone = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(gone.active, false, JSON.stringify(gone));

    // RS256 and PS256 keys work the same way.
    for (const alg of ['RS256', 'PS256']) {
      const pair = await keyPair(alg);
      const id = await registerApp(token, pair.publicJwk);
      const more = await client.clientCredentialsGrant(await configure(dialect, id, pair.privateKey, pair.kid));
      assert.ok(more.access_token, `${alg}: ${JSON.stringify(more)}`);
    }

    // A key the app does not have: invalid_client.
    const stranger = await keyPair('ES256');
    const wrong = await configure(dialect, clientId, stranger.privateKey, kid);
    await assert.rejects(client.clientCredentialsGrant(wrong), (error) => {
      assert.ok(error instanceof client.ResponseBodyError, String(error));
      assert.equal(error.status, 401);
      assert.equal(error.error, 'invalid_client');
      assert.equal(error.error_description, 'Invalid client or client credentials.');
      return true;
    });
  });
}
