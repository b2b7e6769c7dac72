import { describe, expect, it } from 'vitest';
import { ExecError } from '../exec.js';
import { parseTrellisdFlags } from './flags.js';
import { parsePingRtt, SystemPinger } from './ping.js';

describe('ping', () => {
  it('parses the round-trip time from iputils output', () => {
    expect(parsePingRtt('64 bytes from 100.64.0.2: icmp_seq=1 ttl=64 time=0.532 ms\n')).toBe(0.532);
    expect(parsePingRtt('64 bytes from fd7a::2: icmp_seq=1 ttl=64 time=12 ms')).toBe(12);
    expect(parsePingRtt('1 packets transmitted, 0 received, 100% packet loss')).toBeNull();
  });

  it('runs one echo with a whole-second wait, inside the namespace when asked, and maps "no reply" to null', async () => {
    const calls: string[][] = [];
    const pinger = new SystemPinger({
      netns: 'lab-dev1',
      exec: async (cmd, args) => {
        calls.push([cmd, ...args]);
        if (args.includes('100.64.0.9')) throw new ExecError('exit_status', cmd, args, 1, null, '');
        return { stdout: 'time=1.25 ms', stderr: '' };
      },
    });
    expect(await pinger.ping('100.64.0.2', 1500)).toBe(1.25);
    expect(calls[0]).toEqual([
      'ip',
      'netns',
      'exec',
      'lab-dev1',
      'ping',
      '-n',
      '-c',
      '1',
      '-W',
      '2',
      '100.64.0.2',
    ]);
    expect(await pinger.ping('100.64.0.9', 200)).toBeNull();
  });
});

describe('parseTrellisdFlags', () => {
  it('has defaults for everything', () => {
    expect(parseTrellisdFlags([])).toEqual({
      ok: true,
      value: {
        stateDir: '/var/lib/trellis',
        socket: '/run/trellis/trellisd.sock',
        socketGroup: null,
        controlUrl: 'http://127.0.0.1:8080',
        tunName: 'trellis0',
        backend: 'auto',
        logLevel: 'info',
        port: 41641,
        magicsock: true,
        mtu: 1280,
        netns: null,
      },
    });
  });

  it('takes every path and name from flags (for namespaces and tests)', () => {
    const r = parseTrellisdFlags([
      '--state-dir',
      '/tmp/s',
      '--socket',
      '/tmp/s/d.sock',
      '--socket-group',
      'wheel',
      '--control-url',
      'https://c.example.com',
      '--tun-name',
      'lab1wg',
      '--backend',
      'wireguard-go',
      '--log-level',
      'debug',
      '--port',
      '0',
      '--mtu',
      '1420',
      '--netns',
      'lab-dev1',
    ]);
    expect(r).toEqual({
      ok: true,
      value: {
        stateDir: '/tmp/s',
        socket: '/tmp/s/d.sock',
        socketGroup: 'wheel',
        controlUrl: 'https://c.example.com',
        tunName: 'lab1wg',
        backend: 'wireguard-go',
        logLevel: 'debug',
        port: 0,
        magicsock: false,
        mtu: 1420,
        netns: 'lab-dev1',
      },
    });
  });

  it('refuses bad values with a message naming the flag', () => {
    const msg = (argv: string[]) => {
      const r = parseTrellisdFlags(argv);
      return r.ok ? '' : r.error;
    };
    expect(msg(['--backend', 'fake'])).toMatch(/--backend/);
    expect(msg(['--tun-name', 'this-name-is-far-too-long'])).toMatch(/--tun-name/);
    expect(msg(['--control-url', 'ftp://x'])).toMatch(/--control-url/);
    expect(msg(['--port', '70000'])).toMatch(/--port/);
    expect(msg(['--mtu', '500'])).toMatch(/--mtu/);
    expect(msg(['--socket', 'relative.sock'])).toMatch(/absolute/);
    expect(msg(['--log-level', 'loud'])).toMatch(/--log-level/);
    expect(msg(['--what'])).toMatch(/what/);
    expect(msg(['--magicsock', 'maybe'])).toMatch(/--magicsock/);
    expect(msg(['--magicsock', 'on', '--netns', 'x'])).toMatch(/--netns/);
    const forced = parseTrellisdFlags(['--magicsock', 'off']);
    expect(forced.ok && forced.value !== 'help' && forced.value.magicsock).toBe(false);
    expect(parseTrellisdFlags(['--help'])).toEqual({ ok: true, value: 'help' });
  });
});
