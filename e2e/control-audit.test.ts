/**
 * The audit log end to end on SQLite and PostgreSQL: every action an operator must be able to
 * account for (sign-ins, devices added, approved, expired, deleted, renamed, key rotations,
 * route approvals, policy changes with their diff, user, key and settings changes) leaves an
 * entry with who, what, target and when; the admin API and the CLI query it by time range,
 * actor and type; the retention sweep deletes old entries and says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyToBase64, generateKeyPair } from '../src/shared/keys.js';
import {
  AdminUser,
  AuditEvent,
  AuditLog,
  CreateApiKeyResponse,
  CreatePreauthKeyResponse,
  NetworkSettingsView,
} from '../src/shared/schema/control/admin.js';
import { pruneAuditLog, recordExpiredKeys } from '../src/control/housekeeping.js';
import {
  callApi,
  hostInfo,
  passwordLogin,
  postJson,
  registerDevice,
  runCli,
  startTestControl,
  type Driver,
  type TestControl,
} from './harness/control.js';

const PASSWORD = 'correct-horse-battery';
const DAY_MS = 86_400_000;

interface Expected {
  action: string;
  actor: AuditEvent['actor']['type'];
  actorId?: string;
  target: { type: string; id: string } | null;
  /** A diff field that must be present, with its new value when given. */
  field?: [string, unknown?];
}

