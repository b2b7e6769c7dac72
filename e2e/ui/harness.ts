/**
 * UI test harness: a fake helper served by the real LocalApiServer on a real Unix socket, the
 * web app (core + web bridge) attached to it, the renderer built once per run, and Debian's
 * Chromium driven by playwright-core. Missing prerequisites fail with what to install.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { WatchHub } from '../../src/helper/localapi/watch-hub.js';
import { LocalApiServer } from '../../src/helper/localapi/server.js';
import type { FakeHelper } from '../../src/main/core/testing/fake-helper.js';
import { startWebApp, type WebApp } from '../../src/main/bridge/web-app.js';
import type { Keychain } from '../../src/main/core/keychain.js';
import { memoryKeychain } from '../../src/main/core/keychain.js';

export const CHROMIUM = '/usr/bin/chromium';
const REPO = path.resolve(import.meta.dirname, '..', '..');
/** Where UI screenshots go (a CI artifact; out/ is git-ignored). */
export const ARTIFACTS = path.join(REPO, 'out', 'e2e-ui');

const quiet = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export function requireChromium(): void {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium)`);
  }
}

let built: string | null = null;
/** Builds the renderer into a temp dir (once per process), so tests never see a stale dist/. */
export function buildRenderer(): string {
  if (built) return built;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-renderer-'));
  execFileSync(
    process.execPath,
    [
      path.join(REPO, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      'vite.renderer.config.ts',
      '--outDir',
      out,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 },
  );
  built = out;
  return out;
}

export interface FakeHelperSocket {
  readonly socketPath: string;
  close(): Promise<void>;
}

/** Serves a FakeHelper over the LocalAPI on a fresh socket, watch stream included. */
export async function serveFakeHelper(helper: FakeHelper, dir: string): Promise<FakeHelperSocket> {
  const socketPath = path.join(dir, 'trellisd.sock');
  const hub = new WatchHub(
    { status: async () => helper.status, prefs: () => helper.prefs },
    { minIntervalMs: 50 },
  );
  const off = helper.on((ev) => {
    if (ev.type === 'status') hub.statusChanged();
    else if (ev.type === 'prefs') hub.prefsChanged(helper.prefs);
    else hub.notify({ level: 'info', title: ev.title, body: ev.body });
  });
  const server = new LocalApiServer({
    handlers: helper.handlers,
    watch: hub,
    daemonVersion: '0.1.0',
    log: quiet,
  });
  await server.listen(socketPath, { group: null, mode: 0o600 });
  return {
    socketPath,
    close: async () => {
      off();
      hub.close();
      await server.close();
    },
  };
}

export interface UiWorld {
  readonly app: WebApp;
  readonly browser: Browser;
  readonly page: Page;
  readonly dir: string;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  requireChromium();
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A browser context that may only talk to loopback: any other request (a provider page's web
 * font, a stray link) is aborted before it leaves, so tests never send packets off the machine.
 */
export async function newLoopbackContext(
  browser: Browser,
  viewport: { width: number; height: number } = { width: 900, height: 800 },
): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport });
  await context.route(
    (url) => !LOOPBACK_HOSTS.has(url.hostname) && url.protocol !== 'data:',
    (route) => route.abort('blockedbyclient'),
  );
  return context;
}

/** The web app on `socketPath`, and a page open on it. */
export async function openUi(opts: {
  socketPath: string;
  keychain?: Keychain;
  viewport?: { width: number; height: number };
}): Promise<UiWorld> {
  const rendererDir = buildRenderer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-ui-'));
  const app = await startWebApp({
    socketPath: opts.socketPath,
    rendererDir,
    keychain: opts.keychain ?? memoryKeychain(),
    log: () => undefined,
  });
  const browser = await launchChromium();
  const context = await newLoopbackContext(browser, opts.viewport);
  // So tests can read back what "Copy" put on the clipboard.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
    origin: app.bridge.origin,
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(app.url);
  return {
    app,
    browser,
    page,
    dir,
    close: async () => {
      await browser.close();
      await app.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
