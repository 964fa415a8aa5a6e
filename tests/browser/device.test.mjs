// The person's side in a real browser at phone size: a device starts a flow over HTTP, the person
// approves in Chromium, the device's poll gets tokens. Plus typed codes, wrong codes, denial, the
// bypass options, session reuse, connected apps, no JavaScript, and the guessing lock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENV, startServer, deviceAuthorization, poll, phone, serverAndBrowser, shot } from './harness.mjs';

const fixture = serverAndBrowser();

async function signIn(page) {
  await page.getByLabel('Username').fill('demo');
  await page.getByLabel('Password').fill('demo-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('approve from verification_uri_complete: confirm, sign in, allow; the device gets tokens', async () => {
  const context = await phone(fixture.browser);
  const page = await context.newPage();
  const grant = await deviceAuthorization(fixture.server);
  const pending = await poll(fixture.server, grant.device_code);
  assert.equal(pending.body.error, 'authorization_pending');

  await page.goto(grant.verification_uri_complete);
  assert.equal(await page.title(), 'Confirm the code');
  assert.equal(await page.locator('#shown-code').textContent(), grant.user_code);
  assert.equal(await page.locator('#request').count(), 0, 'what a code is for shows only after a counted try');
  await shot(page, '1-confirm-code');
  await page.getByRole('button', { name: 'Yes, it matches' }).click();

  assert.equal(await page.title(), 'Sign in');
  await shot(page, '2-sign-in');
  await signIn(page);

  assert.equal(await page.title(), 'Allow this device?');
  assert.match(await page.locator('#request').textContent(), /Demo TV/);
  assert.match(await page.locator('#request').textContent(), /127\.0\.0\.x/);
  assert.match(await page.locator('ul.scopes').textContent(), /See your name and username/);
  await shot(page, '3-approve');
  await page.getByRole('button', { name: 'Allow' }).click();

  assert.equal(await page.title(), 'Device connected');
  await shot(page, '4-connected');
  const cookies = await context.cookies();
  const st = cookies.find((c) => c.name === 'ST');
  assert.ok(st && st.httpOnly && st.sameSite === 'Lax', 'session cookie is HttpOnly, SameSite=Lax');

  await new Promise((r) => setTimeout(r, 5000));
  const tokens = await poll(fixture.server, grant.device_code);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.ok(tokens.body.access_token && tokens.body.id_token);

  // The same browser connects a second device: the session is reused, no sign-in.
  const second = await deviceAuthorization(fixture.server, { dialect: 'pingfederate', scope: 'openid' });
  await page.goto(second.verification_uri);
  assert.equal(await page.title(), 'Connect a device');
  await page.getByLabel('Code').fill(second.user_code.toLowerCase().replace('-', ''));
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.equal(await page.title(), 'Allow this device?', 'the existing session skips sign-in');
  await page.getByRole('button', { name: 'Allow' }).click();
  assert.equal(await page.title(), 'Device connected');

  // Connected apps: the approvals are remembered and can be removed.
  await page.goto(`${fixture.server.url}/${ENV}/signon/grants`);
  assert.match(await page.locator('.grant').textContent(), /Demo TV/);
  await shot(page, '5-connected-apps');
  await page.getByRole('button', { name: /Remove/ }).click();
  assert.ok(await page.locator('#no-grants').isVisible());
  await context.close();
});

test('typed code in lower case without the dash; a wrong code first, then the right one', async () => {
  const context = await phone(fixture.browser);
  const page = await context.newPage();
  const grant = await deviceAuthorization(fixture.server, { dialect: 'pingfederate' });
  await page.goto(grant.verification_uri);
  assert.equal(await page.title(), 'Connect a device');
  const input = page.getByLabel('Code');
  assert.equal(await input.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await input.getAttribute('autocapitalize'), 'characters');
  await shot(page, '6-enter-code');

  await input.fill('bcdf ghjk');
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.match(await page.getByRole('alert').textContent(), /not valid/);
  await shot(page, '7-wrong-code');

  await page.getByLabel('Code').fill(grant.user_code.toLowerCase().replace('-', ''));
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.equal(await page.title(), 'Sign in');
  await page.getByLabel('Username').fill('demo');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.match(await page.getByRole('alert').textContent(), /username and password/);
  await shot(page, '8-wrong-password');
  await signIn(page);
  await page.getByRole('button', { name: 'Allow' }).click();
  assert.equal(await page.title(), 'Device connected');
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal((await poll(fixture.server, grant.device_code, 'pingfederate')).status, 200);
  await context.close();
});

