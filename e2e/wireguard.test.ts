/**
 * Real wireguard-go in two fresh network namespaces joined by a veth pair (10.99.0.0/24 exists
 * only inside them): configs applied as diffs through the UAPI socket, mesh addresses and routes
 * through the Linux configurator, real pings through the tunnel.
 *
 * The tests in this file run in order and share the devices. WireGuard re-keys a session every
 * 120 s (REKEY_AFTER_TIME), so the "same handshake" checks must run well within two minutes of
 * the first ping; the whole file takes a few seconds.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecError, startProcess } from '../src/helper/exec.js';
import { LinuxOsConfigurator } from '../src/helper/os/linux.js';
import type { WgInterfaceConfig, WgPeerConfig } from '../src/helper/wg/types.js';
import { uapiSocketPath } from '../src/helper/wg/uapi.js';
import {
  WireGuardGoBackend,
  type WireGuardGoDevice,
  type WireGuardGoExitEvent,
} from '../src/helper/wg/wireguard-go.js';
import { generateKeyPair, keyToBase64 } from '../src/shared/keys.js';
import {
  createLab,
  netSnapshot,
  requireLabPrerequisites,
  type Lab,
  type NetSnapshot,
} from './lab/netns.js';

const MTU = 1420;
const MESH_A = { v4: '100.64.0.1', v6: 'fd7a:115c:a1e0::1' };
const MESH_B = { v4: '100.64.0.2', v6: 'fd7a:115c:a1e0::2' };
const VETH_A = '10.99.0.1';
const VETH_B = '10.99.0.2';

const keysA = generateKeyPair();
const keysB = generateKeyPair();
const keysC = generateKeyPair();

let lab: Lab;
let nsA: string;
let nsB: string;
let backendA: WireGuardGoBackend;
let backendB: WireGuardGoBackend;
let devA: WireGuardGoDevice;
let devB: WireGuardGoDevice;
let osA: LinuxOsConfigurator;
let osB: LinuxOsConfigurator;
let beforeOsA: NetSnapshot;
let beforeOsB: NetSnapshot;
const exits: WireGuardGoExitEvent[] = [];

const meshPeer = (
  pub: Uint8Array,
  mesh: typeof MESH_A,
  endpoint: string | null,
  keepalive = 0,
): WgPeerConfig => ({
  publicKey: keyToBase64(pub),
  endpoint,
  allowedIps: [`${mesh.v4}/32`, `${mesh.v6}/128`],
  persistentKeepalive: keepalive,
});

const wgConfig = (priv: Uint8Array, peers: WgPeerConfig[]): WgInterfaceConfig => ({
  privateKey: keyToBase64(priv),
  listenPort: 0,
  fwmark: 0,
  peers,
});

/** `-i 0.2`: the shortest interval ping allows without flooding, to keep the file fast. */
const ping = (ns: string, target: string, count = 3) =>
  lab.exec(ns, 'ping', ['-c', String(count), '-i', '0.2', '-W', '2', target], {
    timeoutMs: 30_000,
  });

async function peerStats(dev: WireGuardGoDevice, pub: Uint8Array) {
  const stats = await dev.stats();
  const p = stats.peers.find((x) => x.publicKey === keyToBase64(pub));
  if (!p) throw new Error(`${dev.name} has no peer ${keyToBase64(pub)}`);
  return p;
}

