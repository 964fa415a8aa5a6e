// The authorization code flow in a real browser: a web app sends the person to the authorization
// endpoint; they sign in on the hosted pages (no consent step, as in PingOne); the browser comes
// back to the app's redirect URI with a code, which the app exchanges for tokens. With
// prompt=consent the hosted pages ask the person to allow the app.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { ENV, phone, serverAndBrowser, shot } from './harness.mjs';

const WEB_APP = '00000000-0000-4000-8000-0000000000a1';
const REDIRECT = 'http://127.0.0.1:8400/callback';

const fixture = serverAndBrowser();

test('sign in to a web app: authorize, sign in, back with a code; tokens; prompt=consent asks', async () => {
  const context = await phone(fixture.browser);
  const page = await context.newPage();
  // Nothing listens on the app's redirect URI: the test answers for it and keeps the URL.
  let landed;
  await page.route(`${REDIRECT}**`, (route) => {
    landed = new URL(route.request().url());
    route.fulfill({ status: 200, contentType: 'text/html', body: '<title>App</title>signed in' });
  });
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = new URL(`${fixture.server.url}/${ENV}/as/authorize`);
  Object.entries({
    response_type: 'code', client_id: WEB_APP, redirect_uri: REDIRECT, scope: 'openid profile',
    state: 'st-1', nonce: 'n-1', code_challenge: challenge, code_challenge_method: 'S256', login_hint: 'demo',
  }).forEach(([k, v]) => authorize.searchParams.set(k, v));

  await page.goto(authorize.href);
  assert.equal(await page.title(), 'Sign in');
  assert.equal(await page.getByLabel('Username').inputValue(), 'demo', 'login_hint pre-fills the username');
  await page.getByLabel('Password').fill('demo-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${REDIRECT}**`);
  assert.equal(landed.searchParams.get('state'), 'st-1');
  assert.equal(landed.searchParams.get('iss'), `${fixture.server.url}/${ENV}/as`);
  const code = landed.searchParams.get('code');
  assert.ok(code);

  const response = await fetch(`${fixture.server.url}/${ENV}/as/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${WEB_APP}:demo-web-secret`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }),
  });
  const tokens = await response.json();
  assert.equal(response.status, 200, JSON.stringify(tokens));
  assert.ok(tokens.id_token && tokens.refresh_token);

  // prompt=consent (OpenID Connect Core §3.1.2.1): signed on already, the person is asked.
  landed = undefined;
  authorize.searchParams.set('prompt', 'consent');
  authorize.searchParams.set('state', 'st-2');
  await page.goto(authorize.href);
  assert.equal(await page.title(), 'Allow this app?');
  await shot(page, '12-allow-app');
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${REDIRECT}**`);
  assert.equal(landed.searchParams.get('state'), 'st-2');
  assert.ok(landed.searchParams.get('code'));

  await context.close();
});
