/**
 * The OS keychain for real: @napi-rs/keyring against GNOME Keyring's Secret Service on a private
 * D-Bus session bus this test starts (dbus-daemon + gnome-keyring-daemon --unlock), with its own
 * HOME so nothing touches the machine's keyrings.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/helper/testing/wait.js';
import { keychainService, openOsKeychain } from '../../src/main/core/keychain-os.js';
import type { Keychain, SessionEntry } from '../../src/main/core/keychain.js';
import { Secret } from '../../src/main/core/secret.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const CONTROL = 'http://127.0.0.1:8080';
const TOKEN = 'tr_sess_KEYRINGKEYRINGKEYRING42';

let home: string;
let bus: ChildProcess;
let keyringDaemon: ChildProcess;
const savedEnv = {
  DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS,
  HOME: process.env.HOME,
};

function requireTool(tool: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    throw new Error(`${tool} not found: install the Debian package ${pkg}`);
  }
}

beforeAll(async () => {
  requireTool('dbus-daemon', 'dbus-daemon');
  requireTool('dbus-send', 'dbus-bin');
  requireTool('gnome-keyring-daemon', 'gnome-keyring');
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-keyring-'));
  bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  bus.stdout?.on('data', (d) => (out += d));
  const address = await waitFor(
    () => out.split('\n')[0]?.trim() || null,
    'the D-Bus address',
    10_000,
  );
  const env = {
    ...process.env,
    HOME: home,
    DBUS_SESSION_BUS_ADDRESS: address,
    XDG_DATA_HOME: path.join(home, 'data'),
  };
  // --unlock reads the new login keyring's password from stdin; an empty one is fine here.
  keyringDaemon = spawn(
    'gnome-keyring-daemon',
    ['--foreground', '--unlock', '--components=secrets'],
    {
      env,
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  keyringDaemon.stdin?.end('\n');
  process.env.DBUS_SESSION_BUS_ADDRESS = address;
  process.env.HOME = home;
  // The Secret Service name appears once the daemon is up.
  await waitFor(
    () =>
      spawnSync(
        'dbus-send',
        [
          '--session',
          '--print-reply',
          '--dest=org.freedesktop.DBus',
          '/org/freedesktop/DBus',
          'org.freedesktop.DBus.ListNames',
        ],
        { env, encoding: 'utf8' },
      ).stdout.includes('org.freedesktop.secrets'),
    'gnome-keyring to own org.freedesktop.secrets',
    10_000,
    50,
  );
}, 30_000);

afterAll(() => {
  keyringDaemon?.kill('SIGTERM');
  bus?.kill('SIGTERM');
  process.env.DBUS_SESSION_BUS_ADDRESS = savedEnv.DBUS_SESSION_BUS_ADDRESS;
  process.env.HOME = savedEnv.HOME;
  if (savedEnv.DBUS_SESSION_BUS_ADDRESS === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

const entry = (id: string, savedAt: string): SessionEntry => ({
  controlUrl: CONTROL,
  token: new Secret(`${TOKEN}${id}`),
  expiresAt: '2099-01-01T00:00:00.000Z',
  user: { id, email: `${id}@example.com`, name: id },
  network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
  savedAt,
});

describe('OS keychain (Secret Service through @napi-rs/keyring)', () => {
  let kc: Keychain;

  it('opens on a running Secret Service', async () => {
    const r = await openOsKeychain();
    if (!r.ok) throw new Error(`keychain did not open: ${r.error.message}`);
    kc = r.value;
    expect(kc.kind).toBe('os-keychain');
  });

  it('stores sessions per control URL and account, newest first, and removes them', async () => {
    expect((await kc.save(entry('u1', '2025-01-01T00:00:00.000Z'))).ok).toBe(true);
    expect((await kc.save(entry('u2', '2025-02-01T00:00:00.000Z'))).ok).toBe(true);
    const listed = await kc.list(`${CONTROL}/`);
    expect(listed.ok && listed.value.map((e) => [e.user.id, e.token.reveal()])).toEqual([
      ['u2', `${TOKEN}u2`],
      ['u1', `${TOKEN}u1`],
    ]);
    expect((await kc.remove(CONTROL, 'u2')).ok).toBe(true);
    const after = await kc.list(CONTROL);
    expect(after.ok && after.value.map((e) => e.user.id)).toEqual(['u1']);
  });

  it('keeps them in the keyring for other processes, and never as plain text on disk', async () => {
    const script = `import('@napi-rs/keyring').then(async (k) => { const c = await k.findCredentialsAsync(${JSON.stringify(keychainService(CONTROL))}); console.log(JSON.stringify(c.map((x) => x.account))); })`;
    const r = spawnSync(process.execPath, ['-e', script], {
      cwd: REPO,
      env: process.env,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stdout.trim()).toBe('["u1"]');
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) files.push(p);
      }
    };
    walk(home);
    expect(files.some((f) => f.endsWith('.keyring'))).toBe(true);
    for (const f of files) expect(fs.readFileSync(f).includes(Buffer.from(TOKEN))).toBe(false);
  });
});
