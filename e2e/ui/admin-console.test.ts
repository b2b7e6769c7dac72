/**
 * The web admin console end to end: a real trellis-control (SQLite) on loopback serving the
 * console built from src/console, an OpenID provider (oidc-provider) on loopback, and Debian's
 * Chromium. The owner signs in through control's login page, approves a waiting device and a
 * subnet route, creates a pre-auth key (which then registers a device), sees a refused policy's
 * line and column and a failing policy test, saves a valid policy and rolls back, and finds all
 * of it in the audit log. Then: a member is refused, signing out ends the session, and single
 * sign-on gets an admin in.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_DIR_ENV } from '../../src/control/console/assets.js';
import { PAGES } from '../../src/console/src/router.js';
import {
  passwordLogin,
  registerDevice,
  startTestControl,
  type TestControl,
} from '../harness/control.js';
import { startOidcProvider, type TestOidcProvider } from '../harness/oidc-provider.js';
import { launchChromium, newLoopbackContext, requireChromium, screenshot } from './harness.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
/** Page updates after an action: one API round-trip and a re-render, slow on a loaded machine. */
const UI_TIMEOUT_MS = 20_000;

let consoleDir: string;
let control: TestControl;
let idp: TestOidcProvider;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** The owner's bearer session, for setting up and checking through the admin API. */
let owner: string;
const pageProblems: string[] = [];

/** Builds the console into a temp dir, so the test never serves a stale dist/. */
function buildConsole(): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-console-build-'));
  execFileSync(
    process.execPath,
    [
      path.join(REPO, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      'vite.console.config.ts',
      '--outDir',
      out,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 },
  );
  return out;
}