async function linkNames(ns: string): Promise<string[]> {
  const { stdout } = await lab.exec(ns, 'ip', ['-json', 'link', 'show']);
  return (JSON.parse(stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
}

beforeAll(async () => {
  requireLabPrerequisites(['wireguard-go', 'ping']);
  lab = createLab();
  nsA = await lab.createNamespace('a');
  nsB = await lab.createNamespace('b');
  await lab.createVeth(nsA, 'veth0', nsB, 'veth0');
  await lab.addAddress(nsA, 'veth0', `${VETH_A}/24`);
  await lab.addAddress(nsB, 'veth0', `${VETH_B}/24`);
  await lab.setUp(nsA, 'veth0');
  await lab.setUp(nsB, 'veth0');
  await lab.waitLinkReady(nsA, 'veth0');
  await lab.waitLinkReady(nsB, 'veth0');
  backendA = new WireGuardGoBackend({ netns: nsA, onExit: (e) => exits.push(e) });
  backendB = new WireGuardGoBackend({ netns: nsB, onExit: (e) => exits.push(e) });
});

afterAll(async () => {
  for (const d of [devA, devB]) await d?.close().catch(() => undefined);
  await lab?.dispose();
});

describe('wireguard-go backend in network namespaces', () => {
  it('creates two devices, tunnels between them and pings across (IPv4 and IPv6)', async () => {
    devA = await backendA.create(lab.ifname('wa'), { mtu: MTU });
    devB = await backendB.create(lab.ifname('wb'), { mtu: MTU });
    expect(existsSync(devA.socketPath)).toBe(true);

    // Port 0: each device picks its own port; peers learn it from stats, then get an endpoint
    // through a diff (an endpoint-only update).
    await devA.apply(wgConfig(keysA.privateKey, [meshPeer(keysB.publicKey, MESH_B, null)]));
    await devB.apply(wgConfig(keysB.privateKey, [meshPeer(keysA.publicKey, MESH_A, null)]));
    const portA = (await devA.stats()).listenPort;
    const portB = (await devB.stats()).listenPort;
    expect(portA).toBeGreaterThan(0);
    await devA.apply(
      wgConfig(keysA.privateKey, [meshPeer(keysB.publicKey, MESH_B, `${VETH_B}:${portB}`)]),
    );
    await devB.apply(
      wgConfig(keysB.privateKey, [meshPeer(keysA.publicKey, MESH_A, `${VETH_A}:${portA}`)]),
    );

    beforeOsA = await netSnapshot(nsA);
    beforeOsB = await netSnapshot(nsB);
    osA = new LinuxOsConfigurator({ interfaceName: devA.name, netns: nsA });
    osB = new LinuxOsConfigurator({ interfaceName: devB.name, netns: nsB });
    await osA.apply({
      interfaceName: devA.name,
      addresses: [`${MESH_A.v4}/32`, `${MESH_A.v6}/128`],
      mtu: MTU,
      routes: [`${MESH_B.v4}/32`, `${MESH_B.v6}/128`],
    });
    await osB.apply({
      interfaceName: devB.name,
      addresses: [`${MESH_B.v4}/32`, `${MESH_B.v6}/128`],
      mtu: MTU,
      routes: [`${MESH_A.v4}/32`, `${MESH_A.v6}/128`],
    });

    const v4 = await ping(nsA, MESH_B.v4);
    expect(v4.stdout).toMatch(/3 received/);
    const v6 = await ping(nsA, MESH_B.v6);
    expect(v6.stdout).toMatch(/3 received/);

    const b = await peerStats(devA, keysB.publicKey);
    expect(b.lastHandshake).not.toBeNull();
    expect(b.rxBytes).toBeGreaterThan(0);
    expect(b.txBytes).toBeGreaterThan(0);
    expect(b.endpoint).toBe(`${VETH_B}:${portB}`);
  });

  it('applies a changed config as a diff: the live session and its handshake survive', async () => {
    const handshakeA = (await peerStats(devA, keysB.publicKey)).lastHandshake?.getTime();
    const handshakeB = (await peerStats(devB, keysA.publicKey)).lastHandshake?.getTime();
    const portB = (await devB.stats()).listenPort;
    const rxBefore = (await peerStats(devA, keysB.publicKey)).rxBytes;

    // A third (fake) peer appears and the existing peer's keepalive changes.
    await devA.apply(
      wgConfig(keysA.privateKey, [
        meshPeer(keysB.publicKey, MESH_B, `${VETH_B}:${portB}`, 25),
        meshPeer(keysC.publicKey, { v4: '100.64.0.3', v6: 'fd7a:115c:a1e0::3' }, null),
      ]),
    );
    const state = await devA.deviceState();
    expect(state.peers).toHaveLength(2);
    expect(
      state.peers.find((p) => p.publicKey === keyToBase64(keysB.publicKey))?.persistentKeepalive,
    ).toBe(25);

    const again = await ping(nsA, MESH_B.v4);
    expect(again.stdout).toMatch(/3 received/);
    const after = await peerStats(devA, keysB.publicKey);
    expect(after.rxBytes).toBeGreaterThan(rxBefore);
    expect(after.lastHandshake?.getTime()).toBe(handshakeA);
    expect((await peerStats(devB, keysA.publicKey)).lastHandshake?.getTime()).toBe(handshakeB);
  });

  it('removing the peer stops traffic to it', async () => {
    await devA.apply(
      wgConfig(keysA.privateKey, [
        meshPeer(keysC.publicKey, { v4: '100.64.0.3', v6: 'fd7a:115c:a1e0::3' }, null),
      ]),
    );
    expect((await devA.stats()).peers.map((p) => p.publicKey)).toEqual([
      keyToBase64(keysC.publicKey),
    ]);
    const failed = await ping(nsA, MESH_B.v4, 1).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ExecError);
    expect((failed as ExecError).exitCode).toBe(1);
  });

  it('OS teardown leaves addresses and routes exactly as they were', async () => {
    await osA.teardown();
    await osB.teardown();
    expect(await netSnapshot(nsA)).toEqual(beforeOsA);
    expect(await netSnapshot(nsB)).toEqual(beforeOsB);
  });

  it('close() ends the process and removes the socket and the interface', async () => {
    await devA.close();
    expect(await linkNames(nsA)).not.toContain(devA.name);
    expect(existsSync(devA.socketPath)).toBe(false);
    await expect(devA.stats()).rejects.toMatchObject({ code: 'closed' });
    await devA.close(); // idempotent
    expect(exits).toEqual([]);
  });

  it('reports a wireguard-go that dies (process_exited, onExit) and cleans up after it', async () => {
    process.kill(devB.pid, 'SIGKILL');
    await devB.exited;
    for (let i = 0; i < 100 && exits.length === 0; i++) await sleep(20);
    expect(exits).toHaveLength(1);
    expect(exits[0]?.name).toBe(devB.name);
    expect(exits[0]?.signal).toBe('SIGKILL');
    await expect(devB.stats()).rejects.toMatchObject({ code: 'process_exited' });
    await expect(devB.apply(wgConfig(keysB.privateKey, []))).rejects.toMatchObject({
      code: 'process_exited',
    });
    expect(existsSync(devB.socketPath)).toBe(false);
    expect(await linkNames(nsB)).not.toContain(devB.name);
  });

  it('cleans a stale socket left by a crash, and replaces a live orphaned wireguard-go', async () => {
    // A crash: wireguard-go killed hard leaves its socket file behind.
    const name = lab.ifname('ws');
    const crashed = await startProcess('ip', ['netns', 'exec', nsA, 'wireguard-go', '-f', name], {
      env: { ...process.env, WG_PROCESS_FOREGROUND: '1' },
    });
    for (let i = 0; i < 250 && !existsSync(uapiSocketPath(name)); i++) await sleep(20);
    crashed.kill('SIGKILL');
    await crashed.exited;
    expect(existsSync(uapiSocketPath(name))).toBe(true);
    const fresh = await backendA.create(name, { mtu: MTU });
    await fresh.apply(wgConfig(keysA.privateKey, []));
    expect((await fresh.stats()).peers).toEqual([]);

    // An orphan: still running and answering, as if its helper had crashed.
    const successor = await backendA.create(name, { mtu: MTU });
    await fresh.exited;
    await successor.apply(wgConfig(keysA.privateKey, [meshPeer(keysB.publicKey, MESH_B, null)]));
    expect((await successor.stats()).peers).toHaveLength(1);
    expect((await linkNames(nsA)).filter((n) => n === name)).toHaveLength(1);
    await successor.close();
    expect(existsSync(uapiSocketPath(name))).toBe(false);
    // The replaced device noticed its process was gone (it was not closed through its handle).
    await expect(fresh.stats()).rejects.toMatchObject({ code: 'process_exited' });
  });
});
