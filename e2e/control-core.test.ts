/**
 * trellis-control end to end over real HTTP and WebSockets on loopback, on SQLite and on
 * PostgreSQL: first-run owner, password sign-in through the login pages, registration by user
 * session and pre-auth key, the netmap stream with deltas and resumption, and refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  MapClient,
  passwordLogin,
  postJson,
  registerDevice,
  hostInfo,
  startTestControl,
  type Driver,
  type TestControl,
} from './harness/control.js';
import { generateKeyPair, keyFromBase64, keyToBase64 } from '../src/shared/keys.js';
import { RelayClient } from '../src/helper/relay/client.js';
import { EPHEMERAL_OFFLINE_TTL_MS, removeStaleEphemeral } from '../src/control/app.js';
import { hashPassword } from '../src/control/auth/passwords.js';

for (const driver of ['sqlite', 'postgres'] as Driver[]) {
  describe(`control core on ${driver}`, () => {
    let c: TestControl;
    let session: string;
    beforeAll(async () => {
      c = await startTestControl(driver);
      session = await passwordLogin(c.url, c.owner.email, c.owner.password);
    });
    afterAll(async () => {
      await c?.stop();
    });

    it('signs the first-run owner in through the login page and long-poll', async () => {
      expect(session).toMatch(/^tr_sess_/);
      const me = await fetch(`${c.url}/v1/me`, { headers: { authorization: `Bearer ${session}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({
        user: { email: c.owner.email },
        role: 'owner',
        network: { domain: 'test.trellis' },
      });
    });

    it('refuses a wrong password and keeps the login pending', async () => {
      const start = await postJson(`${c.url}/v1/login`, {});
      const page = await fetch(start.body.url, {
        method: 'POST',
        body: new URLSearchParams({ email: c.owner.email, password: 'wrong-password' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(page.status).toBe(401);
      expect(await page.text()).toContain('Wrong email or password');
      const t0 = Date.now();
      const poll = fetch(`${c.url}/v1/login/poll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pollToken: start.body.pollToken }),
      });
      // The long-poll completes as soon as the browser side signs in.
      await new Promise((r) => setTimeout(r, 300));
      await fetch(start.body.url, {
        method: 'POST',
        body: new URLSearchParams({ email: c.owner.email, password: c.owner.password }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      const done = await (await poll).json();
      expect(done.status).toBe('complete');
      expect(Date.now() - t0).toBeLessThan(5000);
      // A poll token mints one session, once.
      const again = await postJson(`${c.url}/v1/login/poll`, { pollToken: start.body.pollToken });
      expect(again.status).toBe(410);
    });

    it('registers devices with stable unique addresses and names', async () => {
      const a = await registerDevice(c.url, { type: 'session', token: session }, 'Laptop');
      const b = await registerDevice(c.url, { type: 'session', token: session }, 'laptop');
      expect(a.body.name).toBe('laptop');
      expect(b.body.name).toBe('laptop-1');
      expect(a.body.fqdn).toBe('laptop.test.trellis');
      expect(a.body.addresses.ipv4).toMatch(/^100\.64\./);
      expect(a.body.addresses.ipv4).not.toBe(b.body.addresses.ipv4);
      expect(a.body.addresses.ipv6).toMatch(/^fd/);
      expect(a.credential).toMatch(/^tr_node_/);
      // Re-registering the same key keeps the device and its address.
      const again = await postJson(`${c.url}/v1/register`, {
        nodeKey: a.nodeKey,
        hostInfo: hostInfo('Laptop'),
        auth: { type: 'session', token: session },
      });
      expect(again.status).toBe(200);
      expect(again.body.deviceId).toBe(a.deviceId);
      expect(again.body.addresses).toEqual(a.body.addresses);
    });

    it('never gives two concurrent registrations one address or name', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          registerDevice(c.url, { type: 'session', token: session }, 'burst'),
        ),
      );
      const ips = new Set(results.map((r) => r.body.addresses.ipv4));
      const names = new Set(results.map((r) => r.body.name));
      expect(ips.size).toBe(20);
      expect(names.size).toBe(20);
    });

    it('rotates a node key in place when the old key is named', async () => {
      const a = await registerDevice(c.url, { type: 'session', token: session }, 'rotator');
      const newKey = keyToBase64(generateKeyPair().publicKey);
      const r = await postJson(`${c.url}/v1/register`, {
        nodeKey: newKey,
        oldNodeKey: a.nodeKey,
        hostInfo: hostInfo('rotator'),
        auth: { type: 'session', token: session },
      });
      expect(r.status).toBe(200);
      expect(r.body.deviceId).toBe(a.deviceId);
      expect(r.body.addresses).toEqual(a.body.addresses);
      // The old credential no longer opens a map stream.
      const ws = new WebSocket(`${c.url.replace('http', 'ws')}/v1/map`, {
        headers: { authorization: `Bearer ${a.credential}` },
      });
      const status = await new Promise<number>((resolve) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => undefined);
      });
      expect(status).toBe(401);
    });

    it('makes a new device when another user signs in after a logout, naming the old key', async () => {
      const a = await registerDevice(c.url, { type: 'session', token: session }, 'shared-pc');
      const out = await fetch(`${c.url}/v1/device/logout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.credential}` },
      });
      expect(out.status).toBe(204);
      const created = await postJson(
        `${c.url}/v1/admin/users`,
        { email: 'second@test.trellis', role: 'member', password: 'second-user-password-1' },
        { authorization: `Bearer ${session}` },
      );
      expect(created.status).toBe(201);
      const other = await passwordLogin(c.url, 'second@test.trellis', 'second-user-password-1');
      const r = await postJson(`${c.url}/v1/register`, {
        nodeKey: keyToBase64(generateKeyPair().publicKey),
        oldNodeKey: a.nodeKey,
        hostInfo: hostInfo('shared-pc'),
        auth: { type: 'session', token: other },
      });
      expect(r.status).toBe(200);
      expect(r.body.deviceId).not.toBe(a.deviceId);
      expect(r.body.addresses.ipv4).not.toBe(a.body.addresses.ipv4);
      // The first user's device is untouched: still theirs, its key still the old one.
      const old = await c.server.store.devices.get(a.deviceId);
      expect(old?.nodeKey).toBe(a.nodeKey);
    });

    it('refuses bad registrations with typed errors', async () => {
      const bad = await postJson(`${c.url}/v1/register`, {
        nodeKey: 'nope',
        hostInfo: hostInfo('x'),
        auth: { type: 'session', token: session },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('bad_request');
      const wrong = await postJson(`${c.url}/v1/register`, {
        nodeKey: keyToBase64(generateKeyPair().publicKey),
        hostInfo: hostInfo('x'),
        auth: { type: 'session', token: 'tr_sess_' + 'A'.repeat(43) },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({
        error: { code: 'unauthorized', message: 'missing or invalid credentials' },
      });
      const notJson = await fetch(`${c.url}/v1/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"nodeKey":',
      });
      expect(notJson.status).toBe(400);
      const huge = await fetch(`${c.url}/v1/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }),
      });
      expect(huge.status).toBe(413);
    });

    it('streams a full netmap, then deltas, and presence', async () => {
      const a = await registerDevice(c.url, { type: 'session', token: session }, 'stream-a');
      const b = await registerDevice(c.url, { type: 'session', token: session }, 'stream-b');
      const ma = new MapClient(c.url, a.credential, a.nodeKey);
      await ma.until((m) => m.netmap !== null);
      expect(ma.messages[0]?.type).toBe('full');
      expect(ma.netmap?.self.id).toBe(a.deviceId);
      expect(ma.netmap?.peers.some((p) => p.id === b.deviceId && !p.online)).toBe(true);
      expect(ma.netmap?.relayToken?.token.split('.')).toHaveLength(3);
      expect(ma.netmap?.relayMap.regions[0]?.relays[0]?.url).toMatch(
        /^ws:\/\/127\.0\.0\.1:\d+\/v1\/relay$/,
      );

      const mb = new MapClient(c.url, b.credential, b.nodeKey);
      await ma.until((m) => m.netmap?.peers.find((p) => p.id === b.deviceId)?.online === true);
      mb.send({
        type: 'update',
        endpoints: [{ addr: '192.0.2.10:41641', type: 'stun' }],
        preferredRelayRegion: 1,
      });
      await ma.until(
        (m) =>
          m.netmap?.peers.find((p) => p.id === b.deviceId)?.endpoints[0]?.addr ===
          '192.0.2.10:41641',
      );
      expect(ma.netmap?.peers.find((p) => p.id === b.deviceId)?.homeRelayRegion).toBe(1);

      // A new device appears in live maps without a reconnect.
      const d = await registerDevice(c.url, { type: 'session', token: session }, 'newcomer');
      await ma.until((m) => m.netmap?.peers.some((p) => p.id === d.deviceId) === true);

      await mb.close();
      await ma.until((m) => m.netmap?.peers.find((p) => p.id === b.deviceId)?.online === false);
      expect(ma.netmap?.peers.find((p) => p.id === b.deviceId)?.lastSeen).not.toBeNull();

      // Resumption: reconnect with the token and seq, get one catch-up delta, not a full map.
      const snapshot = { token: ma.resumeToken, seq: ma.seq, netmap: ma.netmap! };
      await ma.close();
      const e = await registerDevice(c.url, { type: 'session', token: session }, 'while-away');
      const mr = new MapClient(c.url, a.credential, a.nodeKey, snapshot);
      await mr.until((m) => m.messages.length > 0);
      expect(mr.messages[0]?.type).toBe('delta');
      expect(mr.netmap?.peers.some((p) => p.id === e.deviceId)).toBe(true);
      await mr.close();

      // The endpoints were persisted.
      const stored = await c.server.store.devices.get(b.deviceId);
      expect(stored?.endpoints).toEqual(['stun/192.0.2.10:41641']);
    });

    it('hands out relay tokens that the built-in relay accepts, and forwards by node key', async () => {
      const a = await registerDevice(c.url, { type: 'session', token: session }, 'relay-a');
      const b = await registerDevice(c.url, { type: 'session', token: session }, 'relay-b');
      const ma = new MapClient(c.url, a.credential, a.nodeKey);
      const mb = new MapClient(c.url, b.credential, b.nodeKey);
      await ma.until((m) => m.netmap !== null);
      await mb.until((m) => m.netmap !== null);
      const relayUrl = ma.netmap!.relayMap.regions[0]!.relays[0]!.url;
      const key = (k: string) => {
        const r = keyFromBase64(k);
        if (!r.ok) throw new Error('bad key');
        return r.value;
      };
      const ra = new RelayClient({
        url: relayUrl,
        nodeKey: key(a.nodeKey),
        token: ma.netmap!.relayToken!.token,
      });
      const rb = new RelayClient({
        url: relayUrl,
        nodeKey: key(b.nodeKey),
        token: mb.netmap!.relayToken!.token,
      });
      const got = new Promise<string>((resolve) =>
        rb.on('receive', (src, payload) =>
          resolve(`${keyToBase64(src)}|${Buffer.from(payload).toString()}`),
        ),
      );
      ra.start();
      rb.start();
      await Promise.all([ra.whenConnected(), rb.whenConnected()]);
      expect(ra.send(key(b.nodeKey), Buffer.from('hello over relay'))).toBe(true);
      expect(await got).toBe(`${a.nodeKey}|hello over relay`);
      // A token is bound to its node key: b's token does not let a third key in.
      const thief = new RelayClient({
        url: relayUrl,
        nodeKey: generateKeyPair().publicKey,
        token: mb.netmap!.relayToken!.token,
      });
      const refused = new Promise<string>((resolve) =>
        thief.on('state', (s) => s.state === 'backoff' && resolve(s.error.code)),
      );
      thief.start();
      expect(await refused).toBeTruthy();
      await Promise.all([ra.close(), rb.close(), thief.close(), ma.close(), mb.close()]);
    });

    it('renews the key when an expired device signs in again with the same key', async () => {
      const a = await registerDevice(c.url, { type: 'session', token: session }, 'expiring');
      const auth = { authorization: `Bearer ${session}`, 'content-type': 'application/json' };
      const exp = await fetch(`${c.url}/v1/admin/devices/${a.deviceId}/expire`, {
        method: 'POST',
        headers: auth,
        body: '{}',
      });
      expect(exp.status).toBe(200);
      const again = await postJson(`${c.url}/v1/register`, {
        nodeKey: a.nodeKey,
        hostInfo: hostInfo('expiring'),
        auth: { type: 'session', token: session },
      });
      expect(again.status).toBe(200);
      expect(Date.parse(again.body.keyExpiry)).toBeGreaterThan(Date.now() + 100 * 86_400_000);
      const m = new MapClient(c.url, again.body.nodeCredential, a.nodeKey);
      await m.until((x) => x.netmap !== null);
      expect(m.messages[0]?.type).toBe('full');
      await m.close();
    });

    it('removes ephemeral devices once they have been offline long enough', async () => {
      const start = await postJson(`${c.url}/v1/register`, {
        nodeKey: keyToBase64(generateKeyPair().publicKey),
        hostInfo: hostInfo('ci-runner'),
        auth: { type: 'session', token: session },
        wantEphemeral: true,
      });
      expect(start.status).toBe(200);
      const id = start.body.deviceId as string;
      const online = new MapClient(
        c.url,
        start.body.nodeCredential,
        (await c.server.store.devices.get(id))!.nodeKey,
      );
      await online.until((x) => x.netmap !== null);
      const later = { ...c.server.ctx, now: () => Date.now() + 2 * EPHEMERAL_OFFLINE_TTL_MS };
      await removeStaleEphemeral(later); // online: kept, however old its last-seen
      expect(await c.server.store.devices.get(id)).not.toBeNull();
      await online.close();
      await new Promise((r) => setTimeout(r, 200));
      await removeStaleEphemeral({ ...c.server.ctx }); // offline, but not for long: kept
      expect(await c.server.store.devices.get(id)).not.toBeNull();
      await removeStaleEphemeral(later);
      expect(await c.server.store.devices.get(id)).toBeNull();
      expect(c.server.hub.getDevice(id)).toBeUndefined();
    });

    it("drops a disabled user's devices from every netmap, and restores them on re-enable", async () => {
      const net = await c.server.ctx.defaultNetwork();
      const bob = await c.server.store.users.createLocal({
        networkId: net.id,
        email: 'bob@test.trellis',
        passwordHash: await hashPassword('bob-password-123'),
      });
      if (!bob.ok) throw new Error(bob.error);
      const bobSession = await passwordLogin(c.url, 'bob@test.trellis', 'bob-password-123');
      const bd = await registerDevice(c.url, { type: 'session', token: bobSession }, 'bobs-laptop');
      const a = await registerDevice(c.url, { type: 'session', token: session }, 'watcher');
      const m = new MapClient(c.url, a.credential, a.nodeKey);
      await m.until((x) => x.netmap?.peers.some((p) => p.id === bd.deviceId) === true);
      const auth = { authorization: `Bearer ${session}`, 'content-type': 'application/json' };
      const off = await fetch(`${c.url}/v1/admin/users/${bob.value.id}`, {
        method: 'PATCH',
        headers: auth,
        body: JSON.stringify({ disabled: true }),
      });
      expect(off.status).toBe(200);
      await m.until((x) => x.netmap?.peers.some((p) => p.id === bd.deviceId) === false);
      const on = await fetch(`${c.url}/v1/admin/users/${bob.value.id}`, {
        method: 'PATCH',
        headers: auth,
        body: JSON.stringify({ disabled: false }),
      });
      expect(on.status).toBe(200);
      await m.until((x) => x.netmap?.peers.some((p) => p.id === bd.deviceId) === true);
      await m.close();
    });

    it('applies a saved policy to live netmaps as deltas, and approved routes to allowed IPs', async () => {
      const net = await c.server.ctx.defaultNetwork();
      const carol = await c.server.store.users.createLocal({
        networkId: net.id,
        email: 'carol@test.trellis',
        passwordHash: await hashPassword('carol-password-123'),
      });
      if (!carol.ok) throw new Error(carol.error);
      const carolSession = await passwordLogin(c.url, 'carol@test.trellis', 'carol-password-123');
      const mine = await registerDevice(c.url, { type: 'session', token: session }, 'owner-box');
      const hers = await registerDevice(
        c.url,
        { type: 'session', token: carolSession },
        'carol-box',
      );
      const m = new MapClient(c.url, mine.credential, mine.nodeKey);
      await m.until((x) => x.netmap?.peers.some((p) => p.id === hers.deviceId) === true);
      const auth = { authorization: `Bearer ${session}`, 'content-type': 'application/json' };
      const put = (policy: string) =>
        fetch(`${c.url}/v1/admin/policy`, {
          method: 'PUT',
          headers: auth,
          body: JSON.stringify({ policy }),
        });

      // Only the owner's own devices may talk to each other now.
      const saved = await put(
        `{ acls: [{ action: "accept", src: ["${c.owner.email}"], dst: ["${c.owner.email}:*"] }] }`,
      );
      expect(saved.status).toBe(200);
      const seen = m.messages.length;
      await m.until((x) => x.netmap?.peers.some((p) => p.id === hers.deviceId) === false);
      expect(m.messages.slice(seen).every((msg) => msg.type === 'delta')).toBe(true);

      // Allow everything again; carol's device advertises a subnet and an admin approves it.
      expect((await put('{ acls: [{ action: "accept", src: ["*"], dst: ["*:*"] }] }')).status).toBe(
        200,
      );
      await m.until((x) => x.netmap?.peers.some((p) => p.id === hers.deviceId) === true);
      const mc = new MapClient(c.url, hers.credential, hers.nodeKey);
      await mc.until((x) => x.netmap !== null);
      mc.send({
        type: 'update',
        hostInfo: hostInfo('carol-box', { advertisedRoutes: ['10.42.0.0/24'] }),
      });
      await new Promise((r) => setTimeout(r, 300));
      const approve = await fetch(`${c.url}/v1/admin/devices/${hers.deviceId}`, {
        method: 'PATCH',
        headers: auth,
        body: JSON.stringify({ approvedRoutes: ['10.42.0.0/24'] }),
      });
      expect(approve.status).toBe(200);
      await m.until(
        (x) =>
          x.netmap?.peers
            .find((p) => p.id === hers.deviceId)
            ?.allowedIPs.includes('10.42.0.0/24') === true,
      );
      expect(m.netmap?.peers.find((p) => p.id === hers.deviceId)?.routesOffered).toEqual([
        '10.42.0.0/24',
      ]);
      await Promise.all([m.close(), mc.close()]);
    });

    it('refuses map streams without valid credentials and ends malformed ones', async () => {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${c.url.replace('http', 'ws')}/v1/map`, {
          headers: { authorization: 'Bearer tr_node_forgedforgedforgedforged' },
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => undefined);
      });
      expect(status).toBe(401);

      const a = await registerDevice(c.url, { type: 'session', token: session }, 'garbage');
      const ws = new WebSocket(`${c.url.replace('http', 'ws')}/v1/map`, {
        headers: { authorization: `Bearer ${a.credential}` },
      });
      const msgs: string[] = [];
      ws.on('message', (d) => msgs.push(d.toString()));
      const code = await new Promise<number>((resolve) => {
        ws.on('open', () => ws.send('{"type":"hello","version":1,"nodeKey":42}'));
        ws.on('close', (c) => resolve(c));
      });
      expect(code).toBe(4400);
      expect(JSON.parse(msgs[0] ?? '{}')).toMatchObject({ type: 'error', code: 'bad_request' });
      // The server is still healthy.
      expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    });
  });
}