async function api(method: string, p: string, body?: unknown): Promise<any> {
  const r = await fetch(`${control.url}${p}`, {
    method,
    headers: {
      authorization: `Bearer ${owner}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const nav = (name: string) =>
  page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name, exact: true });
const status = () => page.locator('.notices [role="status"]');
const waitText = async (loc: () => Promise<string | null>, want: string | RegExp) =>
  expect.poll(async () => (await loc()) ?? '', { timeout: UI_TIMEOUT_MS }).toMatch(want);

beforeAll(async () => {
  requireChromium();
  consoleDir = buildConsole();
  process.env[CONSOLE_DIR_ENV] = consoleDir;
  idp = await startOidcProvider({
    carol: { email: 'carol@example.com', email_verified: true, name: 'Carol Admin' },
  });
  control = await startTestControl('sqlite', {
    oidc: {
      name: 'Test IdP',
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      scopes: ['openid', 'email', 'profile'],
    },
  });
  idp.attach(`${control.url}/oidc/callback`);
  owner = await passwordLogin(control.url, control.owner.email, control.owner.password);
  browser = await launchChromium();
  context = await newLoopbackContext(browser, { width: 1280, height: 900 });
  page = await context.newPage();
  page.on('pageerror', (e) => pageProblems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A CSP violation (an inline script or style slipping into the build) is a failure.
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text()))
      pageProblems.push(`console: ${m.text()}`);
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await control?.stop();
  await idp?.stop();
  delete process.env[CONSOLE_DIR_ENV];
  if (consoleDir) fs.rmSync(consoleDir, { recursive: true, force: true });
}, 60_000);

describe('web admin console on a real control plane', () => {
  it('signs the owner in through control’s login page into a Strict HttpOnly cookie', async () => {
    const res = await page.goto(`${control.url}/admin`);
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    const title = page.getByRole('heading', { name: 'Sign in to the Test admin console' });
    await expect.poll(() => title.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await page.getByRole('link', { name: 'Sign in with Test IdP' }).count()).toBe(1);
    await screenshot(page, 'admin-signin');

    await page.getByRole('link', { name: 'Sign in with email and password' }).click();
    // Control's own login page, naming the console as the client.
    await page.waitForURL((u) => u.pathname.startsWith('/login/'));
    expect(await page.textContent('body')).toContain('Trellis admin console');
    await page.locator('#email').fill(control.owner.email);
    await page.locator('#password').fill(control.owner.password);
    await page.locator('#submit').click();

    await page.waitForURL(`${control.url}/admin`);
    const heading = page.getByRole('heading', { name: 'Devices', level: 1 });
    await expect.poll(() => heading.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await page.locator('.who').textContent()).toContain(`${control.owner.email} (owner)`);

    const cookies = await context.cookies();
    const session = cookies.filter((c) => c.name === 'trellis_console');
    expect(session.map((c) => c.path).sort()).toEqual(['/admin', '/v1/admin']);
    for (const c of session) {
      expect(c.httpOnly).toBe(true);
      expect(c.sameSite).toBe('Strict');
      expect(c.value).toMatch(/^tr_sess_/);
    }
    // The sign-in's own cookie is gone, and scripts cannot read the session.
    expect(cookies.some((c) => c.name === 'trellis_console_login')).toBe(false);
    expect(await page.evaluate(() => document.cookie)).toBe('');
  }, 90_000);

  it('requires approval from the settings page, then approves a waiting device', async () => {
    await nav('DNS & settings').click();
    const approval = page.getByRole('switch', { name: 'Require device approval' });
    await expect.poll(() => approval.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await approval.getAttribute('aria-checked')).toBe('false');
    await approval.click();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await waitText(() => status().textContent(), 'Settings saved.');
    expect((await api('GET', '/v1/admin/settings')).deviceApprovalRequired).toBe(true);

    const d = await registerDevice(control.url, { type: 'session', token: owner }, 'pending-box');
    expect(d.body.approved).toBe(false);

    // Keyboard: focus the Devices link and follow it with Enter.
    await nav('Devices').focus();
    await page.keyboard.press('Enter');
    const row = page.locator('tr[data-device="pending-box"]');
    await expect.poll(() => row.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await row.textContent()).toContain('Needs approval');
    await page.getByRole('searchbox', { name: 'Search devices' }).fill('pending');
    await screenshot(page, 'admin-devices-pending');
    await page.getByRole('button', { name: 'Approve pending-box' }).click();
    await waitText(() => status().textContent(), 'Approved pending-box.');
    await waitText(() => row.textContent(), /^(?!.*Needs approval)/);
    expect((await api('GET', `/v1/admin/devices/${d.deviceId}`)).approved).toBe(true);

    // The device dialog: rename, and key expiry off.
    await page.getByRole('button', { name: 'Manage pending-box' }).click();
    const dialog = page.getByRole('dialog');
    expect(await page.getByRole('dialog', { name: 'Device pending-box' }).count()).toBe(1);
    await dialog.getByRole('textbox', { name: 'Device name' }).fill('build-box');
    await dialog.getByRole('button', { name: 'Rename' }).click();
    await waitText(
      () => dialog.locator('[role="status"]').textContent(),
      'Renamed pending-box to build-box.',
    );
    const renamed = page.getByRole('dialog', { name: 'Device build-box' });
    await expect.poll(() => renamed.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    await renamed.getByRole('switch', { name: 'Key expiry' }).click();
    await waitText(
      () => renamed.locator('[role="status"]').textContent(),
      'Key expiry disabled for build-box.',
    );
    expect(await api('GET', `/v1/admin/devices/${d.deviceId}`)).toMatchObject({
      name: 'build-box',
      keyExpiryDisabled: true,
    });
    await renamed.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('searchbox', { name: 'Search devices' }).fill('');
  }, 90_000);

  it('approves a subnet route and an exit node', async () => {
    const k = await api('POST', '/v1/admin/preauth-keys', { preapproved: true });
    const router = await registerDevice(control.url, { type: 'preauth', key: k.secret }, 'router');
    // The helper's host info reaches the store through the netmap side; set it directly.
    await control.server.store.routes.setAdvertised(router.deviceId, {
      routes: ['10.20.0.0/16', '192.168.7.0/24'],
      exitNode: true,
    });
    await nav('Routes').click();
    const route = page
      .locator('section', { hasText: 'router' })
      .locator('tr[data-route="10.20.0.0/16"]');
    await expect.poll(() => route.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await route.textContent()).toContain('Waiting for approval');
    await page.getByRole('button', { name: 'Approve route 10.20.0.0/16 on router' }).click();
    await waitText(() => route.textContent(), 'Serving');
    await page.getByRole('button', { name: 'Approve exit node router' }).click();
    await waitText(() => page.locator('tr[data-route="exit-node"]').textContent(), 'Serving');
    await screenshot(page, 'admin-routes');
    const dev = await api('GET', `/v1/admin/devices/${router.deviceId}`);
    expect(dev.routes.approved).toEqual(['10.20.0.0/16']);
    expect(dev.exitNode).toEqual({ advertised: true, approved: true });
  }, 90_000);

  it('creates a pre-auth key, shows its secret once, and the key registers a device', async () => {
    await nav('Keys').click();
    await page.getByRole('button', { name: 'Create pre-auth key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create a pre-auth key' });
    await dialog.getByRole('textbox', { name: 'Description' }).fill('ci runners');
    await dialog.getByRole('checkbox', { name: /Reusable/ }).check();
    await dialog.getByRole('checkbox', { name: /Pre-approved/ }).check();
    await dialog.getByRole('combobox', { name: 'Expires after' }).selectOption({ label: '7 days' });
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const created = page.getByRole('dialog', { name: 'Pre-auth key created' });
    const secretBox = created.getByRole('textbox', { name: 'Pre-auth key' });
    await expect.poll(() => secretBox.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    const secret = await secretBox.inputValue();
    expect(secret).toMatch(/^tr_auth_[A-Za-z0-9_-]{40,}$/);
    await screenshot(page, 'admin-key-created');
    await created.getByRole('button', { name: 'Done' }).click();

    const row = page.locator('tr', { hasText: 'ci runners' });
    await expect.poll(() => row.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await row.textContent()).toContain(secret.slice(0, 14));
    expect(await row.textContent()).not.toContain(secret);
    // The secret works: a reusable, pre-approved key registers approved devices.
    const ci = await registerDevice(control.url, { type: 'preauth', key: secret }, 'ci-1');
    expect(ci.body.approved).toBe(true);
    const listed = await api('GET', '/v1/admin/preauth-keys');
    expect(listed.items.find((x: any) => x.description === 'ci runners')).toMatchObject({
      reusable: true,
      preapproved: true,
      usedCount: 1,
    });
  }, 90_000);

  it('shows a refused policy’s line and column and failing tests, saves a valid one, rolls back', async () => {
    await nav('Access policy').click();
    const editor = page.getByRole('textbox', { name: 'Policy document (HuJSON)' });
    await expect.poll(() => editor.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    await waitText(() => editor.inputValue(), /"acls"/);

    const broken =
      '{\n  "acls": [\n    { "action": "accept" "src": ["*"], "dst": ["*:*"] },\n  ],\n}\n';
    await editor.fill(broken);
    await page.getByRole('button', { name: 'Save policy' }).click();
    const problems = page.locator('.problems');
    await waitText(() => problems.textContent(), /Not saved\./);
    const where = problems.getByRole('button', { name: /^Line 3, column \d+$/ });
    expect(await where.count()).toBe(1);
    await screenshot(page, 'admin-policy-refused');
    // The location jumps the editor's caret there.
    await where.click();
    const caretLine = await editor.evaluate(
      (el: HTMLTextAreaElement) => el.value.slice(0, el.selectionStart).split('\n').length,
    );
    expect(caretLine).toBe(3);
    expect(await page.locator('.caret').textContent()).toMatch(/^Line 3, column \d+$/);

    const policy = (port: number) => `// Members reach the servers' SSH, nothing else.
{
  "tagOwners": { "tag:server": ["autogroup:admin"] },
  "acls": [
    { "action": "accept", "src": ["autogroup:member"], "dst": ["tag:server:22"] },
  ],
  "tests": [{ "src": "alice@example.com", "accept": ["tag:server:${port}"] }],
}
`;
    // Valid HuJSON whose own test fails: refused, with the test's failure and position.
    await editor.fill(policy(80));
    await page.getByRole('button', { name: 'Save policy' }).click();
    await waitText(() => problems.textContent(), /test 1 \(src alice@example\.com\)/);
    expect(await problems.getByRole('button', { name: /^Line 7, column \d+$/ }).count()).toBe(1);
    expect((await api('GET', '/v1/admin/policy')).version).toBe(0);

    await editor.fill(policy(22));
    await page.getByRole('textbox', { name: 'Comment' }).fill('ssh only');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await waitText(
      () => page.locator('p.notice.ok').textContent(),
      'Saved version 1. 1 policy test passed.',
    );
    const saved = await api('GET', '/v1/admin/policy');
    expect(saved).toMatchObject({ version: 1, policy: policy(22) });
    const v1 = page.locator('tr[data-version="1"]');
    await waitText(() => v1.textContent(), /in force.*ssh only/);
    await screenshot(page, 'admin-policy-saved');

    // A second version, then back to the first.
    await editor.fill(policy(22).replace('SSH, nothing else', 'SSH'));
    await page.getByRole('button', { name: 'Save policy' }).click();
    await waitText(() => page.locator('p.notice.ok').textContent(), /Saved version 2\./);
    await page.getByRole('button', { name: 'Roll back to version 1' }).click();
    await page
      .getByRole('dialog', { name: 'Roll back to version 1?' })
      .getByRole('button', { name: 'Roll back' })
      .click();
    await waitText(
      () => page.locator('p.notice.ok').textContent(),
      'Rolled back to version 1, saved as version 3.',
    );
    expect(await api('GET', '/v1/admin/policy')).toMatchObject({ version: 3, policy: policy(22) });
  }, 90_000);

  it('finds these actions in the audit log, filtered by type and actor, a page at a time', async () => {
    await nav('Audit log').click();
    const rows = page.locator('table.audit tbody tr');
    await expect.poll(() => rows.count(), { timeout: UI_TIMEOUT_MS }).toBeGreaterThan(5);
    const actions = async () =>
      rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')));
    for (const a of [
      'network.settings_updated',
      'device.approved',
      'device.renamed',
      'route.approved',
      'preauth_key.created',
      'policy.updated',
      'policy.rolled_back',
    ])
      expect(await actions()).toContain(a);
    await screenshot(page, 'admin-audit');

    await page.getByRole('combobox', { name: 'Event type' }).fill('device.approved');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect
      .poll(async () => [...new Set(await actions())], { timeout: UI_TIMEOUT_MS })
      .toEqual(['device.approved']);
    expect(await rows.first().textContent()).toContain(control.owner.email);

    await page.getByRole('combobox', { name: 'Event type' }).fill('');
    await page
      .getByRole('combobox', { name: 'Actor' })
      .selectOption({ label: control.owner.email });
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const actors = async () =>
      rows.evaluateAll((trs) => [...new Set(trs.map((tr) => tr.children[1]?.textContent))]);
    await expect.poll(actors, { timeout: UI_TIMEOUT_MS }).toEqual([control.owner.email]);
    expect(await actions()).toContain('policy.updated');

    // Time: everything is from the last minutes, so "until an hour ago" finds nothing.
    await page.getByRole('button', { name: 'Clear' }).click();
    const hourAgo = new Date(Date.now() - 3_600_000);
    const local = new Date(hourAgo.getTime() - hourAgo.getTimezoneOffset() * 60_000)
      .toISOString()
      .slice(0, 16);
    await page.getByLabel('Until').fill(local);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitText(() => page.locator('.empty').textContent(), 'No events match.');

    // Pages of 50: enough entries exist by now only with more devices, so make some.
    await page.getByRole('button', { name: 'Clear' }).click();
    for (let i = 0; i < 60; i++) await api('POST', '/v1/admin/api-keys', { description: `k${i}` });
    await page.getByRole('button', { name: 'Refresh' }).click();
    const older = page.getByRole('button', { name: 'Older' });
    await expect.poll(() => older.isEnabled(), { timeout: UI_TIMEOUT_MS }).toBe(true);
    const first = await rows.first().textContent();
    await older.click();
    await waitText(() => page.locator('.pager').textContent(), /Page 2/);
    await expect.poll(() => rows.first().textContent(), { timeout: UI_TIMEOUT_MS }).not.toBe(first);
    await page.getByRole('button', { name: 'Newer' }).click();
    await waitText(() => page.locator('.pager').textContent(), /Page 1/);
  }, 90_000);

  it('passes an axe WCAG 2.1 A/AA audit on every section, light and dark', async () => {
    const theme = page.getByRole('combobox', { name: 'Theme' });
    const found: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await theme.selectOption(scheme);
      for (const p of PAGES) {
        await nav(p.title).click();
        await expect
          .poll(() => nav(p.title).getAttribute('aria-current'), { timeout: UI_TIMEOUT_MS })
          .toBe('page');
        await expect
          .poll(() => page.getByRole('heading', { level: 1, name: p.title }).count(), {
            timeout: UI_TIMEOUT_MS,
          })
          .toBe(1);
        const result = await new AxeBuilder({ page })
          .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
          .analyze();
        for (const v of result.violations) {
          for (const n of v.nodes)
            found.push(`${scheme} ${p.title}: ${v.id} ${n.target.join(' ')}`);
        }
      }
    }
    await theme.selectOption('system');
    expect(found).toEqual([]);
  }, 120_000);

  it('adds a member, who is refused; signing out ends the session', async () => {
    await nav('Users').click();
    await page.getByRole('button', { name: 'Add user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a user' });
    await dialog.getByRole('textbox', { name: 'Email' }).fill('bob@example.com');
    await dialog.getByLabel('Password').fill('bob has a long password');
    await dialog.getByRole('button', { name: 'Add user' }).click();
    await waitText(() => status().textContent(), 'Added bob@example.com as member.');
    const bob = page.locator('tr[data-user="bob@example.com"]');
    await expect.poll(() => bob.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await page.getByRole('combobox', { name: 'Role of bob@example.com' }).inputValue()).toBe(
      'member',
    );
    const theme = page.getByRole('combobox', { name: 'Theme' });
    await theme.selectOption('dark');
    expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');
    await screenshot(page, 'admin-users-dark');
    await theme.selectOption('system');

    const old = (await context.cookies()).find((c) => c.name === 'trellis_console');
    expect(old?.value).toMatch(/^tr_sess_/);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await waitText(() => page.locator('.signin').textContent(), 'You are signed out.');
    expect((await context.cookies()).some((c) => c.name === 'trellis_console')).toBe(false);
    const replay = await fetch(`${control.url}/v1/admin/users`, {
      headers: {
        cookie: `trellis_console=${old?.value}`,
        'x-trellis-console': '1',
        origin: control.url,
      },
    });
    expect(replay.status).toBe(401);

    await page.getByRole('link', { name: 'Sign in with email and password' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login/'));
    await page.locator('#email').fill('bob@example.com');
    await page.locator('#password').fill('bob has a long password');
    await page.locator('#submit').click();
    await waitText(() => page.locator('.signin').textContent(), /is a member of this network/);
    expect(page.url()).toBe(`${control.url}/admin`);
    expect((await context.cookies()).some((c) => c.name === 'trellis_console')).toBe(false);
    await screenshot(page, 'admin-member-refused');
  }, 90_000);

  it('signs an admin in with single sign-on', async () => {
    /** Through the provider's development login and consent pages, back to the console. */
    const back = `${control.url}/admin`;
    const viaIdp = async () => {
      // A fresh provider session each time, so its login page always shows.
      await context.clearCookies();
      await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
      const login = page.locator('input[name="login"]');
      await expect.poll(() => login.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
      expect(page.url().startsWith(`${idp.issuer}/`)).toBe(true);
      await login.fill('carol');
      await page.locator('input[name="password"]').fill('any');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      const consent = page.getByRole('button', { name: 'Continue' });
      await expect
        .poll(async () => page.url().startsWith(back) || (await consent.count()) > 0, {
          timeout: UI_TIMEOUT_MS,
        })
        .toBe(true);
      if (!page.url().startsWith(back)) await consent.click();
      await page.waitForURL((u) => u.href.startsWith(back), { timeout: UI_TIMEOUT_MS });
    };
    // First sign-in creates carol as a member: refused.
    await viaIdp();
    await waitText(() => page.locator('.signin').textContent(), /is a member of this network/);
    const users = await api('GET', '/v1/admin/users');
    const carol = users.items.find((u: any) => u.email === 'carol@example.com');
    expect(carol).toMatchObject({ role: 'member', provider: 'Test IdP' });
    await api('PATCH', `/v1/admin/users/${carol.id}`, { role: 'admin' });

    await viaIdp();
    await waitText(() => page.locator('.who').textContent(), 'carol@example.com (admin)');
    const heading = page.getByRole('heading', { name: 'Devices', level: 1 });
    await expect.poll(() => heading.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    await screenshot(page, 'admin-sso-admin');
    // An admin may not grant the owner role: the option is there but disabled.
    await nav('Users').click();
    const role = page.getByRole('combobox', { name: 'Role of bob@example.com' });
    await expect.poll(() => role.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await role.locator('option[value="owner"]').isDisabled()).toBe(true);
  }, 90_000);

  it('ran without page errors or CSP violations', () => {
    expect(pageProblems).toEqual([]);
  });
});
