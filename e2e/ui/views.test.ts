/**
 * The real renderer in Debian's Chromium, through the real web bridge and core, against a fake
 * helper (FakeHelper served by the real LocalApiServer on a Unix socket): every view, checked
 * with roles and labels, including 5,000 peers. The real daemon and control plane are in
 * real-stack.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/helper/testing/wait.js';
import { ok } from '../../src/shared/result.js';
import { memoryKeychain } from '../../src/main/core/keychain.js';
import {
  completePoll,
  FAKE_LOGIN_URL,
  FAKE_SESSION_TOKEN,
  FakeControlAuth,
} from '../../src/main/core/testing/fake-control-auth.js';
import { FakeHelper } from '../../src/main/core/testing/fake-helper.js';
import { startWebApp, type WebApp } from '../../src/main/bridge/web-app.js';
import {
  buildRenderer,
  launchChromium,
  openUi,
  screenshot,
  serveFakeHelper,
  type FakeHelperSocket,
  type UiWorld,
} from './harness.js';

const PEERS = 5000;
let dir: string;
let helper: FakeHelper;
let sock: FakeHelperSocket;
let ui: UiWorld;
let page: Page;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-ui-views-'));
  helper = new FakeHelper({ peers: PEERS });
  sock = await serveFakeHelper(helper, dir);
  ui = await openUi({ socketPath: sock.socketPath });
  page = ui.page;
});

afterAll(async () => {
  await ui?.close();
  await sock?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const nav = (name: string) =>
  page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name, exact: true });

describe('home', () => {
  it('shows the state, the connect switch and this device with copy', async () => {
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('Connected');
    expect(await page.getByTestId('self-name').textContent()).toBe('alices-macbook');
    expect(await page.getByTestId('self-ipv4').textContent()).toBe('100.64.0.1');
    await page.getByRole('button', { name: 'Copy IPv4 address' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe('100.64.0.1');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Copied' }).count()).toBe(1);
    const file = await screenshot(page, 'home');
    expect(fs.statSync(file).size).toBeGreaterThan(1000);
  });

  it('disconnects and connects with the switch', async () => {
    const sw = page.getByRole('switch', { name: 'Connected' });
    expect(await sw.getAttribute('aria-checked')).toBe('true');
    await sw.click();
    await expect
      .poll(() => page.getByTestId('connection-state').textContent())
      .toBe('Disconnected');
    expect(helper.prefs.wantRunning).toBe(false);
    await page.getByRole('switch', { name: 'Connected' }).click();
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('Connected');
    expect(helper.calls.slice(-2)).toEqual(['down', 'up']);
  });
});

describe('peers', () => {
  it('lists 5,000 peers virtualized: few rows in the DOM, the end reachable by scrolling', async () => {
    await nav('Peers').click();
    const online = helper.peers.filter((p) => p.online).length;
    await expect
      .poll(() => page.getByTestId('peer-count').textContent())
      .toBe(`${PEERS} peers, ${online} online`);
    const list = page.getByRole('list', { name: 'Peers' });
    const rendered = await list.getByRole('listitem').count();
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(80);
    expect(await list.getByRole('listitem').first().getAttribute('aria-setsize')).toBe(
      String(PEERS),
    );
    // Scroll to the end: the last rows exist now, the first ones are gone.
    await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await expect
      .poll(() => list.getByRole('listitem').last().getAttribute('aria-posinset'))
      .toBe(String(PEERS));
    expect(await list.locator('[aria-posinset="1"]').count()).toBe(0);
    expect(await list.getByRole('listitem').count()).toBeLessThan(80);
    const file = await screenshot(page, 'peers-end');
    expect(fs.statSync(file).size).toBeGreaterThan(1000);
  });

  it('scrolls smoothly: every step of a fling keeps rows on screen and the DOM bounded', async () => {
    const list = page.getByRole('list', { name: 'Peers' });
    await list.evaluate((el) => (el.scrollTop = 0));
    const counts: number[] = [];
    for (let step = 0; step < 40; step++) {
      await list.evaluate((el, s) => (el.scrollTop = s * 3000), step);
      await page.waitForFunction(() => true);
      counts.push(await list.getByRole('listitem').count());
      // The rows that exist cover the visible area: one of them sits at the top edge.
      const visible = await list.evaluate((el) => {
        const top = el.getBoundingClientRect().top + 5;
        const hit = document.elementFromPoint(el.getBoundingClientRect().left + 40, top);
        return hit !== null && el.contains(hit) && hit !== el;
      });
      expect(visible).toBe(true);
    }
    expect(Math.max(...counts)).toBeLessThan(80);
  });

  it('searches, filters online, shows details and copies a peer IP', async () => {
    const target = helper.peers[4321]!;
    await page.getByRole('searchbox', { name: 'Search peers' }).fill(target.name);
    await expect
      .poll(() => page.getByTestId('peer-count').textContent())
      .toBe(`1 of ${PEERS} peers`);
    const list = page.getByRole('list', { name: 'Peers' });
    await list.getByRole('button', { name: new RegExp(`^${target.name}`) }).click();
    const detail = page.getByRole('region', { name: `Details of ${target.name}` });
    await expect.poll(() => detail.textContent()).toContain(target.addresses.ipv4);
    expect(await detail.textContent()).toContain(
      target.path.type === 'relay'
        ? 'relayed'
        : target.path.type === 'direct'
          ? 'direct'
          : 'no path',
    );
    await list.getByRole('button', { name: `Copy IP of ${target.name}` }).click();
    await expect
      .poll(() => page.evaluate(() => navigator.clipboard.readText()))
      .toBe(target.addresses.ipv4);
    await page.getByRole('button', { name: 'Close details' }).click();
    // By OS, then online only.
    await page.getByRole('searchbox', { name: 'Search peers' }).fill('freebsd');
    const freebsd = helper.peers.filter((p) => p.os === 'freebsd');
    await expect
      .poll(() => page.getByTestId('peer-count').textContent())
      .toBe(`${freebsd.length} of ${PEERS} peers`);
    await page.getByRole('checkbox', { name: 'Online only' }).check();
    await expect
      .poll(() => page.getByTestId('peer-count').textContent())
      .toBe(`${freebsd.filter((p) => p.online).length} of ${PEERS} peers`);
    await page.getByRole('checkbox', { name: 'Online only' }).uncheck();
    await page.getByRole('searchbox', { name: 'Search peers' }).fill('');
  });
});

describe('exit node', () => {
  it('picks Recommended (the lowest latency), then None, and toggles LAN access', async () => {
    await nav('Exit node').click();
    const best = helper.peers
      .filter((p) => p.exitNodeOption && p.online)
      .sort((a, b) => (a.latencyMs ?? 1e9) - (b.latencyMs ?? 1e9))[0]!;
    const group = page.getByRole('radiogroup', { name: 'Exit node' });
    expect(await group.textContent()).toContain(`Lowest latency: ${best.name}`);
    expect(await group.getByRole('radio', { name: 'None' }).isChecked()).toBe(true);
    await group.getByRole('radio', { name: 'Recommended' }).check();
    await expect
      .poll(() => page.getByTestId('header-state').textContent())
      .toBe(`Connected via ${best.name}`);
    expect(helper.prefs.exitNode).toEqual({ type: 'auto' });
    const lan = page.getByRole('switch', { name: 'Allow local network access' });
    await lan.click();
    await expect.poll(() => lan.getAttribute('aria-checked')).toBe('true');
    expect(helper.prefs.exitNodeAllowLAN).toBe(true);
    await group.getByRole('radio', { name: 'None' }).check();
    await expect.poll(() => page.getByTestId('header-state').textContent()).toBe('Connected');
  });

  it('notifies in the page when the exit node in use goes offline, with a way to pick another', async () => {
    await nav('Exit node').click();
    const group = page.getByRole('radiogroup', { name: 'Exit node' });
    await group.getByRole('radio', { name: 'Recommended' }).check();
    await expect
      .poll(() => page.getByTestId('header-state').textContent())
      .toMatch(/^Connected via /);
    const name = (await page.getByTestId('header-state').textContent())!.replace(
      'Connected via ',
      '',
    );
    const exit = helper.peers.find((p) => p.name === name)!;
    await nav('Home').click();
    helper.patchPeer(exit.id, { online: false });
    const toast = page.getByRole('status').filter({ hasText: 'Exit node offline' });
    await expect.poll(() => toast.textContent()).toContain(`${name} went offline`);
    await screenshot(page, 'notification-exit-node-offline');
    await toast.getByRole('button', { name: 'Open' }).click();
    await expect.poll(() => nav('Exit node').getAttribute('aria-current')).toBe('page');
    helper.patchPeer(exit.id, { online: true });
    await group.getByRole('radio', { name: 'None' }).check();
    await expect.poll(() => page.getByTestId('header-state').textContent()).toBe('Connected');
  });

  it('shows what the helper itself announces', async () => {
    helper.notify('Sign-in denied', 'Your account is not allowed on this network.');
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Sign-in denied' }).textContent())
      .toContain('Your account is not allowed on this network.');
  });
});

describe('routes', () => {
  it('shows offered routes, toggles accept routes and advertises this device routes', async () => {
    await nav('Routes').click();
    const table = page.getByRole('table', { name: 'Offered routes' });
    const routers = helper.peers.filter((p) => p.routes.length > 0);
    expect(await table.getByRole('row').count()).toBe(routers.length + 1);
    expect(await table.textContent()).toContain(routers[0]!.routes[0]);
    const accept = page.getByRole('switch', { name: 'Use subnet routes' });
    expect(await accept.getAttribute('aria-checked')).toBe('true');
    await accept.click();
    await expect.poll(() => accept.getAttribute('aria-checked')).toBe('false');
    expect(helper.prefs.acceptRoutes).toBe(false);
    await page.getByRole('textbox', { name: 'Route to advertise' }).fill('10.9.8.1/24');
    await page.getByRole('button', { name: 'Advertise' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('did you mean 10.9.8.0/24');
    await page.getByRole('textbox', { name: 'Route to advertise' }).fill('10.9.8.0/24');
    await page.getByRole('button', { name: 'Advertise' }).click();
    const mine = page.getByRole('list', { name: 'Advertised routes' });
    await expect.poll(() => mine.textContent()).toContain('10.9.8.0/24waiting for approval');
    expect(helper.prefs.advertiseRoutes).toEqual(['10.9.8.0/24']);
    await page.getByRole('switch', { name: 'Offer this device as an exit node' }).click();
    await expect.poll(() => helper.prefs.advertiseExitNode).toBe(true);
  });
});

describe('posture', () => {
  it('lists each check with pass or fail, the reason and what to do', async () => {
    helper.patchStatus({
      posture: [
        { check: 'min-version', kind: 'min-client-version', passed: true, reason: null },
        {
          check: 'corp-lan',
          kind: 'local-network',
          passed: false,
          reason: 'This device is not on 10.0.0.0/8.',
        },
      ],
    });
    await nav('Posture').click();
    const checks = page.getByRole('list', { name: 'Posture checks' });
    await expect.poll(() => checks.getByRole('listitem').count()).toBe(2);
    expect(
      await page.getByRole('status').filter({ hasText: 'checks fail' }).textContent(),
    ).toContain('1 of 2 checks fail');
    const failing = checks.getByRole('listitem').filter({ hasText: 'corp-lan' });
    expect(await failing.textContent()).toContain('fails');
    expect(await failing.textContent()).toContain('This device is not on 10.0.0.0/8.');
    expect(await failing.textContent()).toContain(
      'What to do: Connect from a network your administrators allow',
    );
    expect(
      await checks.getByRole('listitem').filter({ hasText: 'min-version' }).textContent(),
    ).toContain('passes');
  });
});

describe('diagnostics and settings', () => {
  it('runs a netcheck and pings a peer', async () => {
    await nav('Diagnostics').click();
    await page.getByRole('button', { name: 'Run network check' }).click();
    const report = page.getByRole('definition').filter({ hasText: '203.0.113.7:41641' });
    await expect.poll(() => report.count()).toBe(2);
    expect(
      await page
        .getByRole('definition')
        .filter({ hasText: /^NAT-PMP, PCP: mapped/ })
        .textContent(),
    ).toBe('NAT-PMP, PCP: mapped 203.0.113.7:41641');
    const target = helper.peers.find((p) => p.online && p.path.type === 'direct')!;
    await page.getByRole('combobox', { name: 'Peer' }).fill(target.name);
    await page.getByRole('button', { name: 'Ping', exact: true }).click();
    const results = page.getByRole('list', { name: `Ping results for ${target.name}` });
    await expect.poll(() => results.getByRole('listitem').count()).toBe(4);
    expect(await results.getByRole('listitem').first().textContent()).toMatch(
      /^pong from .* via direct/,
    );
  });

  it('changes settings and shows versions', async () => {
    await nav('Settings').click();
    const block = page.getByRole('switch', { name: 'Block incoming connections' });
    await block.click();
    await expect.poll(() => block.getAttribute('aria-checked')).toBe('true');
    expect(helper.prefs.blockIncoming).toBe(true);
    await expect
      .poll(() => page.getByRole('definition').filter({ hasText: 'Trellis 0.1.0 (web)' }).count())
      .toBe(1);
    await page.getByRole('radio', { name: 'Dark' }).check();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await screenshot(page, 'settings-dark');
    await page.getByRole('radio', { name: 'Like the system' }).check();
  });
});

describe('helper unavailable', () => {
  it('says what to do when the helper stops, and recovers when it is back', async () => {
    await nav('Home').click();
    await sock.close();
    const hint = page.getByRole('alert').filter({ hasText: 'not running' });
    await expect.poll(() => hint.count(), { timeout: 15_000 }).toBe(1);
    expect(await hint.textContent()).toContain(sock.socketPath);
    expect(await page.getByTestId('header-state').textContent()).toBe('Helper not available');
    sock = await serveFakeHelper(helper, dir);
    await expect
      .poll(() => page.getByTestId('connection-state').textContent(), { timeout: 20_000 })
      .toBe('Connected');
  });
});

describe('sign-in', () => {
  it('shows the SSO link while waiting and lands on home once signed in', async () => {
    const signedOut = new FakeHelper({
      peers: 3,
      loggedIn: false,
      acceptTokens: [FAKE_SESSION_TOKEN],
    });
    const sdir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-ui-signin-'));
    const s = await serveFakeHelper(signedOut, sdir);
    const control = new FakeControlAuth();
    const keychain = memoryKeychain();
    let app: WebApp | null = null;
    const browser = await launchChromium();
    try {
      app = await startWebApp({
        socketPath: s.socketPath,
        rendererDir: buildRenderer(),
        keychain,
        controlAuth: control,
        log: () => undefined,
      });
      const p = await (await browser.newContext()).newPage();
      await p.goto(app.url);
      await expect.poll(() => p.getByRole('heading', { name: 'Sign in' }).count()).toBe(1);
      expect(await p.getByRole('textbox', { name: 'Control server' }).inputValue()).toBe(
        'https://control.example.com',
      );
      await p.getByRole('button', { name: 'Sign in with SSO' }).click();
      const link = p.getByRole('link', { name: 'Open the sign-in page' });
      await expect.poll(() => link.count()).toBe(1);
      expect(await link.getAttribute('href')).toBe(FAKE_LOGIN_URL);
      expect(await p.getByRole('button', { name: 'Sign in with SSO' }).isDisabled()).toBe(true);
      await screenshot(p, 'sign-in-waiting');
      await waitFor(() => control.calls.includes('poll'), 'the app polls control');
      control.answer(ok(completePoll()));
      await expect
        .poll(() => p.getByTestId('connection-state').count(), { timeout: 15_000 })
        .toBe(1);
      await expect.poll(() => p.getByTestId('connection-state').textContent()).toBe('Connected');
      const stored = await keychain.list('https://control.example.com');
      expect(stored.ok && stored.value.length).toBe(1);
    } finally {
      await browser.close();
      await app?.stop();
      await s.close();
      fs.rmSync(sdir, { recursive: true, force: true });
    }
  });
});
