/**
 * The desktop UI end to end on the real stack: a real trellis-control (SQLite) on loopback, a
 * real trellisd (wireguard-go, its interface in a lab network namespace) on a Unix socket, the
 * web bridge, and Debian's Chromium. The user signs in through control's own login page in a
 * browser tab (the web bridge's stand-in for the SSO window), and sees this device and a peer;
 * then signs out and signs in again through an OpenID Connect provider (oidc-provider).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/helper/testing/wait.js';
import { startWebApp, type WebApp } from '../../src/main/bridge/web-app.js';
import { memoryKeychain, type Keychain } from '../../src/main/core/keychain.js';
import {
  MapClient,
  passwordLogin,
  registerDevice,
  startTestControl,
  type TestControl,
} from '../harness/control.js';
import { startOidcProvider, type TestOidcProvider } from '../harness/oidc-provider.js';
import { createLab, requireLabPrerequisites, type Lab } from '../lab/netns.js';
import {
  buildRenderer,
  launchChromium,
  newLoopbackContext,
  requireChromium,
  screenshot,
} from './harness.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
/** trellisd registers, connects to control and applies the first netmap within seconds. */
const DAEMON_TIMEOUT_MS = 30_000;

let control: TestControl;
let idp: TestOidcProvider;
let lab: Lab;
let daemon: ChildProcess;
let daemonLog = '';
let socketPath: string;
let web: WebApp;
let keychain: Keychain;
let browser: Browser;
let page: Page;
let peer: MapClient;

beforeAll(async () => {
  requireLabPrerequisites(['wireguard-go', 'wg']);
  requireChromium();
  idp = await startOidcProvider({
    alice: { email: 'alice@example.com', email_verified: true, name: 'Alice Liddell' },
  });
  control = await startTestControl('sqlite', {
    oidc: {
      name: 'Test IdP',
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      scopes: ['openid', 'email', 'profile'],
      allowedDomains: ['example.com'],
    },
  });
  idp.attach(`${control.url}/oidc/callback`);
  lab = createLab();
  const ns = await lab.createNamespace('ui');
  const work = lab.workDir();
  socketPath = path.join(work, 'trellisd.sock');
  daemon = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO, 'src', 'helper', 'trellisd.ts'),
      '--state-dir',
      path.join(work, 'state'),
      '--socket',
      socketPath,
      '--control-url',
      control.url,
      '--backend',
      'wireguard-go',
      '--netns',
      ns,
      '--tun-name',
      lab.ifname('w0'),
      '--port',
      '0',
      '--log-level',
      'info',
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  daemon.stdout?.on('data', (d) => (daemonLog += d));
  daemon.stderr?.on('data', (d) => (daemonLog += d));
  await waitFor(
    () => fs.existsSync(socketPath),
    `trellisd socket (log: ${daemonLog.slice(-2000)})`,
    DAEMON_TIMEOUT_MS,
    50,
  );

  // Another device of the same user, online through its own map stream.
  const session = await passwordLogin(control.url, control.owner.email, control.owner.password);
  const other = await registerDevice(
    control.url,
    { type: 'session', token: session },
    'build-server',
  );
  peer = new MapClient(control.url, other.credential, other.nodeKey);
  await peer.until((c) => c.netmap !== null);

  keychain = memoryKeychain();
  web = await startWebApp({
    socketPath,
    rendererDir: buildRenderer(),
    keychain,
    log: () => undefined,
  });
  browser = await launchChromium();
  page = await (await newLoopbackContext(browser)).newPage();
  await page.goto(web.url);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await web?.stop();
  await peer?.close();
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
  }
  await lab?.dispose();
  await control?.stop();
  await idp?.stop();
}, 60_000);

const nav = (name: string) =>
  page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name, exact: true });

