/**
 * Policy, routes, posture and DNS as connected devices see them, over the real map stream of a
 * real trellis-control (SQLite and PostgreSQL): a policy change reaches exactly the devices it
 * affects, one delta each; route approval and router failover reach a viewer; a posture failure
 * shows in the device's own self section with its reason and clears when the host info changes
 * (the geolocation check reads the configured GeoIP file); DNS settings arrive as deltas.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl } from '../src/control/app.js';
import { parseConfig } from '../src/control/config.js';
import { GeoDatabaseError } from '../src/control/geoip.js';
import {
  CreateApiKeyResponse,
  DeviceRoutesList,
  NetworkSettingsView,
} from '../src/shared/schema/control/admin.js';
import type { Netmap } from '../src/shared/schema/control/netmap.js';
import {
  callApi,
  hostInfo,
  MapClient,
  passwordLogin,
  registerDevice,
  runCli,
  startTestControl,
  type Driver,
  type RegisteredDevice,
  type TestControl,
} from './harness/control.js';

const GEO_FIXTURE = fileURLToPath(
  new URL('../src/control/policy/testdata/geo.csv', import.meta.url),
);
const PASSWORD = 'correct-horse-battery';
const PREFIX = '10.9.0.0/16';
/**
 * Failover must reach viewers "within seconds": the hub needs one presence batch (250 ms) after
 * the stream closes. The bound is generous because the test machine is shared.
 */
const FAILOVER_DEADLINE_MS = 5_000;
/** Waits for map state on a loaded machine. */
const SETTLE_MS = 15_000;
/** How long a device that should hear nothing is watched. */
const QUIET_MS = 1_500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const peerOf = (m: MapClient, id: string) => m.netmap?.peers.find((p) => p.id === id);
const hasPeer = (m: MapClient, id: string): boolean => peerOf(m, id) !== undefined;

