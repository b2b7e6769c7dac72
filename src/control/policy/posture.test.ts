import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { PostureResult } from '../../shared/schema/control/netmap.js';
import type { HostInfo } from '../../shared/schema/control/hostinfo.js';
import { loadGeoCsvFile, type GeoLookup } from './geo.js';
import { evaluatePostures, postureQueries, type DeviceFacts } from './posture.js';
import { hostInfo, mustParse } from './testing.js';

let geo: GeoLookup;
beforeAll(async () => {
  const r = await loadGeoCsvFile(fileURLToPath(new URL('./testdata/geo.csv', import.meta.url)));
  if (!r.ok) throw new Error(r.error.message);
  geo = r.value;
});

const posture = (checks: string) => mustParse(`{"postures": {"posture:p": [${checks}]}}`);

interface Case {
  name: string;
  check: string;
  info?: Partial<HostInfo> | null;
  publicIp?: string | null;
  noGeo?: boolean;
  passed: boolean;
  reason?: RegExp;
}

const CASES: Case[] = [
  // min-client-version
  {
    name: 'client at minimum',
    check: '{"kind": "min-client-version", "version": "1.4.0"}',
    info: { clientVersion: '1.4.0' },
    passed: true,
  },
  {
    name: 'client too old',
    check: '{"kind": "min-client-version", "version": "1.4.0"}',
    info: { clientVersion: '1.2.0' },
    passed: false,
    reason: /^Update Trellis to 1\.4\.0 or later \(you have 1\.2\.0\)\.$/,
  },
  {
    name: 'pre-release below its release',
    check: '{"kind": "min-client-version", "version": "1.4.0"}',
    info: { clientVersion: '1.4.0-rc.1' },
    passed: false,
  },
  {
    name: 'no host info yet',
    check: '{"kind": "min-client-version", "version": "1.0.0"}',
    info: null,
    passed: false,
    reason: /has not reported/,
  },
  // min-os-version
  {
    name: 'linux kernel new enough',
    check: '{"kind": "min-os-version", "linux": "5.15"}',
    info: { os: 'linux', kernelVersion: '6.1.0-18-amd64' },
    passed: true,
  },
  {
    name: 'linux kernel too old (the distribution version does not count)',
    check: '{"kind": "min-os-version", "linux": "5.15"}',
    info: { os: 'linux', osVersion: '24.04', kernelVersion: '5.10.0-26-amd64' },
    passed: false,
    reason: /^Update the Linux kernel to 5\.15 or later \(you have 5\.10\.0-26-amd64\)\.$/,
  },
  {
    name: 'windows build too old',
    check: '{"kind": "min-os-version", "windows": "10.0.22631"}',
    info: { os: 'windows', osVersion: '10.0.19045', kernelVersion: undefined },
    passed: false,
    reason: /^Update Windows to 10\.0\.22631 or later \(you have 10\.0\.19045\)\.$/,
  },
  {
    name: 'macos compares the OS version',
    check: '{"kind": "min-os-version", "macos": "14.0"}',
    info: { os: 'macos', osVersion: '14.4.1', kernelVersion: '23.4.0' },
    passed: true,
  },
  {
    name: 'OS not named by the check',
    check: '{"kind": "min-os-version", "linux": "5.15", "macos": "14"}',
    info: { os: 'windows', osVersion: '10.0.22631' },
    passed: false,
    reason: /requires a Linux, macOS device; Windows is not admitted/,
  },
  {
    name: 'linux without a kernel version',
    check: '{"kind": "min-os-version", "linux": "5.15"}',
    info: { os: 'linux', kernelVersion: undefined },
    passed: false,
    reason: /could not read/,
  },
  // geolocation
  {
    name: 'allowed country',
    check: '{"kind": "geolocation", "action": "allow", "countries": ["DE"]}',
    publicIp: '192.0.2.1',
    passed: true,
  },
  {
    name: 'country not allowed',
    check: '{"kind": "geolocation", "action": "allow", "countries": ["DE", "FR"]}',
    publicIp: '203.0.113.9',
    passed: false,
    reason: /^Access is allowed only from DE, FR \(this device appears to be in RU\)\.$/,
  },
  {
    name: 'denied country',
    check: '{"kind": "geolocation", "action": "deny", "countries": ["RU"]}',
    publicIp: '203.0.113.9',
    passed: false,
    reason: /not allowed from RU/,
  },
  {
    name: 'not a denied country',
    check: '{"kind": "geolocation", "action": "deny", "countries": ["RU"]}',
    publicIp: '2001:db8::1',
    passed: true,
  },
  {
    name: 'unknown location passes a deny-list',
    check: '{"kind": "geolocation", "action": "deny", "countries": ["RU"]}',
    publicIp: '8.8.8.8',
    passed: true,
  },
  {
    name: 'unknown location fails an allow-list',
    check: '{"kind": "geolocation", "action": "allow", "countries": ["DE"]}',
    publicIp: '8.8.8.8',
    passed: false,
    reason: /could not be determined/,
  },
  {
    name: 'no public address seen',
    check: '{"kind": "geolocation", "action": "deny", "countries": ["RU"]}',
    publicIp: null,
    passed: false,
    reason: /reconnect/,
  },
  {
    name: 'no database fails closed',
    check: '{"kind": "geolocation", "action": "deny", "countries": ["RU"]}',
    publicIp: '192.0.2.1',
    noGeo: true,
    passed: false,
    reason: /administrator/,
  },
  // local-network
  {
    name: 'on the office network',
    check: '{"kind": "local-network", "action": "allow", "ranges": ["192.168.10.0/24"]}',
    info: { posture: { runningProcesses: [], localNetworks: ['192.168.10.0/24', '10.9.0.0/16'] } },
    passed: true,
  },
  {
    name: 'not on the office network',
    check: '{"kind": "local-network", "action": "allow", "ranges": ["192.168.10.0/24"]}',
    info: { posture: { runningProcesses: [], localNetworks: ['10.9.0.0/16'] } },
    passed: false,
    reason:
      /^Connect to one of these networks: 192\.168\.10\.0\/24 \(this device is on 10\.9\.0\.0\/16\)\.$/,
  },
  {
    name: 'on a denied network',
    check: '{"kind": "local-network", "action": "deny", "ranges": ["172.16.0.0/12"]}',
    info: { posture: { runningProcesses: [], localNetworks: ['172.20.1.0/24'] } },
    passed: false,
    reason: /^Disconnect from 172\.20\.1\.0\/24/,
  },
  {
    name: 'no local networks, deny-list',
    check: '{"kind": "local-network", "action": "deny", "ranges": ["172.16.0.0/12"]}',
    info: { posture: { runningProcesses: [], localNetworks: [] } },
    passed: true,
  },
  // process
  {
    name: 'required process running',
    check:
      '{"kind": "process", "processes": [{"linux": "/opt/edr/agent", "windows": "C:\\\\EDR\\\\agent.exe"}]}',
    info: { os: 'linux', posture: { runningProcesses: ['/opt/edr/agent'], localNetworks: [] } },
    passed: true,
  },
  {
    name: 'required process missing',
    check: '{"kind": "process", "processes": [{"linux": "/opt/edr/agent"}]}',
    info: { os: 'linux', posture: { runningProcesses: ['/usr/bin/other'], localNetworks: [] } },
    passed: false,
    reason: /^Start \/opt\/edr\/agent \(it is not running\)\.$/,
  },
  {
    name: 'windows paths compare case-insensitively',
    check: '{"kind": "process", "processes": [{"windows": "C:\\\\EDR\\\\agent.exe"}]}',
    info: {
      os: 'windows',
      osVersion: '10.0.22631',
      posture: { runningProcesses: ['c:\\edr\\AGENT.exe'], localNetworks: [] },
    },
    passed: true,
  },
  {
    name: 'no path for this OS',
    check: '{"kind": "process", "processes": [{"windows": "C:\\\\EDR\\\\agent.exe"}]}',
    info: { os: 'macos', osVersion: '14.0' },
    passed: false,
    reason: /no macOS version/,
  },
];