describe('desktop UI on a real helper and control plane', () => {
  it('signs in through control’s login page and connects', async () => {
    await expect
      .poll(() => page.getByRole('heading', { name: 'Sign in' }).count(), { timeout: 20_000 })
      .toBe(1);
    expect(await page.getByRole('textbox', { name: 'Control server' }).inputValue()).toBe(
      control.url,
    );
    await page.getByRole('button', { name: 'Sign in with SSO' }).click();
    const link = page.getByRole('link', { name: 'Open the sign-in page' });
    await expect.poll(() => link.count(), { timeout: 15_000 }).toBe(1);
    expect(await link.getAttribute('href')).toMatch(new RegExp(`^${control.url}/login/tr_login_`));
    const [tab] = await Promise.all([page.waitForEvent('popup'), link.click()]);
    await tab.getByLabel('Email').fill(control.owner.email);
    await tab.getByLabel('Password').fill(control.owner.password);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.waitForLoadState();
    expect(await tab.textContent('body')).toContain(`Signed in as ${control.owner.email}`);
    await tab.close();
    await expect
      .poll(() => page.getByTestId('connection-state').textContent(), {
        timeout: DAEMON_TIMEOUT_MS,
      })
      .toBe('Connected');
    // The session went to the keychain, for signing in again without a window.
    const stored = await keychain.list(control.url);
    expect(stored.ok && stored.value.map((s) => s.user.email)).toEqual([control.owner.email]);
  }, 90_000);

  it('shows this device with its mesh address', async () => {
    const ipv4 = await page.getByTestId('self-ipv4').textContent();
    expect(ipv4).toMatch(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
    const status = web.core.store.getState();
    expect(status.self?.addresses.ipv4).toBe(ipv4);
    expect(await page.getByTestId('self-name').textContent()).toBe(status.self?.name);
    const file = await screenshot(page, 'real-home');
    expect(fs.statSync(file).size).toBeGreaterThan(1000);
  });

  it('lists the other device as an online peer', async () => {
    await nav('Peers').click();
    const list = page.getByRole('list', { name: 'Peers' });
    const row = list.getByRole('button', { name: /^build-server/ });
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    expect(await row.textContent()).toContain(', online');
    expect(await row.textContent()).toContain(peer.netmap!.self.addresses.ipv4);
    await row.click();
    const detail = page.getByRole('region', { name: 'Details of build-server' });
    expect(await detail.textContent()).toContain(peer.netmap!.self.fqdn);
    await screenshot(page, 'real-peers');
  });

  it('disconnects and connects again', async () => {
    await nav('Home').click();
    await page.getByRole('switch', { name: 'Connected' }).click();
    await expect
      .poll(() => page.getByTestId('connection-state').textContent(), { timeout: 15_000 })
      .toBe('Disconnected');
    await page.getByRole('switch', { name: 'Connected' }).click();
    await expect
      .poll(() => page.getByTestId('connection-state').textContent(), {
        timeout: DAEMON_TIMEOUT_MS,
      })
      .toBe('Connected');
  }, 60_000);

  it('signs out, then signs in through the OpenID Connect provider', async () => {
    await nav('Settings').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect
      .poll(() => page.getByRole('region', { name: 'Account' }).textContent(), { timeout: 20_000 })
      .toContain('Not signed in.');
    await nav('Home').click();
    await expect
      .poll(() => page.getByRole('heading', { name: 'Sign in' }).count(), { timeout: 20_000 })
      .toBe(1);
    // Signing out forgot the stored session, so nothing signs the device in again by itself.
    const after = await keychain.list(control.url);
    expect(after.ok && after.value).toEqual([]);
    await page.getByRole('button', { name: 'Sign in with SSO' }).click();
    const link = page.getByRole('link', { name: 'Open the sign-in page' });
    await expect.poll(() => link.count(), { timeout: 15_000 }).toBe(1);
    const [tab] = await Promise.all([page.waitForEvent('popup'), link.click()]);
    await tab.getByRole('link', { name: 'Sign in with Test IdP' }).click();
    // oidc-provider's development login and consent pages.
    await tab.locator('input[name="login"]').fill('alice');
    await tab.locator('input[name="password"]').fill('any');
    await tab.getByRole('button', { name: 'Sign-in' }).click();
    await tab.getByRole('button', { name: 'Continue' }).click();
    await tab.waitForURL((u) => u.href.startsWith(`${control.url}/oidc/callback`));
    expect(await tab.textContent('body')).toContain('Signed in as alice@example.com');
    await tab.close();
    await expect
      .poll(() => page.getByTestId('connection-state').textContent(), {
        timeout: DAEMON_TIMEOUT_MS,
      })
      .toBe('Connected');
    const stored = await keychain.list(control.url);
    expect(stored.ok && stored.value.map((s) => s.user.email)).toEqual(['alice@example.com']);
    expect(web.core.store.getState().account?.user.email).toBe('alice@example.com');
    await screenshot(page, 'real-home-oidc');
  }, 90_000);
});
