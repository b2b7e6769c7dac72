/**
 * Accessibility of the desktop UI in Debian's Chromium: every view audited with axe-core against
 * WCAG 2.1 A and AA (names, roles, contrast, landmarks) in the light and the dark theme, and the
 * main tasks done with the keyboard alone. The app runs on the real web bridge and core against
 * the fake helper (FakeHelper behind the real LocalAPI server), as in views.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/helper/testing/wait.js';
import { FakeHelper } from '../../src/main/core/testing/fake-helper.js';
import { openUi, serveFakeHelper, type FakeHelperSocket, type UiWorld } from './harness.js';

const VIEWS = [
  'Home',
  'Peers',
  'Exit node',
  'Routes',
  'Posture',
  'Diagnostics',
  'Settings',
] as const;
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

let dir: string;
let helper: FakeHelper;
let sock: FakeHelperSocket;
let ui: UiWorld;
let page: Page;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-ui-a11y-'));
  helper = new FakeHelper({ peers: 300 });
  sock = await serveFakeHelper(helper, dir);
  ui = await openUi({ socketPath: sock.socketPath });
  page = ui.page;
  await waitFor(
    async () => (await page.getByTestId('connection-state').textContent()) === 'Connected',
    'the app connected',
    20_000,
    100,
  );
});

afterAll(async () => {
  await ui?.close();
  await sock?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const nav = (name: string) =>
  page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name, exact: true });

/** The axe violations on the page as it is now, one line each (rule, impact, where). */
async function violations(): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  return result.violations.flatMap((v) =>
    v.nodes.map((n) => `${v.id} (${v.impact ?? '?'}): ${n.target.join(' ')} — ${v.help}`),
  );
}

describe.each(['light', 'dark'] as const)('axe audit, %s theme', (scheme) => {
  beforeAll(async () => {
    await page.emulateMedia({ colorScheme: scheme });
  });

  it.each(VIEWS)('%s has no WCAG 2.1 A/AA violations', async (view) => {
    await nav(view).click();
    await expect.poll(() => nav(view).getAttribute('aria-current')).toBe('page');
    if (view === 'Peers') {
      // With a peer's details open: the panel is part of the view.
      await page.getByRole('list', { name: 'Peers' }).getByRole('button').first().click();
    }
    expect(await violations()).toEqual([]);
  });
});

describe('keyboard only', () => {
  beforeAll(async () => {
    await page.emulateMedia({ colorScheme: 'light' });
  });

  /** Presses Tab until `target` has focus; fails after `max` presses. */
  async function tabTo(target: ReturnType<Page['getByRole']>, max = 40): Promise<void> {
    for (let i = 0; i < max; i++) {
      if (await target.evaluate((el) => el === document.activeElement)) return;
      await page.keyboard.press('Tab');
    }
    throw new Error(`${String(target)} never got focus after ${max} Tab presses`);
  }

  it('moves between sections, connects and disconnects, and picks an exit node', async () => {
    await nav('Home').click();
    await page.locator('body').focus();
    await tabTo(nav('Exit node'));
    // Focus is visible where it is.
    const outline = await nav('Exit node').evaluate((el) => getComputedStyle(el).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await expect.poll(() => nav('Exit node').getAttribute('aria-current')).toBe('page');
    const group = page.getByRole('radiogroup', { name: 'Exit node' });
    await tabTo(group.getByRole('radio', { name: 'None' }));
    // Arrow keys move through a radio group and choose.
    await page.keyboard.press('ArrowDown');
    await expect
      .poll(() => page.getByTestId('header-state').textContent())
      .toMatch(/^Connected via /);
    await page.keyboard.press('ArrowUp');
    await expect.poll(() => page.getByTestId('header-state').textContent()).toBe('Connected');

    await page.keyboard.press('Shift+Tab');
    await tabTo(nav('Home'));
    await page.keyboard.press('Enter');
    const sw = page.getByRole('switch', { name: 'Connected' });
    await tabTo(sw);
    await page.keyboard.press('Space');
    await expect
      .poll(() => page.getByTestId('connection-state').textContent())
      .toBe('Disconnected');
    await page.keyboard.press('Space');
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('Connected');
  });

  it('searches peers, opens a peer’s details and closes them with the keyboard', async () => {
    await tabTo(nav('Peers'));
    await page.keyboard.press('Enter');
    const search = page.getByRole('searchbox', { name: 'Search peers' });
    await tabTo(search);
    const target = helper.peers[7]!;
    await page.keyboard.type(target.name);
    const row = page
      .getByRole('list', { name: 'Peers' })
      .getByRole('button', { name: new RegExp(`^${target.name}(?!\\d)`) });
    await tabTo(row);
    await page.keyboard.press('Enter');
    const detail = page.getByRole('region', { name: `Details of ${target.name}` });
    await expect.poll(() => detail.count()).toBe(1);
    await tabTo(page.getByRole('button', { name: 'Close details' }));
    await page.keyboard.press('Enter');
    await expect.poll(() => detail.count()).toBe(0);
  });
});
