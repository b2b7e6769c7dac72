/**
 * Access policy and route administration end to end over real HTTP, on SQLite and PostgreSQL:
 * refused policies (syntax errors and failing tests, with line and column), versions with audited
 * diffs, rollback, optimistic concurrency, route and exit node approval through PATCH, policy
 * autoApprovers, and members refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  passwordLogin,
  registerDevice,
  runCli,
  startTestControl,
  type Driver,
  type TestControl,
} from './harness/control.js';
import {
  AdminDevice,
  AuditLog,
  CreateApiKeyResponse,
  DeviceRoutesList,
  DeviceRoutesView,
  PolicyDocument,
  PolicyRejected,
  PolicyVersionInfo,
  PolicyVersionList,
} from '../src/shared/schema/control/admin.js';
import { autoApproveRoutes } from '../src/control/admin/routes.js';
import { parsePolicy } from '../src/control/policy/index.js';

/** The real trellis-control CLI (tsx), as `npx tsx src/control/cli.ts` runs it. */
const cli = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { env });

interface Res {
  status: number;
  body: any;
}

async function call(
  base: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<Res> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const FIRST = `// version 1: everyone reaches everything
{
  "acls": [{ "action": "accept", "src": ["*"], "dst": ["*:*"] }],
}
`;

// A missing comma between two keys on line 3.
const BROKEN = `{
  "acls": [
    { "action": "accept" "src": ["*"], "dst": ["*:*"] },
  ],
}
`;

const failingTests = (owner: string): string => `{
  "tagOwners": { "tag:server": ["autogroup:admin"] },
  "acls": [{ "action": "accept", "src": ["${owner}"], "dst": ["tag:server:22"] }],
  "tests": [{ "src": "${owner}", "accept": ["tag:server:80"] }],
}
`;

const good = (owner: string): string => `// version 2: ssh and https to servers only
{
  "tagOwners": { "tag:server": ["autogroup:admin"] },
  "acls": [{ "action": "accept", "src": ["${owner}"], "dst": ["tag:server:22,443"] }],
  "autoApprovers": { "routes": { "10.0.0.0/8": ["${owner}"] }, "exitNode": ["${owner}"] },
  "tests": [{ "src": "${owner}", "accept": ["tag:server:22"], "deny": ["tag:server:80"] }],
}
`;

for (const driver of ['sqlite', 'postgres'] as Driver[]) {
  describe(`policy administration on ${driver}`, () => {
    let c: TestControl;
    let owner: string;
    const changed: string[] = [];
    let router: string | null = null;
    const routerId = (): string => {
      if (!router) throw new Error('the route approval test registers the router first');
      return router;
    };
    beforeAll(async () => {
      c = await startTestControl(driver);
      owner = await passwordLogin(c.url, c.owner.email, c.owner.password);
      // Wrap (not replace) whatever the server does when a policy changes.
      const ctx = c.server.ctx;
      const original = ctx.onPolicyChanged?.bind(ctx);
      ctx.onPolicyChanged = async (networkId) => {
        changed.push(networkId);
        await original?.(networkId);
      };
    });
    afterAll(async () => {
      await c?.stop();
    });

    const policyNow = async (): Promise<PolicyDocument> => {
      const r = await call(c.url, 'GET', '/v1/admin/policy', owner);
      expect(r.status).toBe(200);
      return PolicyDocument.parse(r.body);
    };
    const auditOf = async (action: string) => {
      const r = await call(c.url, 'GET', `/v1/admin/audit?action=${action}`, owner);
      expect(r.status).toBe(200);
      return AuditLog.parse(r.body).items;
    };

    it('serves the default policy as version 0 until one is saved, then version 1', async () => {
      const before = await policyNow();
      expect(before).toMatchObject({ version: 0, etag: 'v0', updatedAt: null });
      expect(before.policy).toContain('"src": ["*"]');
      const put = await call(c.url, 'PUT', '/v1/admin/policy', owner, { policy: FIRST });
      expect(put.status).toBe(200);
      expect(PolicyDocument.parse(put.body)).toMatchObject({
        version: 1,
        etag: 'v1',
        policy: FIRST,
      });
      expect(changed).toHaveLength(1);
    });

    it('refuses a syntax error with its line and column and keeps the old policy', async () => {
      const r = await call(c.url, 'PUT', '/v1/admin/policy', owner, { policy: BROKEN });
      expect(r.status).toBe(400);
      const body = PolicyRejected.parse(r.body);
      const line3 = BROKEN.split('\n')[2] ?? '';
      expect(body.problems).toEqual([
        {
          line: 3,
          column: line3.indexOf('"src"') + 1,
          message: expect.stringContaining('invalid'),
        },
      ]);
      expect(body.error.message).toContain('line 3');
      expect((await policyNow()).version).toBe(1);
      expect(changed).toHaveLength(1);
    });

    it('refuses a policy whose tests fail, naming the test', async () => {
      const text = failingTests(c.owner.email);
      const r = await call(c.url, 'PUT', '/v1/admin/policy', owner, { policy: text });
      expect(r.status).toBe(400);
      const body = PolicyRejected.parse(r.body);
      expect(body.problems).toHaveLength(1);
      const p = body.problems[0];
      expect(p?.message).toMatch(
        /^test 1 \(src .*\): expected tag:server:80 \(tcp\) to be accepted/,
      );
      // Points at the failing entry: line 4, at "tag:server:80".
      expect(p?.line).toBe(4);
      expect(p?.column).toBe((text.split('\n')[3] ?? '').indexOf('"tag:server:80"') + 1);
      expect((await policyNow()).version).toBe(1);
    });

    it('saves a good policy as version 2 and audits the diff', async () => {
      // A device with pending routes: the new policy's autoApprovers approve part of them.
      const early = await registerDevice(c.url, { type: 'session', token: owner }, 'early');
      await c.server.store.routes.setAdvertised(early.deviceId, {
        routes: ['10.50.0.0/16', '192.168.9.0/24'],
        exitNode: false,
      });
      const text = good(c.owner.email);
      const r = await call(c.url, 'PUT', '/v1/admin/policy', owner, {
        policy: text,
        ifMatch: 'v1',
        comment: 'servers only',
      });
      expect(r.status).toBe(200);
      expect(PolicyDocument.parse(r.body)).toMatchObject({ version: 2, etag: 'v2', policy: text });
      expect(changed).toHaveLength(2);

      const [entry] = await auditOf('policy.updated');
      expect(entry?.actor).toMatchObject({ type: 'user', email: c.owner.email });
      expect(entry?.target?.type).toBe('policy');
      const field = (name: string) => entry?.diff.find((d) => d.field === name);
      expect(field('version')).toEqual({ field: 'version', old: 1, new: 2 });
      const diff = String(field('diff')?.new);
      expect(diff.split('\n').slice(0, 2)).toEqual(['--- policy v1', '+++ policy v2']);
      expect(diff).toContain('\n-// version 1: everyone reaches everything');
      expect(diff).toContain('\n+// version 2: ssh and https to servers only');
      expect(diff).toMatch(/\n@@ -1,\d+ \+1,\d+ @@\n/);
      expect(await c.server.store.routes.get(early.deviceId)).toMatchObject({
        approved: ['10.50.0.0/16'],
        enabled: ['10.50.0.0/16'],
      });

      // Saving against a stale etag is refused and changes nothing.
      const stale = await call(c.url, 'PUT', '/v1/admin/policy', owner, {
        policy: FIRST,
        ifMatch: 'v1',
      });
      expect(stale.status).toBe(409);
      expect((await policyNow()).version).toBe(2);
    });

    it('rolls back to version 1 as version 3 and lists the history', async () => {
      const r = await call(c.url, 'POST', '/v1/admin/policy/rollback', owner, { version: 1 });
      expect(r.status).toBe(200);
      expect(PolicyDocument.parse(r.body)).toMatchObject({ version: 3, policy: FIRST });
      expect((await policyNow()).policy).toBe(FIRST);
      expect(changed).toHaveLength(3);
      const [entry] = await auditOf('policy.rolled_back');
      expect(entry?.diff).toEqual(
        expect.arrayContaining([
          { field: 'version', old: 2, new: 3 },
          { field: 'rolledBackFrom', old: null, new: 1 },
        ]),
      );

      const list = await call(c.url, 'GET', '/v1/admin/policy/versions?limit=2', owner);
      expect(list.status).toBe(200);
      const page1 = PolicyVersionList.parse(list.body);
      expect(page1.items.map((v) => [v.version, v.active, v.rolledBackFrom])).toEqual([
        [3, true, 1],
        [2, false, null],
      ]);
      expect(page1.items[1]?.comment).toBe('servers only');
      const more = await call(
        c.url,
        'GET',
        `/v1/admin/policy/versions?limit=2&cursor=${page1.nextCursor}`,
        owner,
      );
      const page2 = PolicyVersionList.parse(more.body);
      expect(page2).toMatchObject({ items: [{ version: 1 }], nextCursor: null });

      const v2 = await call(c.url, 'GET', '/v1/admin/policy/versions/2', owner);
      expect(PolicyDocument.parse(v2.body).policy).toBe(good(c.owner.email));
      expect((await call(c.url, 'GET', '/v1/admin/policy/versions/9', owner)).status).toBe(404);
      const missing = await call(c.url, 'POST', '/v1/admin/policy/rollback', owner, { version: 9 });
      expect(missing.status).toBe(404);
    });

    it('stores and audits route and exit node approval made through PATCH', async () => {
      const dev = await registerDevice(c.url, { type: 'session', token: owner }, 'router');
      router = dev.deviceId;
      // The helper's host info reaches store.routes through the netmap side; set it directly.
      await c.server.store.routes.setAdvertised(dev.deviceId, {
        routes: ['10.20.0.0/16', '192.168.7.0/24'],
        exitNode: true,
      });
      const patch = await call(c.url, 'PATCH', `/v1/admin/devices/${dev.deviceId}`, owner, {
        approvedRoutes: ['10.20.0.0/16'],
        exitNodeApproved: true,
      });
      expect(patch.status).toBe(200);
      const d = AdminDevice.parse(patch.body);
      expect(d.routes).toEqual({
        advertised: ['10.20.0.0/16', '192.168.7.0/24'],
        approved: ['10.20.0.0/16'],
      });
      expect(d.exitNode).toEqual({ advertised: true, approved: true });

      const routes = DeviceRoutesList.parse(
        (await call(c.url, 'GET', '/v1/admin/routes', owner)).body,
      );
      expect(routes.items.find((r) => r.deviceId === dev.deviceId)).toMatchObject({
        enabled: ['10.20.0.0/16'],
        exitNode: { advertised: true, approved: true, enabled: true },
      });
      const [approved] = await auditOf('route.approved');
      expect(approved?.target).toEqual({ type: 'device', id: dev.deviceId });
      expect(approved?.diff).toEqual(
        expect.arrayContaining([
          { field: 'routes', old: null, new: '["10.20.0.0/16"]' },
          { field: 'exitNode', old: null, new: true },
        ]),
      );

      const off = await call(c.url, 'PATCH', `/v1/admin/devices/${dev.deviceId}`, owner, {
        approvedRoutes: [],
      });
      expect(off.status).toBe(200);
      expect(AdminDevice.parse(off.body).routes.approved).toEqual([]);
      const [unapproved] = await auditOf('route.unapproved');
      expect(unapproved?.diff).toEqual([{ field: 'routes', old: null, new: '["10.20.0.0/16"]' }]);

      const exitAsRoute = await call(c.url, 'PATCH', `/v1/admin/devices/${dev.deviceId}`, owner, {
        approvedRoutes: ['0.0.0.0/0'],
      });
      expect(exitAsRoute.status).toBe(400);
      expect(exitAsRoute.body.error.message).toContain('exitNodeApproved');
    });

    it('auto-approves what the policy autoApprovers allow, and only that', async () => {
      const dev = await registerDevice(c.url, { type: 'session', token: owner }, 'auto');
      await c.server.store.routes.setAdvertised(dev.deviceId, {
        routes: ['10.30.0.0/16', '172.16.0.0/12'],
        exitNode: true,
      });
      const policy = parsePolicy(good(c.owner.email));
      if (!policy.ok) throw new Error(policy.error[0]?.message);
      const network = (await c.server.ctx.defaultNetwork()).id;
      const r = await autoApproveRoutes(c.server.store, network, dev.deviceId, policy.value);
      expect(r).toMatchObject({ routes: ['10.30.0.0/16'], exitNode: true });
      expect(r?.after.enabled).toEqual(['10.30.0.0/16']);
      const [entry] = await auditOf('route.approved');
      expect(entry).toMatchObject({ actor: { type: 'system' }, target: { id: dev.deviceId } });
      expect(entry?.diff).toContainEqual({ field: 'by', old: null, new: 'autoApprovers' });
      // Nothing new to approve: no second entry.
      const again = await autoApproveRoutes(c.server.store, network, dev.deviceId, policy.value);
      expect(again).toMatchObject({ routes: [], exitNode: false });
      expect((await auditOf('route.approved'))[0]?.id).toBe(entry?.id);
    });

    it('refuses members', async () => {
      const created = await call(c.url, 'POST', '/v1/admin/users', owner, {
        email: 'member@example.com',
        role: 'member',
        password: 'member-password-1',
      });
      expect(created.status).toBe(201);
      const member = await passwordLogin(c.url, 'member@example.com', 'member-password-1');
      for (const [method, path, body] of [
        ['GET', '/v1/admin/policy', undefined],
        ['PUT', '/v1/admin/policy', { policy: FIRST }],
        ['GET', '/v1/admin/policy/versions', undefined],
        ['POST', '/v1/admin/policy/rollback', { version: 1 }],
        ['GET', '/v1/admin/routes', undefined],
      ] as const) {
        const r = await call(c.url, method, path, member, body);
        expect(r.status, `${method} ${path}`).toBe(403);
        expect(r.body.error.code).toBe('forbidden');
      }
      expect((await policyNow()).version).toBe(3);
    });

    it('runs the policy and routes CLI commands against the server (--server)', async () => {
      const key = await call(c.url, 'POST', '/v1/admin/api-keys', owner, { description: 'cli' });
      expect(key.status).toBe(201);
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TRELLIS_SERVER: c.url,
        TRELLIS_API_KEY: CreateApiKeyResponse.parse(key.body).secret,
      };
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-policy-cli-'));
      try {
        const bad = path.join(dir, 'bad.hujson');
        fs.writeFileSync(bad, BROKEN);
        const refused = await cli(['policy', 'set', bad], env);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain(
          `${bad}:3:${(BROKEN.split('\n')[2] ?? '').indexOf('"src"') + 1}:`,
        );
        expect(refused.stderr).not.toMatch(/\n\s+at /);

        const goodFile = path.join(dir, 'good.hujson');
        fs.writeFileSync(goodFile, good(c.owner.email));
        const set = await cli(['policy', 'set', goodFile, '--comment', 'from the cli'], env);
        expect(set.code, set.stderr).toBe(0);
        expect(set.stdout).toBe('policy version 4 is in force\n');
        // Its autoApprovers cover 10.0.0.0/8: the router's advertised 10.20.0.0/16, unapproved
        // by the admin earlier, is approved again by the new policy.
        expect((await c.server.store.routes.get(routerId())).approved).toEqual(['10.20.0.0/16']);
        const get = await cli(['policy', 'get'], env);
        expect(get.stdout).toBe(good(c.owner.email));
        const versions = await cli(['policy', 'versions', '--json'], env);
        const list = PolicyVersionInfo.array().parse(JSON.parse(versions.stdout));
        expect(list.map((v) => v.version)).toEqual([4, 3, 2, 1]);
        expect(list[0]).toMatchObject({ comment: 'from the cli', createdBy: { type: 'api-key' } });
        const back = await cli(['policy', 'rollback', '2'], env);
        expect(back.stdout).toBe('policy version 5 is in force\n');

        const approve = await cli(['routes', 'approve', 'router', '192.168.7.0/24', 'exit'], env);
        expect(approve.code, approve.stderr).toBe(0);
        const routes = await cli(['routes', 'list', '--json'], env);
        const router = DeviceRoutesView.array()
          .parse(JSON.parse(routes.stdout))
          .find((r) => r.deviceName === 'router');
        expect(router).toMatchObject({
          approved: ['10.20.0.0/16', '192.168.7.0/24'],
          enabled: ['10.20.0.0/16', '192.168.7.0/24'],
          exitNode: { enabled: true },
        });
        const [entry] = await auditOf('route.approved');
        expect(entry?.actor.type).toBe('api-key');
        expect(entry?.diff).toContainEqual({
          field: 'routes',
          old: null,
          new: '["192.168.7.0/24"]',
        });
        const unapprove = await cli(['routes', 'unapprove', 'router', 'exit'], env);
        expect(unapprove.code, unapprove.stderr).toBe(0);
        const [off] = await auditOf('route.unapproved');
        expect(off?.diff).toEqual([{ field: 'exitNode', old: null, new: true }]);
        const usage = await cli(['routes', 'approve', 'router', 'not-a-prefix'], env);
        expect(usage.code).toBe(2);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
