import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HostInfo } from '../../shared/schema/control/hostinfo.js';
import { TRELLIS_VERSION } from '../../shared/version.js';
import {
  collectHostInfo,
  localNetworks,
  parseOsRelease,
  procExecutables,
  runningProcesses,
  type HostEnv,
  type InterfaceAddress,
} from './hostinfo.js';

const DEBIAN = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
# comment
ID=debian
BROKEN LINE
HOME_URL='https://www.debian.org/'
`;

const ifaces: InterfaceAddress[] = [
  {
    interfaceName: 'lo',
    address: '127.0.0.1',
    family: 'IPv4',
    cidr: '127.0.0.1/8',
    internal: true,
  },
  {
    interfaceName: 'eth0',
    address: '192.168.1.5',
    family: 'IPv4',
    cidr: '192.168.1.5/24',
    internal: false,
  },
  {
    interfaceName: 'eth0',
    address: 'fe80::1',
    family: 'IPv6',
    cidr: 'fe80::1/64',
    internal: false,
  },
  {
    interfaceName: 'eth0',
    address: '2001:db8::5',
    family: 'IPv6',
    cidr: '2001:db8::5/64',
    internal: false,
  },
  {
    interfaceName: 'trellis0',
    address: '100.64.0.1',
    family: 'IPv4',
    cidr: '100.64.0.1/32',
    internal: false,
  },
];

const env: HostEnv = {
  hostname: () => 'Build-Box',
  osRelease: async () => DEBIAN,
  kernelVersion: () => '6.1.0-18-amd64',
  arch: () => 'x64',
  interfaces: () => ifaces,
};

describe('parseOsRelease', () => {
  it('reads quoted and bare values and skips comments and junk', () => {
    const r = parseOsRelease(DEBIAN);
    expect(r.VERSION_ID).toBe('12');
    expect(r.PRETTY_NAME).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(r.ID).toBe('debian');
    expect(r.HOME_URL).toBe('https://www.debian.org/');
    expect(Object.keys(r)).not.toContain('BROKEN');
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (t) => typeof parseOsRelease(t) === 'object'),
    );
  });
});

describe('collectHostInfo', () => {
  it('reports the OS facts and the prefs’ advertisements in a HostInfo control accepts', async () => {
    const h = await collectHostInfo(
      env,
      { hostname: null, advertiseRoutes: ['10.1.0.0/16'], advertiseExitNode: true },
      'trellis0',
    );
    expect(HostInfo.safeParse(h).success).toBe(true);
    expect(h).toEqual({
      hostname: 'Build-Box',
      os: 'linux',
      osVersion: '12',
      kernelVersion: '6.1.0-18-amd64',
      clientVersion: TRELLIS_VERSION,
      arch: 'x64',
      description: 'Debian GNU/Linux 12 (bookworm)',
      posture: { runningProcesses: [], localNetworks: ['192.168.1.0/24', '2001:db8::/64'] },
      advertisedRoutes: ['10.1.0.0/16'],
      advertiseExitNode: true,
    });
  });

  it('uses the prefs’ hostname over the OS one, and copes without os-release', async () => {
    const h = await collectHostInfo(
      { ...env, osRelease: async () => null },
      { hostname: 'edge', advertiseRoutes: [], advertiseExitNode: false },
      'trellis0',
    );
    expect(h.hostname).toBe('edge');
    expect(h.osVersion).toBe('');
    expect(h).not.toHaveProperty('description');
    expect(HostInfo.safeParse(h).success).toBe(true);
  });
});

describe('posture: running processes', () => {
  it('reports only the asked-for paths that a running process executes', async () => {
    const running = {
      ...env,
      runningExecutables: async () => ['/usr/sbin/sshd', '/opt/edr/agent'],
    };
    const h = await collectHostInfo(
      running,
      { hostname: null, advertiseRoutes: [], advertiseExitNode: false },
      'trellis0',
      ['/opt/edr/agent', '/opt/other/agent', '/opt/edr/agent'],
    );
    expect(h.posture.runningProcesses).toEqual(['/opt/edr/agent']);
    expect(HostInfo.safeParse(h).success).toBe(true);
    // Nothing asked: nothing scanned, nothing reported.
    let scanned = false;
    await runningProcesses({ ...env, runningExecutables: async () => ((scanned = true), []) }, []);
    expect(scanned).toBe(false);
  });

  it('reads executables from a /proc-like directory, skipping what is not a process', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-proc-'));
    try {
      for (const [pid, exe] of [
        ['101', '/opt/edr/agent'],
        ['102', '/usr/bin/old (deleted)'],
      ] as const) {
        await fs.mkdir(path.join(dir, pid));
        await fs.symlink(exe, path.join(dir, pid, 'exe'));
      }
      await fs.mkdir(path.join(dir, '103')); // a kernel thread: no exe
      await fs.mkdir(path.join(dir, 'self'));
      expect((await procExecutables(dir)).sort()).toEqual(['/opt/edr/agent', '/usr/bin/old']);
      expect(await procExecutables(path.join(dir, 'missing'))).toEqual([]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('finds this test’s own process in the real /proc', async () => {
    expect(await procExecutables()).toContain(await fs.realpath(process.execPath));
  });
});

describe('localNetworks', () => {
  it('leaves out loopback, link-local and the mesh interface', () => {
    expect(localNetworks(ifaces, 'trellis0')).toEqual(['192.168.1.0/24', '2001:db8::/64']);
  });
});
