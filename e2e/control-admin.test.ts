/**
 * The admin API (/v1/admin) end to end over real HTTP and map streams, on SQLite and PostgreSQL:
 * authentication and roles, users, API keys, pre-auth key registration flows, device changes
 * reaching live netmaps, network settings, and the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MapClient,
  hostInfo,
  passwordLogin,
  postJson,
  registerDevice,
  startTestControl,
  type Driver,
  type TestControl,
} from './harness/control.js';
import { generateKeyPair, keyToBase64 } from '../src/shared/keys.js';
import {
  AdminDevice,
  AdminUser,
  ApiKeyList,
  AuditLog,
  CreateApiKeyResponse,
  CreatePreauthKeyResponse,
  DeviceList,
  NetworkSettingsView,
  PreauthKeyList,
  SessionList,
  UserList,
} from '../src/shared/schema/control/admin.js';
import { ControlErrorBody } from '../src/shared/schema/control/errors.js';

/** Sign-ins per minute are limited per IP; these tests sign in more often than a person does. */
const RELAXED_LIMITS = { rateLimits: { signInPerMinute: 6000, signInBurst: 1000 } };

interface Res {
  status: number;
  body: any;
}

async function call(
  base: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<Res> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** Asserts a typed error body with the given status and code. */
function expectError(r: Res, status: number, code: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(ControlErrorBody.parse(r.body).error.code).toBe(code);
}

const PASSWORD = 'correct-horse-battery';

for (const driver of ['sqlite', 'postgres'] as Driver[]) {
  describe(`admin API on ${driver}`, () => {
    let c: TestControl;
    let owner: string;
    const api = (method: string, path: string, body?: unknown, token: string | null = owner) =>
      call(c.url, method, path, token, body);

    async function newUser(
      email: string,
      role: 'member' | 'admin' | 'owner',
    ): Promise<{ id: string; token: string }> {
      const r = await api('POST', '/v1/admin/users', { email, role, password: PASSWORD });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return { id: AdminUser.parse(r.body).id, token: await passwordLogin(c.url, email, PASSWORD) };
    }

    async function preauthKey(body: Record<string, unknown>): Promise<CreatePreauthKeyResponse> {
      const r = await api('POST', '/v1/admin/preauth-keys', body);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return CreatePreauthKeyResponse.parse(r.body);
    }

    async function auditActions(action: string): Promise<AuditLog['items']> {
      const r = await api('GET', `/v1/admin/audit?action=${encodeURIComponent(action)}&limit=500`);
      expect(r.status).toBe(200);
      return AuditLog.parse(r.body).items;
    }

    beforeAll(async () => {
      c = await startTestControl(driver, RELAXED_LIMITS);
      owner = await passwordLogin(c.url, c.owner.email, c.owner.password);
    });
    afterAll(async () => {
      await c?.stop();
    });

    it('refuses missing credentials, members, bad input and unknown ids with typed errors', async () => {
      expectError(await api('GET', '/v1/admin/users', undefined, null), 401, 'unauthorized');
      expectError(
        await api('GET', '/v1/admin/devices', undefined, 'tr_api_' + 'x'.repeat(43)),
        401,
        'unauthorized',
      );
      const member = await newUser('member@example.com', 'member');
      expectError(await api('GET', '/v1/admin/users', undefined, member.token), 403, 'forbidden');
      expectError(
        await api('POST', '/v1/admin/users', {
          email: 'not-an-email',
          role: 'member',
          password: PASSWORD,
        }),
        400,
        'bad_request',
      );
      expectError(
        await api('POST', '/v1/admin/users', {
          email: 'short@example.com',
          role: 'member',
          password: 'short',
        }),
        400,
        'bad_request',
      );
      expectError(await api('PATCH', '/v1/admin/devices/dev_nope', {}), 400, 'bad_request');
      expectError(await api('GET', '/v1/admin/users?limit=100000'), 400, 'bad_request');
      expectError(await api('GET', '/v1/admin/devices/dev_unknown'), 404, 'not_found');
      expectError(await api('DELETE', '/v1/admin/users/usr_unknown'), 404, 'not_found');
      expectError(await api('DELETE', '/v1/admin/preauth-keys/pak_unknown'), 404, 'not_found');
      expectError(await api('GET', '/v1/admin/devices?cursor=%24%24'), 400, 'bad_request');
      // A duplicate email is a conflict.
      expectError(
        await api('POST', '/v1/admin/users', {
          email: 'member@example.com',
          role: 'member',
          password: PASSWORD,
        }),
        409,
        'conflict',
      );
    });

    it('manages users: roles, the last owner, disable, password, delete', async () => {
      const admin = await newUser('admin@example.com', 'admin');
      const bob = await newUser('bob@example.com', 'member');
      const ownerId = (await api('GET', '/v1/me')).body.user.id as string;

      // Only owners grant the owner role or touch an owner.
      expectError(
        await call(c.url, 'PATCH', `/v1/admin/users/${bob.id}`, admin.token, { role: 'owner' }),
        403,
        'forbidden',
      );
      expectError(
        await call(c.url, 'PATCH', `/v1/admin/users/${ownerId}`, admin.token, { disabled: true }),
        403,
        'forbidden',
      );
      const promoted = await call(c.url, 'PATCH', `/v1/admin/users/${bob.id}`, admin.token, {
        role: 'admin',
        name: 'Bob',
      });
      expect(promoted.status).toBe(200);
      expect(AdminUser.parse(promoted.body)).toMatchObject({
        role: 'admin',
        name: 'Bob',
        provider: 'local',
      });

      // The last owner cannot be demoted, disabled or deleted; with a second owner, it can.
      expectError(
        await api('PATCH', `/v1/admin/users/${ownerId}`, { role: 'admin' }),
        409,
        'conflict',
      );
      expectError(await api('DELETE', `/v1/admin/users/${ownerId}`), 409, 'conflict');
      const second = await api('PATCH', `/v1/admin/users/${admin.id}`, { role: 'owner' });
      expect(second.body.role).toBe('owner');
      const demoted = await call(c.url, 'PATCH', `/v1/admin/users/${admin.id}`, admin.token, {
        role: 'admin',
      });
      expect(demoted.body.role).toBe('admin');

      // Disabling signs the user out everywhere; enabling lets them sign in again.
      expect((await call(c.url, 'GET', '/v1/me', bob.token)).status).toBe(200);
      const disabled = await api('PATCH', `/v1/admin/users/${bob.id}`, { disabled: true });
      expect(disabled.body.disabled).toBe(true);
      expect((await call(c.url, 'GET', '/v1/me', bob.token)).status).toBe(401);
      await expect(passwordLogin(c.url, 'bob@example.com', PASSWORD)).rejects.toThrow();
      await api('PATCH', `/v1/admin/users/${bob.id}`, { disabled: false });

      // A new password works, the old one does not, and the user's sessions end.
      const bobSession = await passwordLogin(c.url, 'bob@example.com', PASSWORD);
      const pw = await api('PUT', `/v1/admin/users/${bob.id}/password`, {
        password: 'another-long-password',
      });
      expect(pw.status).toBe(200);
      expect((await call(c.url, 'GET', '/v1/me', bobSession)).status).toBe(401);
      await expect(passwordLogin(c.url, 'bob@example.com', PASSWORD)).rejects.toThrow();
      await passwordLogin(c.url, 'bob@example.com', 'another-long-password');

      // Deleting a user removes their devices from the network.
      const bobNow = await passwordLogin(c.url, 'bob@example.com', 'another-long-password');
      const dev = await registerDevice(c.url, { type: 'session', token: bobNow }, 'bobs-laptop');
      expect((await api('DELETE', `/v1/admin/users/${bob.id}`)).status).toBe(200);
      expectError(await api('GET', `/v1/admin/devices/${dev.deviceId}`), 404, 'not_found');
      const users = UserList.parse((await api('GET', '/v1/admin/users')).body);
      expect(users.items.map((u) => u.email)).not.toContain('bob@example.com');

      const actions = AuditLog.parse(
        (await api('GET', `/v1/admin/audit?actor=user:${ownerId}&limit=500`)).body,
      ).items.map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining([
          'user.created',
          'user.role_changed',
          'user.disabled',
          'user.enabled',
          'user.password_set',
          'user.deleted',
        ]),
      );
      const roleChange = (await auditActions('user.role_changed')).find(
        (e) => e.target?.id === admin.id,
      );
      expect(roleChange?.diff).toContainEqual({ field: 'role', old: 'owner', new: 'admin' });
    });

    it('issues API keys that work as bearer tokens until revoked', async () => {
      const created = await api('POST', '/v1/admin/api-keys', { description: 'ci' });
      expect(created.status).toBe(201);
      const { key, secret } = CreateApiKeyResponse.parse(created.body);
      expect(secret).toMatch(/^tr_api_/);
      expect(secret.startsWith(key.prefix)).toBe(true);
      const list = await api('GET', '/v1/admin/api-keys');
      expect(ApiKeyList.parse(list.body).items.some((k) => k.id === key.id)).toBe(true);
      expect(JSON.stringify(list.body)).not.toContain(secret);

      const viaKey = await call(c.url, 'GET', '/v1/admin/users', secret);
      expect(viaKey.status).toBe(200);
      // API keys act as admins: they cannot hand out the owner role.
      expectError(
        await call(c.url, 'POST', '/v1/admin/users', secret, {
          email: 'o2@example.com',
          role: 'owner',
          password: PASSWORD,
        }),
        403,
        'forbidden',
      );
      const made = await call(c.url, 'POST', '/v1/admin/users', secret, {
        email: 'bykey@example.com',
        role: 'member',
        password: PASSWORD,
      });
      expect(made.status).toBe(201);
      const entry = (await auditActions('user.created')).find((e) => e.target?.id === made.body.id);
      expect(entry?.actor).toEqual({ type: 'api-key', id: key.id });

      expect((await api('DELETE', `/v1/admin/api-keys/${key.id}`)).status).toBe(200);
      expectError(await call(c.url, 'GET', '/v1/admin/users', secret), 401, 'unauthorized');
      expect((await auditActions('api_key.revoked')).some((e) => e.target?.id === key.id)).toBe(
        true,
      );
    });

    it('registers with a one-off key exactly once, even under concurrent registrations', async () => {
      const { secret, key } = await preauthKey({ description: 'one-off' });
      expect(key).toMatchObject({ reusable: false, usedCount: 0, revoked: false });
      const attempts = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          postJson(`${c.url}/v1/register`, {
            nodeKey: keyToBase64(generateKeyPair().publicKey),
            hostInfo: hostInfo(`race-${i}`),
            auth: { type: 'preauth', key: secret },
          }),
        ),
      );
      expect(attempts.filter((a) => a.status === 200)).toHaveLength(1);
      expect(attempts.filter((a) => a.status === 401)).toHaveLength(7);
      const listed = PreauthKeyList.parse(
        (await api('GET', '/v1/admin/preauth-keys')).body,
      ).items.find((k) => k.id === key.id);
      expect(listed?.usedCount).toBe(1);
      expect(JSON.stringify(listed)).not.toContain(secret);
    });

    it('serves reusable, expired, revoked, tagged and ephemeral keys as promised', async () => {
      const reusable = await preauthKey({ reusable: true, expiresIn: 3600 });
      const a = await registerDevice(c.url, { type: 'preauth', key: reusable.secret }, 'reuse-a');
      const b = await registerDevice(c.url, { type: 'preauth', key: reusable.secret }, 'reuse-b');
      expect(a.deviceId).not.toBe(b.deviceId);
      // Untagged keys register devices of the user who made the key.
      const ownerDev = AdminDevice.parse(
        (await api('GET', `/v1/admin/devices/${a.deviceId}`)).body,
      );
      expect(ownerDev.owner).toMatchObject({ type: 'user', user: { email: c.owner.email } });

      const expiring = await preauthKey({ reusable: true });
      await c.server.store.preauthKeys.expire(expiring.key.id);
      const expired = await postJson(`${c.url}/v1/register`, {
        nodeKey: keyToBase64(generateKeyPair().publicKey),
        hostInfo: hostInfo('late'),
        auth: { type: 'preauth', key: expiring.secret },
      });
      expectError(expired, 401, 'unauthorized');

      expect((await api('DELETE', `/v1/admin/preauth-keys/${reusable.key.id}`)).status).toBe(200);
      const afterRevoke = await postJson(`${c.url}/v1/register`, {
        nodeKey: keyToBase64(generateKeyPair().publicKey),
        hostInfo: hostInfo('revoked'),
        auth: { type: 'preauth', key: reusable.secret },
      });
      expectError(afterRevoke, 401, 'unauthorized');

      const tagged = await preauthKey({
        tags: ['tag:server', 'tag:ci'],
        ephemeral: true,
        preapproved: true,
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
      });
      expect(tagged.key).toMatchObject({
        tags: ['tag:ci', 'tag:server'],
        ephemeral: true,
        preapproved: true,
      });
      const t = await registerDevice(c.url, { type: 'preauth', key: tagged.secret }, 'runner');
      const dev = AdminDevice.parse((await api('GET', `/v1/admin/devices/${t.deviceId}`)).body);
      expect(dev.owner).toEqual({ type: 'tagged', tags: ['tag:ci', 'tag:server'] });
      expect(dev.ephemeral).toBe(true);
      const m = new MapClient(c.url, t.credential, t.nodeKey);
      await m.until((x) => x.netmap !== null);
      expect(m.netmap?.self.ephemeral).toBe(true);
      expect(m.netmap?.self.owner).toEqual({ type: 'tagged', tags: ['tag:ci', 'tag:server'] });
      await m.close();

      // Past expiry dates, both expiry forms at once, and a user with tags are refused.
      expectError(
        await api('POST', '/v1/admin/preauth-keys', {
          expiresAt: new Date(Date.now() - 1000).toISOString(),
        }),
        400,
        'bad_request',
      );
      expectError(
        await api('POST', '/v1/admin/preauth-keys', {
          expiresIn: 60,
          expiresAt: new Date(Date.now() + 60_000).toISOString(),
        }),
        400,
        'bad_request',
      );
      expectError(
        await api('POST', '/v1/admin/preauth-keys', { tags: ['tag:x'], user: 'usr_someone' }),
        400,
        'bad_request',
      );
      expect((await auditActions('preauth_key.created')).length).toBeGreaterThanOrEqual(4);
    });

    it('pushes renames, approval, tags and expiry to live netmaps; delete ends the stream', async () => {
      const a = await registerDevice(c.url, { type: 'session', token: owner }, 'watcher');
      const b = await registerDevice(c.url, { type: 'session', token: owner }, 'subject');
      const ma = new MapClient(c.url, a.credential, a.nodeKey);
      const mb = new MapClient(c.url, b.credential, b.nodeKey);
      await ma.until((m) => m.netmap?.peers.some((p) => p.id === b.deviceId) === true);
      await mb.until((m) => m.netmap !== null);

      // Rename: the watcher sees it as a delta, the subject in its self node.
      const before = ma.messages.length;
      const renamed = await api('PATCH', `/v1/admin/devices/${b.deviceId}`, {
        name: 'renamed-subject',
      });
      expect(renamed.status).toBe(200);
      expect(AdminDevice.parse(renamed.body)).toMatchObject({
        name: 'renamed-subject',
        fqdn: 'renamed-subject.test.trellis',
        online: true,
      });
      await ma.until(
        (m) => m.netmap?.peers.find((p) => p.id === b.deviceId)?.name === 'renamed-subject',
      );
      expect(ma.messages.slice(before).every((msg) => msg.type !== 'full')).toBe(true);
      expect(ma.messages.slice(before).some((msg) => msg.type === 'delta')).toBe(true);
      await mb.until((m) => m.netmap?.self.name === 'renamed-subject');

      // A taken name is a conflict and changes nothing, even alongside other fields.
      expectError(
        await api('PATCH', `/v1/admin/devices/${b.deviceId}`, {
          name: 'watcher',
          keyExpiryDisabled: true,
        }),
        409,
        'conflict',
      );
      expect(
        AdminDevice.parse((await api('GET', `/v1/admin/devices/${b.deviceId}`)).body),
      ).toMatchObject({ name: 'renamed-subject', keyExpiryDisabled: false });
      expectError(
        await api('PATCH', `/v1/admin/devices/${b.deviceId}`, { name: 'Not A Label!' }),
        400,
        'bad_request',
      );

      // Key expiry off, tags.
      const noExpiry = await api('PATCH', `/v1/admin/devices/${b.deviceId}`, {
        keyExpiryDisabled: true,
      });
      expect(noExpiry.body.keyExpiryDisabled).toBe(true);
      await mb.until((m) => m.netmap?.self.keyExpiry === null);
      const tagged = await api('PATCH', `/v1/admin/devices/${b.deviceId}`, { tags: ['tag:db'] });
      expect(tagged.body.owner).toEqual({ type: 'tagged', tags: ['tag:db'] });
      await ma.until(
        (m) => m.netmap?.peers.find((p) => p.id === b.deviceId)?.owner.type === 'tagged',
      );

      // Unapproving hides the device from peers; approving brings it back.
      await api('PATCH', `/v1/admin/devices/${b.deviceId}`, { approved: false });
      await ma.until((m) => m.netmap?.peers.some((p) => p.id === b.deviceId) === false);
      await api('PATCH', `/v1/admin/devices/${b.deviceId}`, { approved: true });
      await ma.until((m) => m.netmap?.peers.some((p) => p.id === b.deviceId) === true);

      const list = DeviceList.parse((await api('GET', '/v1/admin/devices?limit=500')).body);
      expect(list.items.find((d) => d.id === a.deviceId)?.online).toBe(true);

      // Delete: the subject's stream ends with reauth-required, the watcher loses the peer.
      expect((await api('DELETE', `/v1/admin/devices/${b.deviceId}`)).status).toBe(200);
      await mb.until((m) => m.closeCode !== null);
      expect(mb.closeCode).toBe(4403);
      expect(mb.messages.at(-1)).toMatchObject({
        type: 'reauth-required',
        reason: 'device-deleted',
      });
      await ma.until((m) => m.netmap?.peers.some((p) => p.id === b.deviceId) === false);

      // Expire now: the watcher's own stream ends with key-expired.
      const expired = await api('POST', `/v1/admin/devices/${a.deviceId}/expire`);
      expect(expired.status).toBe(200);
      expect(Date.parse(AdminDevice.parse(expired.body).keyExpiry ?? '')).toBeLessThanOrEqual(
        Date.now(),
      );
      await ma.until((m) => m.closeCode !== null);
      expect(ma.messages.at(-1)).toMatchObject({ type: 'reauth-required', reason: 'key-expired' });

      const actions = new Set(
        AuditLog.parse((await api('GET', '/v1/admin/audit?limit=500')).body).items.map(
          (e) => e.action,
        ),
      );
      for (const a of [
        'device.renamed',
        'device.key_expiry_disabled',
        'device.tags_set',
        'device.unapproved',
        'device.approved',
        'device.deleted',
        'device.key_expired',
      ])
        expect(actions.has(a), a).toBe(true);
      const rename = (await auditActions('device.renamed')).find(
        (e) => e.target?.id === b.deviceId,
      );
      expect(rename?.diff).toContainEqual({
        field: 'name',
        old: 'subject',
        new: 'renamed-subject',
      });
    });

    it('holds new devices for approval when the network requires it', async () => {
      const on = await api('PATCH', '/v1/admin/settings', { deviceApprovalRequired: true });
      expect(NetworkSettingsView.parse(on.body).deviceApprovalRequired).toBe(true);
      const d = await registerDevice(c.url, { type: 'session', token: owner }, 'needs-approval');
      expect(d.body.approved).toBe(false);
      const approved = await api('PATCH', `/v1/admin/devices/${d.deviceId}`, { approved: true });
      expect(approved.body.approved).toBe(true);
      // A preapproved key skips the wait.
      const k = await preauthKey({ preapproved: true });
      const p = await registerDevice(c.url, { type: 'preauth', key: k.secret }, 'preapproved');
      expect(p.body.approved).toBe(true);
      await api('PATCH', '/v1/admin/settings', { deviceApprovalRequired: false });
    });

    it('pushes DNS settings to connected devices', async () => {
      const d = await registerDevice(c.url, { type: 'session', token: owner }, 'dns-client');
      const m = new MapClient(c.url, d.credential, d.nodeKey);
      await m.until((x) => x.netmap !== null);
      const r = await api('PATCH', '/v1/admin/settings', {
        keyExpiryDays: 30,
        dns: { nameservers: ['192.0.2.53'], searchDomains: ['corp.example.com'] },
      });
      expect(r.status).toBe(200);
      const s = NetworkSettingsView.parse(r.body);
      expect(s).toMatchObject({
        keyExpiryDays: 30,
        dns: { magicDns: true, nameservers: ['192.0.2.53'], searchDomains: ['corp.example.com'] },
      });
      await m.until((x) => x.netmap?.dns.nameservers[0] === '192.0.2.53');
      expect(m.netmap?.dns.searchDomains).toEqual(['corp.example.com']);
      expect(
        NetworkSettingsView.parse((await api('GET', '/v1/admin/settings')).body).keyExpiryDays,
      ).toBe(30);
      expectError(
        await api('PATCH', '/v1/admin/settings', { dns: { nameservers: ['not-an-ip'] } }),
        400,
        'bad_request',
      );
      expectError(await api('PATCH', '/v1/admin/settings', {}), 400, 'bad_request');
      await m.close();
      const entry = (await auditActions('network.settings_updated'))[0];
      expect(entry?.diff).toContainEqual({ field: 'keyExpiryDays', old: 180, new: 30 });
    });

    it('lists and revokes user sessions', async () => {
      const carol = await newUser('carol@example.com', 'member');
      const second = await passwordLogin(c.url, 'carol@example.com', PASSWORD);
      const list = SessionList.parse(
        (await api('GET', `/v1/admin/sessions?user=${carol.id}`)).body,
      );
      expect(list.items).toHaveLength(2);
      expect(list.items.every((s) => s.userId === carol.id && !s.current)).toBe(true);
      const mine = SessionList.parse((await api('GET', '/v1/admin/sessions')).body).items.filter(
        (s) => s.current,
      );
      expect(mine).toHaveLength(1);

      const one = list.items[0]!;
      expect((await api('DELETE', `/v1/admin/sessions/${one.id}`)).status).toBe(200);
      const remaining = SessionList.parse(
        (await api('GET', `/v1/admin/sessions?user=${carol.id}`)).body,
      );
      expect(remaining.items.map((s) => s.id)).not.toContain(one.id);
      const all = await api('DELETE', `/v1/admin/users/${carol.id}/sessions`);
      expect(all.body).toEqual({ revoked: 1 });
      expect((await call(c.url, 'GET', '/v1/me', carol.token)).status).toBe(401);
      expect((await call(c.url, 'GET', '/v1/me', second)).status).toBe(401);
      expectError(await api('DELETE', '/v1/admin/sessions/ses_unknown'), 404, 'not_found');
    });

    it('pages lists and the audit log with cursors and filters', async () => {
      for (let i = 0; i < 3; i++) await preauthKey({ description: `page-${i}` });
      const seen = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : '';
        const r = PreauthKeyList.parse(
          (await api('GET', `/v1/admin/preauth-keys?limit=2${q}`)).body,
        );
        for (const k of r.items) {
          expect(seen.has(k.id)).toBe(false);
          seen.add(k.id);
        }
        cursor = r.nextCursor;
        pages++;
      } while (cursor);
      const all = PreauthKeyList.parse((await api('GET', '/v1/admin/preauth-keys?limit=500')).body);
      expect(seen.size).toBe(all.items.length);
      expect(pages).toBe(Math.ceil(all.items.length / 2));

      const since = new Date(Date.now() - 60_000).toISOString();
      const page1 = AuditLog.parse(
        (await api('GET', `/v1/admin/audit?limit=2&since=${since}&action=preauth_key.created`))
          .body,
      );
      expect(page1.items).toHaveLength(2);
      expect(page1.nextCursor).not.toBeNull();
      const page2 = AuditLog.parse(
        (
          await api(
            'GET',
            `/v1/admin/audit?limit=2&action=preauth_key.created&cursor=${page1.nextCursor}`,
          )
        ).body,
      );
      expect(Number(page2.items[0]?.id)).toBeLessThan(Number(page1.items[1]?.id));
      const future = AuditLog.parse(
        (await api('GET', `/v1/admin/audit?since=${new Date(Date.now() + 60_000).toISOString()}`))
          .body,
      );
      expect(future.items).toEqual([]);
      expectError(await api('GET', '/v1/admin/audit?actor=robot'), 400, 'bad_request');
      expectError(await api('GET', '/v1/admin/audit?cursor=abc'), 400, 'bad_request');
    });
  });
}
