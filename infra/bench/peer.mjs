// The benchmark's peer (infra/bench/bench.sh): panva's node-oidc-provider (pinned in
// package.json), in memory, on 127.0.0.1:PORT, configured like the local server's demo data for
// the endpoints the benchmark drives: the device flow on, client credentials on, ES256 signing
// (plus an RS256 key, so its JWKS has the same two keys as ours), JWT access tokens.
//
//   node infra/bench/peer.mjs PORT
//
// Clients: `device` (public, device_code) and `worker` / `worker-secret` (client_secret_basic,
// client_credentials). Its default memory adapter is an LRU of 1000 entries: it forgets the
// oldest codes past that, so its memory stays flat by construction (ours keeps every live grant).
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node peer.mjs PORT');
  process.exit(2);
}

function signingKey(type, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid };
}

const issuer = `http://127.0.0.1:${port}`;
const resource = 'urn:bench:api';
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'device',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    },
    {
      client_id: 'worker',
      client_secret: 'worker-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  jwks: {
    keys: [
      signingKey('ec', { namedCurve: 'P-256' }, 'ES256', 'es256'),
      signingKey('rsa', { modulusLength: 2048 }, 'RS256', 'rs256'),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 3600,
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  clientDefaults: {
    id_token_signed_response_alg: 'ES256',
  },
  enabledJWA: {
    idTokenSigningAlgValues: ['ES256', 'RS256'],
  },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`node-oidc-provider listening on ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