test('deny: the result says so and the device gets access_denied', async () => {
  const context = await phone(fixture.browser);
  const page = await context.newPage();
  const grant = await deviceAuthorization(fixture.server);
  await page.goto(grant.verification_uri_complete);
  await page.getByRole('button', { name: 'Yes, it matches' }).click();
  await signIn(page);
  await page.getByRole('button', { name: 'Deny' }).click();
  assert.equal(await page.title(), 'Request denied');
  await shot(page, '9-denied');
  const answer = await poll(fixture.server, grant.device_code);
  assert.deepEqual(answer.body, { error_description: 'Authorization request is denied', error: 'access_denied' });
  await context.close();
});

test('works without JavaScript', async () => {
  const context = await phone(fixture.browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  const grant = await deviceAuthorization(fixture.server);
  await page.goto(grant.verification_uri_complete);
  await page.getByRole('button', { name: 'Yes, it matches' }).click();
  await signIn(page);
  await page.getByRole('button', { name: 'Allow' }).click();
  assert.equal(await page.title(), 'Device connected');
  await context.close();
});

test("another browser's flow link starts afresh there; an app's sign-in says to start from the app", async () => {
  const owner = await phone(fixture.browser);
  const ownPage = await owner.newPage();
  const grant = await deviceAuthorization(fixture.server);
  await ownPage.goto(grant.verification_uri);
  const flowLink = ownPage.url();
  assert.match(flowLink, /signon\/\?flowId=/);

  const other = await phone(fixture.browser);
  const otherPage = await other.newPage();
  await otherPage.goto(flowLink);
  assert.equal(await otherPage.title(), 'Connect a device', 'a fresh flow of its own');
  assert.notEqual(otherPage.url(), flowLink);

  const authorize = new URL(`${fixture.server.url}/${ENV}/as/authorize`);
  Object.entries({ response_type: 'code', client_id: '00000000-0000-4000-8000-0000000000a1',
    redirect_uri: 'http://127.0.0.1:8400/callback', scope: 'openid' })
    .forEach(([k, v]) => authorize.searchParams.set(k, v));
  await ownPage.goto(authorize.href);
  const signIn = ownPage.url();
  const response = await otherPage.goto(signIn);
  assert.equal(response.status(), 403);
  assert.equal(await otherPage.title(), 'Sign in again here');
  await shot(otherPage, '13-other-browser');
  await owner.close();
  await other.close();
});

test('an unknown flow link says it is no longer valid', async () => {
  const context = await phone(fixture.browser);
  const page = await context.newPage();
  const response = await page.goto(`${fixture.server.url}/${ENV}/signon/?flowId=forged`);
  assert.equal(response.status(), 404);
  assert.equal(await page.title(), 'This link is no longer valid');
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /default-src 'self'; frame-ancestors 'none'/);
  assert.equal(headers['cache-control'], 'no-store');
  await shot(page, '10-invalid-link');
  await context.close();
});

test('bypass options on: no confirmation; a remembered approval skips the approval page', async () => {
  const bypassing = await startServer({ BYPASS_ACTIVATION_CODE_CONFIRMATION: 'true', BYPASS_AUTHORIZATION_APPROVAL: 'true' });
  try {
    const context = await phone(fixture.browser);
    const page = await context.newPage();
    const first = await deviceAuthorization(bypassing);
    await page.goto(first.verification_uri_complete);
    assert.equal(await page.title(), 'Sign in', 'no confirmation page');
    await signIn(page);
    assert.equal(await page.title(), 'Allow this device?', 'the first time, approval is asked');
    await page.getByRole('button', { name: 'Allow' }).click();

    const second = await deviceAuthorization(bypassing);
    await page.goto(second.verification_uri_complete);
    assert.equal(await page.title(), 'Device connected', 'session reused, approval remembered');
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal((await poll(bypassing, second.device_code)).status, 200);
    await context.close();
  } finally {
    await bypassing.stop();
  }
});

test('guessing: after five wrong codes the sign-in is locked', async () => {
  const guarded = await startServer();
  try {
    const context = await phone(fixture.browser);
    const page = await context.newPage();
    const grant = await deviceAuthorization(guarded);
    await page.goto(grant.verification_uri);
    for (let i = 0; i < 5; i++) {
      await page.getByLabel('Code').fill('BCDF-GHJK');
      await page.getByRole('button', { name: 'Continue' }).click();
      assert.match(await page.getByRole('alert').textContent(), /not valid/);
    }
    await page.getByLabel('Code').fill(grant.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    assert.match(await page.getByRole('alert').textContent(), /Too many incorrect codes/);
    await shot(page, '11-locked');
    await context.close();
  } finally {
    await guarded.stop();
  }
});
