/**
 * The documented control API equals the served one: the routes a real trellis-control serves
 * under /v1, the shared `controlEndpoints` table, and the endpoint table of docs/api.md name the
 * same endpoints with the same methods, paths, auth and success statuses; and every endpoint
 * refuses callers its `auth` column excludes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlEndpoints, type ControlEndpoint } from '../src/shared/schema/control.js';
import { hashPassword } from '../src/control/auth/passwords.js';
import { passwordLogin, startTestControl, type TestControl } from './harness/control.js';

const API_MD = path.resolve(import.meta.dirname, '../docs/api.md');

const table = Object.entries(controlEndpoints) as Array<[string, ControlEndpoint]>;
const key = (method: string, url: string): string => `${method} ${url}`;

/** Rows of the "### Endpoints" table of docs/api.md: name, method and path, auth, description. */
function documentedEndpoints(): Array<{ name: string; route: string; auth: string; text: string }> {
  const md = fs.readFileSync(API_MD, 'utf8');
  const start = md.indexOf('### Endpoints\n');
  expect(start).toBeGreaterThan(0);
  const section = md.slice(start, md.indexOf('\n### ', start + 1));
  const rows: Array<{ name: string; route: string; auth: string; text: string }> = [];
  for (const line of section.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const name = /^`(\w+)`$/.exec(cells[1] ?? '')?.[1];
    const route = /^`((?:GET|POST|PUT|PATCH|DELETE) \/v1\/\S+)`$/.exec(cells[2] ?? '')?.[1];
    if (!name || !route) continue;
    rows.push({ name, route, auth: cells[3] ?? '', text: cells[4] ?? '' });
  }
  return rows;
}

describe('the control API table', () => {
  let c: TestControl;
  let member: string;
  beforeAll(async () => {
    c = await startTestControl('sqlite');
    const net = await c.server.ctx.defaultNetwork();
    const created = await c.server.store.users.createLocal({
      networkId: net.id,
      email: 'member@test.trellis',
      passwordHash: await hashPassword('member-password-1'),
    });
    if (!created.ok) throw new Error(created.error);
    member = await passwordLogin(c.url, 'member@test.trellis', 'member-password-1');
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('serves exactly the endpoints of controlEndpoints under /v1', () => {
    const served = c.server.routes
      .filter((r) => r.method !== 'HEAD' && r.url.startsWith('/v1/'))
      .map((r) => key(r.method, r.url))
      .sort();
    const declared = table.map(([, e]) => key(e.method, e.path)).sort();
    expect(new Set(served).size).toBe(served.length);
    expect(served).toEqual(declared);
  });

  it('documents every endpoint in docs/api.md with its method, path, auth and status', () => {
    const rows = documentedEndpoints();
    expect(rows.map((r) => r.name).sort()).toEqual(table.map(([n]) => n).sort());
    for (const [name, e] of table) {
      const row = rows.find((r) => r.name === name);
      expect(row?.route, name).toBe(key(e.method, e.path));
      expect(row?.auth, name).toBe(e.auth);
      if (e.status) expect(row?.text, name).toContain(`\`${e.status}\``);
    }
  });

  it('refuses callers the auth column excludes, on every endpoint', async () => {
    const call = async (e: ControlEndpoint, token?: string) => {
      const url = `${c.url}${e.path.replace(/:id\b/, 'x_unknown').replace(/:version\b/, '1')}`;
      const r = await fetch(url, {
        method: e.method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(e.body ? { 'content-type': 'application/json' } : {}),
        },
        ...(e.body ? { body: '{}' } : {}),
      });
      await r.text();
      return r.status;
    };
    for (const [name, e] of table) {
      if (e.auth === 'none') continue;
      expect(await call(e), `${name} without credentials`).toBe(401);
      if (e.auth === 'admin') expect(await call(e, member), `${name} as a member`).toBe(403);
    }
  });
});