describe('posture checks', () => {
  it.each(CASES)('$name', (c) => {
    const facts: DeviceFacts = {
      hostInfo: c.info === null ? null : hostInfo(c.info ?? {}),
      publicIp: c.publicIp ?? null,
    };
    const ev = evaluatePostures(posture(c.check), facts, c.noGeo ? null : geo);
    expect(ev.results).toHaveLength(1);
    const r = ev.results[0];
    expect(PostureResult.safeParse(r).success).toBe(true);
    expect(r?.passed).toBe(c.passed);
    expect(ev.passed.has('posture:p')).toBe(c.passed);
    if (c.passed) expect(r?.reason).toBeNull();
    else expect(r?.reason).toMatch(c.reason ?? /./);
  });

  it('a posture passes only when all its checks pass, and names each result', () => {
    const p = mustParse(`{"postures": {
      "posture:a": [{"kind": "min-client-version", "version": "1.0.0"}],
      "posture:b": [
        {"kind": "min-client-version", "version": "1.0.0"},
        {"kind": "min-client-version", "name": "latest", "version": "9.0.0"},
      ],
    }}`);
    const ev = evaluatePostures(
      p,
      { hostInfo: hostInfo({ clientVersion: '1.4.0' }), publicIp: null },
      null,
    );
    expect(ev.results.map((r) => [r.check, r.kind, r.passed])).toEqual([
      ['posture:a/min-client-version', 'min-client-version', true],
      ['posture:b/min-client-version', 'min-client-version', true],
      ['posture:b/latest', 'min-client-version', false],
    ]);
    expect([...ev.passed]).toEqual(['posture:a']);
  });

  it('keeps long reasons within the wire bound', () => {
    const long = `/opt/${'x'.repeat(3000)}`;
    const p = mustParse(
      `{"postures": {"posture:a": [{"kind": "process", "processes": [{"linux": ${JSON.stringify(long)}}]}]}}`,
    );
    const ev = evaluatePostures(p, { hostInfo: hostInfo(), publicIp: null }, null);
    expect(PostureResult.safeParse(ev.results[0]).success).toBe(true);
  });

  it('asks devices only about the process paths checks name', () => {
    const p = mustParse(`{"postures": {
      "posture:a": [{"kind": "process", "processes": [{"linux": "/a", "macos": "/b"}, {"linux": "/a"}]}],
      "posture:b": [{"kind": "min-client-version", "version": "1.0.0"}],
    }}`);
    expect(postureQueries(p)).toEqual({ processPaths: ['/a', '/b'] });
  });
});