for (const driver of ['sqlite', 'postgres'] as Driver[]) {
  describe(`audit log on ${driver}`, () => {
    let c: TestControl;
    let owner: string;
    let ownerId: string;
    let apiKey: CreateApiKeyResponse;
    const as = (token: string) => (method: string, p: string, body?: unknown) =>
      callApi(c.url, method, p, token, body);
    const ok = async (r: Promise<{ status: number; body: any }>, status = 200) => {
      const res = await r;
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      return res.body;
    };
    const auditQuery = async (q: string): Promise<AuditEvent[]> =>
      AuditLog.parse(await ok(as(owner)('GET', `/v1/admin/audit?limit=500&${q}`))).items;

    beforeAll(async () => {
      c = await startTestControl(driver, {
        rateLimits: { signInPerMinute: 600, signInBurst: 100 },
      });
      owner = await passwordLogin(c.url, c.owner.email, c.owner.password);
      ownerId = (await ok(as(owner)('GET', '/v1/me'))).user.id;
    });
    afterAll(async () => {
      await c?.stop();
    });

    it('records who did what to which target, and when, for every action', async () => {
      const since = new Date(Date.now() - 1000).toISOString();
      const expected: Expected[] = [];
      const expect_ = (e: Expected) => expected.push(e);
      const api = as(owner);
      expect_({
        action: 'login.succeeded',
        actor: 'user',
        actorId: ownerId,
        target: { type: 'user', id: ownerId },
      });

      // A failed sign-in: the login page refuses the password.
      const start = await postJson(`${c.url}/v1/login`, { clientName: 'audit-test' });
      const refused = await fetch(start.body.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: c.owner.email, password: 'not the password' }),
      });
      expect(refused.status).toBe(401);
      expect_({
        action: 'login.failed',
        actor: 'system',
        target: null,
        field: ['email', c.owner.email],
      });

      // Users.
      const bob = AdminUser.parse(
        await ok(
          api('POST', '/v1/admin/users', {
            email: 'bob@test.trellis',
            role: 'member',
            password: PASSWORD,
          }),
          201,
        ),
      );
      const userTarget = { type: 'user', id: bob.id };
      await ok(api('PATCH', `/v1/admin/users/${bob.id}`, { role: 'admin' }));
      await ok(api('PATCH', `/v1/admin/users/${bob.id}`, { name: 'Robert' }));
      await ok(api('PATCH', `/v1/admin/users/${bob.id}`, { disabled: true }));
      await ok(api('PATCH', `/v1/admin/users/${bob.id}`, { disabled: false }));
      await ok(api('PUT', `/v1/admin/users/${bob.id}/password`, { password: `${PASSWORD}-2` }));
      await ok(api('DELETE', `/v1/admin/users/${bob.id}/sessions`));
      for (const [action, field] of [
        ['user.created', ['email', 'bob@test.trellis']],
        ['user.role_changed', ['role']],
        ['user.renamed', ['name']],
        ['user.disabled', ['disabled']],
        ['user.enabled', ['disabled']],
        ['user.password_set', undefined],
        ['session.revoked_all', ['revoked']],
      ] as const)
        expect_({
          action,
          actor: 'user',
          actorId: ownerId,
          target: userTarget,
          ...(field ? { field: [...field] as [string] } : {}),
        });

      // Pre-auth and API keys.
      const pk = CreatePreauthKeyResponse.parse(
        await ok(api('POST', '/v1/admin/preauth-keys', { reusable: true }), 201),
      );
      await ok(api('DELETE', `/v1/admin/preauth-keys/${pk.key.id}`));
      expect_({
        action: 'preauth_key.created',
        actor: 'user',
        target: { type: 'preauth_key', id: pk.key.id },
      });
      expect_({
        action: 'preauth_key.revoked',
        actor: 'user',
        target: { type: 'preauth_key', id: pk.key.id },
      });
      apiKey = CreateApiKeyResponse.parse(
        await ok(api('POST', '/v1/admin/api-keys', { description: 'audit' }), 201),
      );
      expect_({
        action: 'api_key.created',
        actor: 'user',
        target: { type: 'api_key', id: apiKey.key.id },
      });
      const robot = as(apiKey.secret);

      // Devices: added, key rotated, renamed, unapproved and approved, expiry, routes, expired,
      // deleted, logged out.
      const d = await registerDevice(c.url, { type: 'session', token: owner }, 'audit-box');
      const dev = { type: 'device', id: d.deviceId };
      expect_({ action: 'device.added', actor: 'user', actorId: ownerId, target: dev });
      const rotated = await postJson(`${c.url}/v1/register`, {
        nodeKey: keyToBase64(generateKeyPair().publicKey),
        oldNodeKey: d.nodeKey,
        hostInfo: hostInfo('audit-box'),
        auth: { type: 'session', token: owner },
      });
      expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
      expect(rotated.body.deviceId).toBe(d.deviceId);
      expect_({ action: 'device.key_rotated', actor: 'user', target: dev });
      await ok(robot('PATCH', `/v1/admin/devices/${d.deviceId}`, { name: 'renamed-box' }));
      expect_({
        action: 'device.renamed',
        actor: 'api-key',
        actorId: apiKey.key.id,
        target: dev,
        field: ['name', 'renamed-box'],
      });
      await ok(api('PATCH', `/v1/admin/devices/${d.deviceId}`, { approved: false }));
      await ok(api('PATCH', `/v1/admin/devices/${d.deviceId}`, { approved: true }));
      expect_({ action: 'device.unapproved', actor: 'user', target: dev });
      expect_({ action: 'device.approved', actor: 'user', target: dev, field: ['approved', true] });
      await ok(api('PATCH', `/v1/admin/devices/${d.deviceId}`, { keyExpiryDisabled: true }));
      await ok(api('PATCH', `/v1/admin/devices/${d.deviceId}`, { keyExpiryDisabled: false }));
      expect_({ action: 'device.key_expiry_disabled', actor: 'user', target: dev });
      expect_({ action: 'device.key_expiry_enabled', actor: 'user', target: dev });
      await c.server.store.routes.setAdvertised(d.deviceId, {
        routes: ['10.77.0.0/16'],
        exitNode: false,
      });
      await ok(
        api('PATCH', `/v1/admin/devices/${d.deviceId}`, { approvedRoutes: ['10.77.0.0/16'] }),
      );
      await ok(api('PATCH', `/v1/admin/devices/${d.deviceId}`, { approvedRoutes: [] }));
      expect_({
        action: 'route.approved',
        actor: 'user',
        target: dev,
        field: ['routes', '["10.77.0.0/16"]'],
      });
      expect_({
        action: 'route.unapproved',
        actor: 'user',
        target: dev,
        field: ['routes', '["10.77.0.0/16"]'],
      });
      await ok(api('POST', `/v1/admin/devices/${d.deviceId}/expire`));
      expect_({ action: 'device.key_expired', actor: 'user', actorId: ownerId, target: dev });

      // A key that reaches its expiry date is recorded once by the sweep (actor: system).
      const e = await registerDevice(c.url, { type: 'session', token: owner }, 'expiring-box');
      await c.server.store.devices.setKeyExpiry(e.deviceId, new Date(Date.now() - 1000));
      await recordExpiredKeys(c.server.ctx);
      await recordExpiredKeys(c.server.ctx);
      const swept = (await auditQuery('action=device.key_expired&actor=system')).filter(
        (x) => x.target?.id === e.deviceId,
      );
      expect(swept).toHaveLength(1);
      expect(swept[0]?.diff).toContainEqual(
        expect.objectContaining({ field: 'name', new: 'expiring-box' }),
      );
      // The admin's expiry above was recorded by the admin, not a second time by the sweep.
      expect(
        (await auditQuery('action=device.key_expired')).filter((x) => x.target?.id === d.deviceId),
      ).toHaveLength(1);

      await ok(api('DELETE', `/v1/admin/devices/${d.deviceId}`));
      expect_({
        action: 'device.deleted',
        actor: 'user',
        target: dev,
        field: ['name', 'renamed-box'],
      });
      const out = await fetch(`${c.url}/v1/device/logout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${e.credential}` },
      });
      expect(out.status).toBe(204);
      expect_({
        action: 'device.logged_out',
        actor: 'device',
        actorId: e.deviceId,
        target: { type: 'device', id: e.deviceId },
      });

      // Policy: a new version with its diff, and a rollback.
      const net = (await c.server.ctx.defaultNetwork()).id;
      await ok(
        api('PUT', '/v1/admin/policy', {
          policy: '{ acls: [{ action: "accept", src: ["*"], dst: ["*:22"] }] }',
        }),
      );
      await ok(api('POST', '/v1/admin/policy/rollback', { version: 1 }));
      expect_({
        action: 'policy.updated',
        actor: 'user',
        target: { type: 'policy', id: net },
        field: ['version', 1],
      });
      expect_({
        action: 'policy.rolled_back',
        actor: 'user',
        target: { type: 'policy', id: net },
        field: ['rolledBackFrom', 1],
      });

      // Settings.
      await ok(
        robot('PATCH', '/v1/admin/settings', {
          auditRetentionDays: 90,
          dns: { searchDomains: ['corp.example.com'] },
        }),
      );
      expect_({
        action: 'network.settings_updated',
        actor: 'api-key',
        target: { type: 'network', id: net },
        field: ['auditRetentionDays', 90],
      });

      await ok(api('DELETE', `/v1/admin/users/${bob.id}`));
      expect_({
        action: 'user.deleted',
        actor: 'user',
        target: userTarget,
        field: ['email', 'bob@test.trellis'],
      });

      const until = new Date(Date.now() + 1000).toISOString();
      for (const x of expected) {
        const items = await auditQuery(`action=${x.action}&since=${since}&until=${until}`);
        const hit = items.find(
          (i) =>
            i.actor.type === x.actor &&
            (x.actorId === undefined || ('id' in i.actor && i.actor.id === x.actorId)) &&
            JSON.stringify(i.target) === JSON.stringify(x.target),
        );
        expect(hit, `${x.action} by ${x.actor} on ${JSON.stringify(x.target)}`).toBeDefined();
        if (!hit) continue;
        expect(hit.time >= since && hit.time <= until, x.action).toBe(true);
        if (x.field) {
          const f = hit.diff.find((dd) => dd.field === x.field?.[0]);
          expect(f, `${x.action}: ${x.field[0]}`).toBeDefined();
          if (x.field.length > 1) expect(f?.new, `${x.action}: ${x.field[0]}`).toEqual(x.field[1]);
        }
      }
      // The policy entry carries the line diff of the two versions.
      const [updated] = await auditQuery('action=policy.updated');
      expect(String(updated?.diff.find((f) => f.field === 'diff')?.new)).toContain(
        '+{ acls: [{ action: "accept", src: ["*"], dst: ["*:22"] }] }',
      );
      const owners = await auditQuery(`actor=user:${ownerId}&since=${since}`);
      expect(owners.length).toBeGreaterThan(10);
      expect(owners.every((i) => i.actor.type === 'user' && i.actor.id === ownerId)).toBe(true);
      expect(owners.some((i) => i.actor.type === 'user' && i.actor.email === c.owner.email)).toBe(
        true,
      );
      const byKey = await auditQuery(`actor=api-key:${apiKey.key.id}`);
      expect(byKey.map((i) => i.action).sort()).toEqual([
        'device.renamed',
        'network.settings_updated',
      ]);
      expect(await auditQuery(`until=${since}&action=device.renamed`)).toEqual([]);
    });

    it('serves the audit log and its retention through the CLI, and prunes old entries', async () => {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TRELLIS_SERVER: c.url,
        TRELLIS_API_KEY: apiKey.secret,
      };
      const audit = await runCli(
        ['audit', '--action', 'device.renamed', '--since', '1h', '--json'],
        { env },
      );
      expect(audit.code, audit.stderr).toBe(0);
      const entries = AuditEvent.array().parse(JSON.parse(audit.stdout));
      expect(entries.map((x) => x.action)).toEqual(['device.renamed']);
      const byActor = await runCli(['audit', '--actor', `api-key:${apiKey.key.id}`, '--json'], {
        env,
      });
      expect(
        AuditEvent.array()
          .parse(JSON.parse(byActor.stdout))
          .every((x) => x.actor.type === 'api-key'),
      ).toBe(true);

      const set = await runCli(['settings', 'set', '--audit-retention-days', '30', '--json'], {
        env,
      });
      expect(set.code, set.stderr).toBe(0);
      expect(NetworkSettingsView.parse(JSON.parse(set.stdout)).auditRetentionDays).toBe(30);
      const bad = await runCli(['settings', 'set', '--audit-retention-days', 'forever'], { env });
      expect(bad.code).toBe(2);

      // An entry older than 30 days goes; the sweep records how many went.
      const net = (await c.server.ctx.defaultNetwork()).id;
      const old = await c.server.store.audit.append({
        networkId: net,
        actor: { type: 'system', id: null },
        action: 'test.ancient',
        at: new Date(Date.now() - 40 * DAY_MS),
      });
      expect(await pruneAuditLog(c.server.ctx)).toBeGreaterThanOrEqual(1);
      expect(await auditQuery('action=test.ancient')).toEqual([]);
      const [pruned] = await auditQuery('action=audit.pruned');
      expect(pruned).toMatchObject({
        actor: { type: 'system' },
        target: { type: 'network', id: net },
      });
      expect(pruned?.diff).toContainEqual({ field: 'retentionDays', old: null, new: 30 });
      expect(old.id).toBeGreaterThan(0);

      // 0 keeps entries forever.
      await ok(as(owner)('PATCH', '/v1/admin/settings', { auditRetentionDays: 0 }));
      await c.server.store.audit.append({
        networkId: net,
        actor: { type: 'system', id: null },
        action: 'test.ancient',
        at: new Date(Date.now() - 4000 * DAY_MS),
      });
      await pruneAuditLog(c.server.ctx);
      expect(await auditQuery('action=test.ancient')).toHaveLength(1);
    });
  });
}