for (const driver of ['sqlite', 'postgres'] as Driver[]) {
  describe(`netmaps under policy on ${driver}`, () => {
    let c: TestControl;
    let owner: string;
    const api = (method: string, p: string, body?: unknown) =>
      callApi(c.url, method, p, owner, body);
    const putPolicy = async (policy: string) => {
      const r = await api('PUT', '/v1/admin/policy', { policy });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    };
    const user = async (email: string): Promise<string> => {
      const r = await api('POST', '/v1/admin/users', { email, role: 'member', password: PASSWORD });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return passwordLogin(c.url, email, PASSWORD);
    };
    const device = (token: string, name: string) =>
      registerDevice(c.url, { type: 'session', token }, name);
    const connect = async (d: RegisteredDevice): Promise<MapClient> => {
      const m = new MapClient(c.url, d.credential, d.nodeKey);
      await m.until((x) => x.netmap !== null, SETTLE_MS);
      return m;
    };
    const open: MapClient[] = [];
    const track = (m: MapClient): MapClient => {
      open.push(m);
      return m;
    };

    let geoDir: string;
    let geoFile: string;
    beforeAll(async () => {
      // A copy of the fixture, so a test can replace it as an operator would.
      geoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-geo-'));
      geoFile = path.join(geoDir, 'geo.csv');
      fs.copyFileSync(GEO_FIXTURE, geoFile);
      c = await startTestControl(driver, {
        geoipDatabase: geoFile,
        rateLimits: { signInPerMinute: 600, signInBurst: 100 },
      });
      owner = await passwordLogin(c.url, c.owner.email, c.owner.password);
    });
    afterAll(async () => {
      await Promise.all(open.map((m) => m.close()));
      await c?.stop();
      fs.rmSync(geoDir, { recursive: true, force: true });
    });

    it('removes a peer from the affected maps within one delta and leaves other streams untouched', async () => {
      const [alice, bob, carol] = await Promise.all([
        user('alice@test.trellis'),
        user('bob@test.trellis'),
        user('carol@test.trellis'),
      ]);
      const a = await device(alice, 'alice-box');
      const b = await device(bob, 'bob-box');
      const cd = await device(carol, 'carol-box');
      const ma = track(await connect(a));
      const mb = track(await connect(b));
      const mc = track(await connect(cd));
      const everyoneOnline = (m: MapClient, ids: string[]) =>
        ids.every((id) => peerOf(m, id)?.online === true);
      await ma.until((x) => everyoneOnline(x, [b.deviceId, cd.deviceId]), SETTLE_MS);
      await mb.until((x) => everyoneOnline(x, [a.deviceId, cd.deviceId]), SETTLE_MS);
      await mc.until((x) => everyoneOnline(x, [a.deviceId, b.deviceId]), SETTLE_MS);
      await sleep(QUIET_MS); // presence batches have gone out
      const seen = [ma, mb, mc].map((m) => m.messages.length);
      const filterOfC = JSON.stringify(mc.netmap?.packetFilter);

      // Everyone may reach carol; alice only her own devices: alice and bob lose each other,
      // while carol's view and inbound filter stay exactly as they were.
      await putPolicy(`{
        acls: [
          { action: "accept", src: ["*"], dst: ["carol@test.trellis:*"] },
          { action: "accept", src: ["alice@test.trellis"], dst: ["alice@test.trellis:*"] },
        ],
      }`);
      await ma.until((x) => !hasPeer(x, b.deviceId), SETTLE_MS);
      await mb.until((x) => !hasPeer(x, a.deviceId), SETTLE_MS);
      await sleep(QUIET_MS);
      for (const [m, gone, i] of [
        [ma, b.deviceId, 0],
        [mb, a.deviceId, 1],
      ] as const) {
        const got = m.messages.slice(seen[i]);
        expect(got).toHaveLength(1);
        const [msg] = got;
        expect(msg?.type).toBe('delta');
        if (msg?.type === 'delta') expect(msg.patch.peersRemoved).toEqual([gone]);
        expect(hasPeer(m, cd.deviceId)).toBe(true);
      }
      expect(mc.messages.length).toBe(seen[2]);
      expect(hasPeer(mc, a.deviceId) && hasPeer(mc, b.deviceId)).toBe(true);
      expect(JSON.stringify(mc.netmap?.packetFilter)).toBe(filterOfC);
      await Promise.all([ma.close(), mb.close(), mc.close()]);
    });

    it('shows route approval to a connected viewer and fails over to the second router', async () => {
      await putPolicy('{ acls: [{ action: "accept", src: ["*"], dst: ["*:*"] }] }');
      const r1 = await device(owner, 'router-1');
      const r2 = await device(owner, 'router-2');
      const v = await device(owner, 'viewer');
      const advertise = async (d: RegisteredDevice, name: string): Promise<MapClient> => {
        const m = track(await connect(d));
        m.send({ type: 'update', hostInfo: hostInfo(name, { advertisedRoutes: [PREFIX] }) });
        await until(async () => {
          const routes = DeviceRoutesList.parse((await api('GET', '/v1/admin/routes')).body);
          return routes.items.find((r) => r.deviceId === d.deviceId)?.advertised[0] === PREFIX;
        });
        return m;
      };
      // Router 1 comes online first: when both are up, it has been online longer.
      const m1 = await advertise(r1, 'router-1');
      await advertise(r2, 'router-2');
      const mv = track(await connect(v));
      await mv.until((x) => peerOf(x, r2.deviceId)?.online === true, SETTLE_MS);
      expect(peerOf(mv, r1.deviceId)?.routesOffered).toEqual([]); // pending: not offered yet

      const approve = async (d: RegisteredDevice) => {
        const r = await api('PATCH', `/v1/admin/devices/${d.deviceId}`, {
          approvedRoutes: [PREFIX],
        });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      };
      await approve(r1);
      await mv.until(
        (x) => peerOf(x, r1.deviceId)?.allowedIPs.includes(PREFIX) === true,
        SETTLE_MS,
      );
      await approve(r2);
      await mv.until(
        (x) => peerOf(x, r2.deviceId)?.routesOffered.includes(PREFIX) === true,
        SETTLE_MS,
      );
      // One primary per prefix: only router 1 carries it in allowed IPs.
      expect(peerOf(mv, r1.deviceId)).toMatchObject({
        primaryRoutes: [PREFIX],
        routesOffered: [PREFIX],
      });
      expect(peerOf(mv, r2.deviceId)?.primaryRoutes).toEqual([]);
      expect(peerOf(mv, r2.deviceId)?.allowedIPs).not.toContain(PREFIX);

      const before = mv.messages.length;
      await m1.close();
      await mv.until(
        (x) =>
          peerOf(x, r2.deviceId)?.allowedIPs.includes(PREFIX) === true &&
          peerOf(x, r1.deviceId)?.allowedIPs.includes(PREFIX) === false,
        FAILOVER_DEADLINE_MS,
      );
      expect(mv.messages.slice(before).every((m) => m.type === 'delta')).toBe(true);
      expect(peerOf(mv, r1.deviceId)?.online).toBe(false);
      expect(peerOf(mv, r2.deviceId)?.primaryRoutes).toEqual([PREFIX]);

      // Router 1 returns: the prefix stays with router 2 (no flapping back).
      track(await connect(r1));
      await mv.until((x) => peerOf(x, r1.deviceId)?.online === true, SETTLE_MS);
      await sleep(QUIET_MS);
      expect(peerOf(mv, r2.deviceId)?.primaryRoutes).toEqual([PREFIX]);
      expect(peerOf(mv, r1.deviceId)?.allowedIPs).not.toContain(PREFIX);
      expect(peerOf(mv, r1.deviceId)?.routesOffered).toEqual([PREFIX]);
    });

    it("shows a failing posture check in the device's self section, with its reason, until it passes", async () => {
      await putPolicy(`{
        postures: {
          "posture:corp": [
            { kind: "min-client-version", version: "1.2.0" },
            { kind: "geolocation", action: "allow", countries: ["DE"] },
          ],
        },
        acls: [{ action: "accept", src: ["*"], dst: ["*:*"], srcPosture: ["posture:corp"] }],
      }`);
      const laptop = await device(owner, 'laptop');
      const desk = await device(owner, 'desk');
      const ml = track(await connect(laptop));
      track(await connect(desk));
      const check = (n: Netmap | null, kind: string) =>
        n?.self.posture.find((p) => p.kind === kind);
      // Registered with client 0.1.0 and no public address yet: both checks fail, with reasons.
      expect(check(ml.netmap, 'min-client-version')).toMatchObject({
        check: 'posture:corp/min-client-version',
        passed: false,
        reason: 'Update Trellis to 1.2.0 or later (you have 0.1.0).',
      });
      expect(check(ml.netmap, 'geolocation')?.passed).toBe(false);
      expect(hasPeer(ml, desk.deviceId)).toBe(false); // no posture, no rule: nobody to reach

      // The helper updates and reports a public address in Germany (the GeoIP fixture).
      ml.send({
        type: 'update',
        hostInfo: hostInfo('laptop', { clientVersion: '1.3.0' }),
        endpoints: [{ addr: '192.0.2.7:41641', type: 'stun' }],
      });
      await ml.until((x) => x.netmap?.self.posture.every((p) => p.passed) === true, SETTLE_MS);
      expect(check(ml.netmap, 'min-client-version')?.reason).toBeNull();
      await ml.until((x) => hasPeer(x, desk.deviceId), SETTLE_MS);

      // It roams to an address the database places in Russia: geolocation fails again.
      ml.send({ type: 'update', endpoints: [{ addr: '203.0.113.9:41641', type: 'stun' }] });
      await ml.until((x) => check(x.netmap, 'geolocation')?.passed === false, SETTLE_MS);
      expect(check(ml.netmap, 'geolocation')?.reason).toBe(
        'Access is allowed only from DE (this device appears to be in RU).',
      );
      await ml.until((x) => !hasPeer(x, desk.deviceId), SETTLE_MS);

      // The operator's new database places that range in Germany: after the reload (the sweep
      // or SIGHUP does this in a running server) the check passes again, live.
      const next = path.join(geoDir, 'next.csv');
      fs.writeFileSync(next, '203.0.113.0/24,DE\n');
      fs.renameSync(next, geoFile);
      expect((await c.server.reloadGeoDatabase()).type).toBe('reloaded');
      await ml.until((x) => check(x.netmap, 'geolocation')?.passed === true, SETTLE_MS);
      await ml.until((x) => hasPeer(x, desk.deviceId), SETTLE_MS);
      // A broken replacement is refused and changes nothing.
      fs.writeFileSync(next, '203.0.113.0/24,Deutschland\n');
      fs.renameSync(next, geoFile);
      expect((await c.server.reloadGeoDatabase()).type).toBe('failed');
      await sleep(QUIET_MS);
      expect(check(ml.netmap, 'geolocation')?.passed).toBe(true);
    });

    it('delivers MagicDNS, split DNS and extra records to connected devices as one delta', async () => {
      await putPolicy('{ acls: [{ action: "accept", src: ["*"], dst: ["*:*"] }] }');
      const d = await device(owner, 'dns-box');
      const m = track(await connect(d));
      await sleep(QUIET_MS);
      const before = m.messages.length;
      const dns = {
        magicDns: false,
        splitDns: { 'corp.example.com': ['10.0.0.53', '10.0.0.54'] },
        extraRecords: [
          { type: 'A', name: 'git.corp.example.com', value: '100.64.0.9' },
          { type: 'CNAME', name: 'code.test.trellis', value: 'git.corp.example.com' },
          { type: 'TXT', name: 'git.corp.example.com', value: 'owner=platform' },
        ],
      };
      const r = await api('PATCH', '/v1/admin/settings', { dns });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(NetworkSettingsView.parse(r.body).dns).toMatchObject(dns);
      await m.until((x) => x.netmap?.dns.extraRecords.length === 3, SETTLE_MS);
      expect(m.messages.slice(before)).toHaveLength(1);
      expect(m.netmap?.dns).toMatchObject({ ...dns, domain: 'test.trellis' });

      // A name with a CNAME may have no other record; the old settings stay.
      const bad = await api('PATCH', '/v1/admin/settings', {
        dns: {
          extraRecords: [
            { type: 'CNAME', name: 'www.corp.example.com', value: 'git.corp.example.com' },
            { type: 'A', name: 'www.corp.example.com', value: '100.64.0.9' },
          ],
        },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toContain('has a CNAME');
      const now = NetworkSettingsView.parse((await api('GET', '/v1/admin/settings')).body);
      expect(now.dns.extraRecords).toHaveLength(3);
    });

    it('changes split DNS and extra records through the CLI, reaching connected devices', async () => {
      const key = CreateApiKeyResponse.parse(
        (await api('POST', '/v1/admin/api-keys', { description: 'dns-cli' })).body,
      );
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TRELLIS_SERVER: c.url,
        TRELLIS_API_KEY: key.secret,
      };
      const m = track(await connect(await device(owner, 'dns-cli-box')));
      const split = await runCli(
        [
          'settings',
          'set',
          '--split-dns',
          'lab.example.com=10.1.0.53+10.1.0.54',
          '--magic-dns',
          'on',
        ],
        { env },
      );
      expect(split.code, split.stderr).toBe(0);
      expect(split.stdout).toContain('split DNS            lab.example.com=10.1.0.53+10.1.0.54');
      await m.until((x) => x.netmap?.dns.splitDns['lab.example.com']?.length === 2, SETTLE_MS);
      expect(m.netmap?.dns.magicDns).toBe(true);

      const add = await runCli(
        ['settings', 'dns-record', 'add', 'wiki.lab.example.com', 'aaaa', 'fd00::9'],
        { env },
      );
      expect(add.code, add.stderr).toBe(0);
      await m.until(
        (x) => x.netmap?.dns.extraRecords.some((r) => r.name === 'wiki.lab.example.com') === true,
        SETTLE_MS,
      );
      expect(m.netmap?.dns.extraRecords.find((r) => r.name === 'wiki.lab.example.com')).toEqual({
        type: 'AAAA',
        name: 'wiki.lab.example.com',
        value: 'fd00::9',
      });
      const wrong = await runCli(
        ['settings', 'dns-record', 'add', 'wiki.lab.example.com', 'A', 'fd00::9'],
        { env },
      );
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).not.toMatch(/\n\s+at /);
      const remove = await runCli(['settings', 'dns-record', 'remove', 'wiki.lab.example.com'], {
        env,
      });
      expect(remove.code, remove.stderr).toBe(0);
      await m.until(
        (x) => x.netmap?.dns.extraRecords.every((r) => r.name !== 'wiki.lab.example.com') === true,
        SETTLE_MS,
      );
      const again = await runCli(['settings', 'dns-record', 'remove', 'wiki.lab.example.com'], {
        env,
      });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('no extra record wiki.lab.example.com');
    });
  });
}

describe('the GeoIP database at start-up', () => {
  it('refuses to start with a broken file, naming the file and line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-geo-start-'));
    try {
      const geo = path.join(dir, 'geo.csv');
      fs.writeFileSync(geo, '# countries\n192.0.2.0/24,Germany\n');
      const cfg = parseConfig({
        dataDir: dir,
        insecureHttp: true,
        listen: { host: '127.0.0.1', port: 0 },
        stun: { enabled: false },
        geoipDatabase: geo,
      });
      if (!cfg.ok) throw new Error(cfg.error.message);
      const started = startControl(cfg.value, { logger: pino({ level: 'silent' }) });
      await expect(started).rejects.toBeInstanceOf(GeoDatabaseError);
      await expect(started).rejects.toThrow(`geoip database ${geo}:2: `);
      // Nothing was created: the check runs before the database is opened.
      expect(fs.existsSync(path.join(dir, 'control.db'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Polls an async condition (state visible only through the admin API). */
async function until(pred: () => Promise<boolean>, timeoutMs = SETTLE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await sleep(100);
  }
}
