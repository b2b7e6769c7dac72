/**
 * The Electron app itself, launched through Playwright's `_electron` against a fake helper on a
 * real LocalAPI socket, on a private Xvfb display. It needs the Electron binary, which the build
 * machines cannot download (ELECTRON_SKIP_BINARY_DOWNLOAD=1): there this file says so plainly and
 * checks only that the absence is real, so that `npm start` is right to fall back to the web
 * bridge. Every feature is tested without Electron in the other UI tests; this one is extra.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { findElectronBinary } from '../../scripts/electron-binary.mjs';
import { FakeHelper } from '../../src/main/core/testing/fake-helper.js';
import { waitFor } from '../../src/helper/testing/wait.js';
import { ARTIFACTS, serveFakeHelper } from './harness.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const electron = findElectronBinary();
const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A private X display for the app's windows and tray. */
async function startXvfb(): Promise<string> {
  const display = `:${90 + (process.pid % 100)}`;
  const xvfb: ChildProcess = spawn(
    'Xvfb',
    [display, '-screen', '0', '1280x800x24', '-nolisten', 'tcp'],
    {
      stdio: 'ignore',
    },
  );
  cleanups.push(() => void xvfb.kill('SIGTERM'));
  const lock = `/tmp/.X${display.slice(1)}-lock`;
  await waitFor(() => fs.existsSync(lock), 'Xvfb to start', 10_000);
  return display;
}

describe('Electron app', () => {
  if (!electron.found) {
    it('is not launched: the Electron binary is not installed here (the web bridge UI is tested instead)', () => {
      console.log(`Electron launch test NOT RUN: ${electron.reason}`);
      // The absence is real: the package's path file, which its postinstall writes after
      // downloading the binary, is missing or names a file that does not exist.
      const pkg = path.join(REPO, 'node_modules', 'electron');
      const pathFile = path.join(pkg, 'path.txt');
      const binary = fs.existsSync(pathFile)
        ? path.join(pkg, 'dist', fs.readFileSync(pathFile, 'utf8'))
        : null;
      expect(binary === null || !fs.existsSync(binary)).toBe(true);
    });
    return;
  }

  it('opens the main window, which shows the helper state through the real IPC', async () => {
    const main = path.join(REPO, 'dist', 'main', 'main.cjs');
    expect(fs.existsSync(main), 'run `npm run build:app` first').toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-electron-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const helper = new FakeHelper({ peers: 20 });
    const sock = await serveFakeHelper(helper, dir);
    cleanups.push(() => sock.close());
    const display = await startXvfb();
    const app = await _electron.launch({
      executablePath: electron.path,
      args: ['--no-sandbox', main],
      env: { ...process.env, DISPLAY: display, TRELLIS_SOCKET: sock.socketPath },
    });
    cleanups.push(() => app.close());
    const page = await app.firstWindow();
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('Connected');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'electron-home.png') });
    // Secure defaults: the page has no Node.js.
    expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe(
      'undefined',
    );
  });
});
