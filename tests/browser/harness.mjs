// Shared pieces of the browser tests: the local server (the README's binary, on a free loopback
// port, stopped by the test that started it), the device's HTTP calls, and a phone-sized Chromium.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

export const ENV = '00000000-0000-4000-8000-000000000001';
export const DEVICE_APP = '00000000-0000-4000-8000-0000000000d1';
export const SHOTS = process.env.SCREENSHOT_DIR || 'build/screenshots';

/** Starts the local server with extra environment variables; resolves to { url, stop }. */
export function startServer(env = {}) {
  const bin = process.env.LOCAL_SERVER_BIN;
  if (!bin) throw new Error('LOCAL_SERVER_BIN is not set: run the README test command (infra/scripts/test.sh)');
  const child = spawn(bin, ['--addr', '127.0.0.1:0'], {
    env: { ...process.env, RUST_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20000);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({
          url: match[1],
          stop: () => new Promise((done) => { child.once('exit', done); child.kill('SIGINT'); }),
        });
      }
    });
  });
}

/** The device: asks for codes (PingOne or PingFederate path) and polls the token endpoint. */
export async function deviceAuthorization(server, { dialect = 'pingone', scope = 'openid profile' } = {}) {
  const path = dialect === 'pingone' ? `/${ENV}/as/device_authorization` : '/as/device_authz.oauth2';
  const response = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: DEVICE_APP, scope }),
  });
  if (response.status !== 200) throw new Error(`device authorization: ${response.status}`);
  return response.json();
}

export async function poll(server, deviceCode, dialect = 'pingone') {
  const path = dialect === 'pingone' ? `/${ENV}/as/token` : '/as/token.oauth2';
  const response = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: deviceCode,
      client_id: DEVICE_APP,
    }),
  });
  return { status: response.status, body: await response.json() };
}

/** Headless Debian Chromium, with no network but loopback in use. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** A fresh phone-sized browsing context (its own cookies). */
export async function phone(browser, options = {}) {
  return browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    ...options,
  });
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** One local server and one browser for a test file, started before and stopped after it. */
export function serverAndBrowser() {
  const fixture = {};
  before(async () => {
    fixture.server = await startServer();
    fixture.browser = await launchBrowser();
  });
  after(async () => {
    await fixture.browser?.close();
    await fixture.server?.stop();
  });
  return fixture;
}
