/**
 * The real `trellis-control` CLI, spawned as a process (tsx, as `npx tsx src/control/cli.ts`
 * runs it) against a temporary SQLite database: management commands on the database, the same
 * commands against a running server's admin API (--server), and `serve` starting, answering and
 * stopping cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type * as z from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, type ControlServer } from '../src/control/app.js';
import { verifyPassword } from '../src/control/auth/passwords.js';
import { parseConfig } from '../src/control/config.js';
import { hashToken, openStore, type Store } from '../src/control/store/index.js';
import {
  AdminDevice,
  AdminUser,
  AuditEvent,
  CreateApiKeyResponse,
  CreatePreauthKeyResponse,
  PreauthKeyInfo,
  SessionInfo,
} from '../src/shared/schema/control/admin.js';
import {
  MapClient,
  passwordLogin,
  registerDevice,
  runCli,
  type CliRun,
} from './harness/control.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'src/control/cli.ts');
/** `serve` that has not said where it listens by then is hung, not slow. */
const RUN_TIMEOUT_MS = 60_000;
const cli = runCli;
type Run = CliRun;

/** The CLI's own failures are one line of explanation, never a stack trace. */
function expectCleanError(r: Run, code: number, text: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(text);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('trellis-control CLI on a SQLite database', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let store: Store;
  const run = (args: string[], input?: string) =>
    cli(args, { env, ...(input !== undefined ? { input } : {}) });
  /** Runs with --json and parses stdout with the API's schema: the CLI prints wire shapes. */
  const json = async <S extends z.ZodType>(
    schema: S,
    args: string[],
    input?: string,
  ): Promise<z.output<S>> => {
    const r = await run([...args, '--json'], input);
    expect(r.code, r.stderr).toBe(0);
    return schema.parse(JSON.parse(r.stdout));
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-cli-'));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TRELLIS_DATA_DIR: dir,
      TRELLIS_DATABASE_URL: `sqlite:${path.join(dir, 'control.db')}`,
      TRELLIS_LOG_LEVEL: 'silent',
    };
  });
  afterAll(async () => {
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints its version, help and usage errors', async () => {
    const v = await run(['version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^trellis-control \d+\.\d+\.\d+\n$/);
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('users set-password');
    expectCleanError(await run(['frobnicate']), 2, /unknown command "frobnicate"/);
    expectCleanError(await run(['users', 'list', '--bogus']), 2, /Unknown option '--bogus'/);
    // Passwords never travel in argv, where `ps` would show them.
    expectCleanError(
      await run(['users', 'set-password', 'x@example.com', '--password', 'p']),
      2,
      /Unknown option '--password'/,
    );
    const help = await run(['keys', 'create', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--reusable');
  });

  it('migrates a fresh database and initializes the network on first use', async () => {
    const m1 = await run(['migrate']);
    expect(m1.code, m1.stderr).toBe(0);
    expect(m1.stdout).toMatch(/Applied 0001_init/);
    expect((await run(['migrate'])).stdout).toMatch(/already current/);

    const first = await run(['users', 'list', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/The owner is admin@trellis\.internal with password: \S{20,}/);
    const users = AdminUser.array().parse(JSON.parse(first.stdout));
    expect(users).toEqual([
      expect.objectContaining({ email: 'admin@trellis.internal', role: 'owner' }),
    ]);
    // Printed once: later commands do not repeat it.
    expect((await run(['users', 'list'])).stderr).not.toMatch(/password/);
    store = await openStore({ driver: 'sqlite', path: path.join(dir, 'control.db') });
  });

  it('manages users, reading passwords from stdin', async () => {
    const bob = await json(
      AdminUser,
      ['users', 'create', 'bob@example.com', '--role', 'admin', '--name', 'Bob'],
      'first-password-1\n',
    );
    expect(bob).toMatchObject({
      email: 'bob@example.com',
      role: 'admin',
      name: 'Bob',
      provider: 'local',
    });
    const networkId = (await store.users.get(bob.id))?.networkId ?? '';
    const creds = await store.users.getCredentials(networkId, 'bob@example.com');
    expect(await verifyPassword(creds?.passwordHash ?? null, 'first-password-1')).toBe(true);

    const table = await run(['users', 'list']);
    expect(table.stdout).toMatch(/^ID\s+EMAIL\s+NAME\s+ROLE/);
    expect(table.stdout).toMatch(/bob@example\.com\s+Bob\s+admin\s+local\s+active/);

    expect((await json(AdminUser, ['users', 'set-role', 'bob@example.com', 'owner'])).role).toBe(
      'owner',
    );
    const pw = await run(
      ['users', 'set-password', bob.id, '--password-stdin'],
      'second-password-2\n',
    );
    expect(pw.code, pw.stderr).toBe(0);
    const after = await store.users.getCredentials(networkId, 'bob@example.com');
    expect(await verifyPassword(after?.passwordHash ?? null, 'second-password-2')).toBe(true);
    expect((await json(AdminUser, ['users', 'disable', 'bob@example.com'])).disabled).toBe(true);
    expect((await json(AdminUser, ['users', 'enable', 'bob@example.com'])).disabled).toBe(false);

    expectCleanError(
      await run(['users', 'set-role', 'nobody@example.com', 'admin']),
      1,
      /no user with email nobody@example\.com/,
    );
    expectCleanError(await run(['users', 'set-role', 'bob@example.com', 'king']), 2, /role: /);
    expectCleanError(
      await run(['users', 'create', 'carol@example.com'], 'short\n'),
      2,
      /password: /,
    );
    expectCleanError(
      await run(['users', 'create', 'bob@example.com'], 'long-enough-password\n'),
      1,
      /exists \(conflict\)/,
    );
    const delBob = await run(['users', 'delete', 'bob@example.com']);
    expect(delBob.code, delBob.stderr).toBe(0);
    // The last owner stays.
    expectCleanError(await run(['users', 'delete', 'admin@trellis.internal']), 1, /last owner/);

    const audit = await json(AuditEvent.array(), ['audit', '--action', 'user.created']);
    const created = audit.find((e) => e.target?.id === bob.id);
    expect(created?.actor).toEqual({ type: 'system' });
    expect(created?.diff).toContainEqual({ field: 'via', old: null, new: 'cli' });
    const all = await run(['audit', '--since', '1h']);
    expect(all.stdout).toMatch(/cli\s+user\.deleted/);
  });

  it('creates, lists and revokes pre-auth and API keys', async () => {
    const k = await json(CreatePreauthKeyResponse, [
      'keys',
      'create',
      '--tags',
      'server,tag:ci',
      '--reusable',
      '--expires',
      '2h',
      '--description',
      'racks',
    ]);
    expect(k.secret).toMatch(/^tr_auth_/);
    expect(k.key).toMatchObject({
      reusable: true,
      tags: ['tag:ci', 'tag:server'],
      description: 'racks',
    });
    expect(Date.parse(k.key.expiresAt) - Date.now()).toBeGreaterThan(7000_000);
    // An untagged key needs a user to own its devices: the CLI has none of its own.
    expectCleanError(await run(['keys', 'create']), 1, /name the user/);
    expectCleanError(
      await run(['keys', 'create', '--user', 'admin@trellis.internal', '--expires', 'soon']),
      2,
      /--expires/,
    );
    const listed = await json(PreauthKeyInfo.array(), ['keys', 'list']);
    expect(listed.map((x) => x.id)).toContain(k.key.id);
    expect(JSON.stringify(listed)).not.toContain(k.secret);
    expect((await run(['keys', 'revoke', k.key.id])).code).toBe(0);
    expect(
      (await json(PreauthKeyInfo.array(), ['keys', 'list'])).find((x) => x.id === k.key.id)
        ?.revoked,
    ).toBe(true);
    expectCleanError(await run(['keys', 'revoke', 'pak_unknown']), 1, /no such pre-auth key/);

    const a = await json(CreateApiKeyResponse, [
      'apikeys',
      'create',
      '--description',
      'ci',
      '--expires',
      '30d',
    ]);
    expect(a.secret).toMatch(/^tr_api_/);
    expect(a.key.createdBy).toBeNull();
    const human = await run(['apikeys', 'list']);
    expect(human.stdout).toContain(a.key.id);
    expect(human.stdout).not.toContain(a.secret);
    expect((await run(['apikeys', 'revoke', a.key.id])).code).toBe(0);
    expect(await store.apiKeys.findActive(hashToken(a.secret))).toBeNull();
  });

  describe('beside a running server on the same database', () => {
    let server: ControlServer;
    let ownerSession: string;

    beforeAll(async () => {
      const cfg = parseConfig({
        dataDir: dir,
        insecureHttp: true,
        listen: { host: '127.0.0.1', port: 0 },
        stun: { enabled: false },
        database: { driver: 'sqlite', path: path.join(dir, 'control.db') },
        logLevel: 'silent',
      });
      if (!cfg.ok) throw new Error(cfg.error.message);
      server = await startControl(cfg.value, { logger: pino({ level: 'silent' }) });
      const pw = await run(
        ['users', 'set-password', 'admin@trellis.internal'],
        'owner-password-123\n',
      );
      expect(pw.code, pw.stderr).toBe(0);
      ownerSession = await passwordLogin(
        server.url,
        'admin@trellis.internal',
        'owner-password-123',
      );
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('changes devices in the database', async () => {
      const d = await registerDevice(
        server.url,
        { type: 'session', token: ownerSession },
        'cli-box',
      );
      const list = await run(['devices', 'list']);
      expect(list.stdout).toMatch(/cli-box\s+100\.64\.\S+\s+admin@trellis\.internal\s+linux\s+\?/);
      expect((await json(AdminDevice, ['devices', 'rename', 'cli-box', 'renamed-box'])).name).toBe(
        'renamed-box',
      );
      expect(
        (await json(AdminDevice, ['devices', 'expiry', 'renamed-box', 'off'])).keyExpiryDisabled,
      ).toBe(true);
      expect(
        (await json(AdminDevice, ['devices', 'tags', d.deviceId, 'db', 'tag:prod'])).owner,
      ).toEqual({ type: 'tagged', tags: ['tag:db', 'tag:prod'] });
      expect((await json(AdminDevice, ['devices', 'approve', 'renamed-box'])).approved).toBe(true);
      const expired = await json(AdminDevice, ['devices', 'expire', 'renamed-box']);
      expect(Date.parse(expired.keyExpiry ?? '')).toBeLessThanOrEqual(Date.now());
      expect(expired.keyExpiryDisabled).toBe(false);
      expectCleanError(
        await run(['devices', 'rename', 'renamed-box', 'Bad Name']),
        2,
        /expected a DNS label/,
      );
      expectCleanError(
        await run(['devices', 'expiry', 'renamed-box', 'maybe']),
        2,
        /expected on or off/,
      );
      expect((await run(['devices', 'delete', 'renamed-box'])).code).toBe(0);
      expect(await store.devices.get(d.deviceId)).toBeNull();
      expectCleanError(
        await run(['devices', 'delete', 'renamed-box']),
        1,
        /no device named renamed-box/,
      );
    });

    it('uses the admin API with --server, so live netmaps change at once', async () => {
      const key = await json(CreateApiKeyResponse, [
        'apikeys',
        'create',
        '--description',
        'remote',
      ]);
      const remoteEnv = { ...env, TRELLIS_API_KEY: key.secret };
      const remote = (args: string[], input?: string) =>
        cli([...args, '--server', server.url], {
          env: remoteEnv,
          ...(input !== undefined ? { input } : {}),
        });

      const a = await registerDevice(
        server.url,
        { type: 'session', token: ownerSession },
        'watcher',
      );
      const b = await registerDevice(
        server.url,
        { type: 'session', token: ownerSession },
        'target',
      );
      const m = new MapClient(server.url, a.credential, a.nodeKey);
      await m.until((x) => x.netmap?.peers.some((p) => p.id === b.deviceId) === true);

      const renamed = await remote(['devices', 'rename', 'target', 'live-target', '--json']);
      expect(renamed.code, renamed.stderr).toBe(0);
      expect(AdminDevice.parse(JSON.parse(renamed.stdout)).name).toBe('live-target');
      await m.until(
        (x) => x.netmap?.peers.find((p) => p.id === b.deviceId)?.name === 'live-target',
      );
      // Presence is known through the server: the watcher is online.
      expect((await remote(['devices', 'list'])).stdout).toMatch(
        /watcher\s+\S+\s+\S+\s+linux\s+yes/,
      );

      const sessions = await remote([
        'sessions',
        'list',
        '--user',
        'admin@trellis.internal',
        '--json',
      ]);
      const list = SessionInfo.array().parse(JSON.parse(sessions.stdout));
      expect(list.length).toBeGreaterThanOrEqual(1);
      expect((await remote(['sessions', 'revoke', list[0]!.id])).code).toBe(0);
      const all = await remote([
        'sessions',
        'revoke',
        '--user',
        'admin@trellis.internal',
        '--json',
      ]);
      expect(all.code, all.stderr).toBe(0);
      expect(
        (
          await fetch(`${server.url}/v1/me`, {
            headers: { authorization: `Bearer ${ownerSession}` },
          })
        ).status,
      ).toBe(401);

      // The server refuses what the API refuses, with the same message.
      expectCleanError(
        await remote(['users', 'set-role', 'admin@trellis.internal', 'member']),
        1,
        /only an owner may change an owner's account \(forbidden\)/,
      );
      expectCleanError(
        await cli(['users', 'list', '--server', server.url], {
          env: { ...env, TRELLIS_API_KEY: 'tr_api_' + 'x'.repeat(43) },
        }),
        1,
        /unauthorized/,
      );
      expectCleanError(
        await cli(['users', 'list', '--server', server.url], { env }),
        2,
        /needs an API key/,
      );
      expectCleanError(
        await cli(['users', 'list', '--server', 'http://127.0.0.1:9', '--api-key', key.secret], {
          env,
        }),
        1,
        /cannot reach http:\/\/127\.0\.0\.1:9/,
      );
      await m.close();

      const entry = (await json(AuditEvent.array(), ['audit', '--action', 'device.renamed'])).find(
        (e) => e.target?.id === b.deviceId,
      );
      expect(entry?.actor).toEqual({ type: 'api-key', id: key.key.id });
    });
  });
});

describe('trellis-control serve', () => {
  it('starts, answers /healthz and exits cleanly on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-serve-'));
    const configFile = path.join(dir, 'control.json5');
    fs.writeFileSync(
      configFile,
      `// a lab server on loopback\n{ dataDir: ${JSON.stringify(dir)}, insecureHttp: true, listen: { host: '127.0.0.1', port: 0 }, stun: { host: '127.0.0.1', port: 0 }, logLevel: 'silent' }\n`,
    );
    const env = { PATH: process.env.PATH, HOME: process.env.HOME };
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, 'serve', '--config', configFile],
        { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) =>
        child.on('close', (code) => resolve(code)),
      );
      const deadline = Date.now() + RUN_TIMEOUT_MS;
      let url: string | undefined;
      while (!url && Date.now() < deadline && child.exitCode === null) {
        url = /serving at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
        if (!url) await new Promise((r) => setTimeout(r, 100));
      }
      expect(url, stderr).toBeDefined();
      expect(stdout).toMatch(
        /Sign in at http:\/\/127\.0\.0\.1:\d+ as admin@trellis\.internal with password: \S+/,
      );
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ ok: true });

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/SIGTERM: closing streams/);
      expect(stderr).toMatch(/stopped/);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();

      // Plain HTTP without insecureHttp is refused with a clear message, not a stack trace.
      fs.writeFileSync(
        configFile,
        `{ dataDir: ${JSON.stringify(dir)}, listen: { port: 0 }, stun: { enabled: false } }`,
      );
      expectCleanError(
        await cli(['serve', '--config', configFile], { env }),
        1,
        /cannot start: refusing plain HTTP/,
      );
      expectCleanError(
        await cli(['serve', '--config', path.join(dir, 'missing.json5')], { env }),
        1,
        /configuration: .*missing\.json5/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
