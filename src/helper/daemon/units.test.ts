import { describe, expect, it } from 'vitest';
import { ExecError } from '../exec.js';
import { parseTrellisdFlags, trellisdUsage } from './flags.js';
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
    expect(parseTrellisdFlags([], 'linux')).toEqual({
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
        fastPath: 'auto',
        stopOnStdinClose: false,
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
      '--stop-on-stdin-close',
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
        fastPath: 'off',
        stopOnStdinClose: true,
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
    expect(msg(['--fast-path', 'fast'])).toMatch(/--fast-path/);
    expect(msg(['--fast-path', 'on', '--magicsock', 'off'])).toMatch(/--fast-path on/);
    const fast = parseTrellisdFlags(['--fast-path', 'on'], 'linux');
    expect(fast.ok && fast.value !== 'help' && fast.value.fastPath).toBe('on');
    const forced = parseTrellisdFlags(['--magicsock', 'off']);
    expect(forced.ok && forced.value !== 'help' && forced.value.magicsock).toBe(false);
    expect(parseTrellisdFlags(['--help'])).toEqual({ ok: true, value: 'help' });
  });

  it('takes the LocalAPI endpoint for the platform: a named pipe on Windows, a path elsewhere', () => {
    const socketOf = (argv: string[], platform: string) => {
      const r = parseTrellisdFlags(argv, platform);
      return r.ok && r.value !== 'help' ? r.value.socket : `error: ${r.ok ? '' : r.error}`;
    };
    expect(socketOf([], 'darwin')).toBe('/var/run/trellis/trellisd.sock');
    expect(socketOf([], 'freebsd')).toBe('/run/trellis/trellisd.sock');
    const pipe = '\\\\.\\pipe\\ProtectedPrefix\\Administrators\\Trellis\\trellisd';
    expect(socketOf([], 'win32')).toBe(pipe);
    // As the Windows service passes them (packaging/windows/install-service.ps1): no --socket.
    const win = parseTrellisdFlags(
      ['--state-dir', 'C:\\ProgramData\\Trellis\\state', '--stop-on-stdin-close'],
      'win32',
    );
    expect(
      win.ok &&
        win.value !== 'help' && [win.value.stateDir, win.value.socket, win.value.stopOnStdinClose],
    ).toEqual(['C:\\ProgramData\\Trellis\\state', pipe, true]);
    // Another pipe, outside the protected prefix, is accepted when asked for.
    const plain = '\\\\.\\pipe\\trellisd';
    expect(socketOf(['--socket', plain, '--state-dir', 'C:\\s'], 'win32')).toBe(plain);

    for (const bad of [
      '/run/trellis/trellisd.sock',
      '\\\\.\\pipe\\',
      '\\\\.\\pipe\\two words',
      '\\\\.\\pipe\\a\\\\b',
      '\\\\server\\pipe\\trellisd',
      `\\\\.\\pipe\\${'x'.repeat(250)}`,
    ]) {
      expect(socketOf(['--socket', bad, '--state-dir', 'C:\\s'], 'win32'), bad).toMatch(
        /^error: --socket must be a named pipe, \\\\\.\\pipe\\NAME/,
      );
    }
    expect(socketOf(['--socket', '\\\\.\\pipe\\trellisd'], 'linux')).toBe(
      'error: --socket must be an absolute path',
    );
    expect(socketOf(['--state-dir', 'Trellis\\state'], 'win32')).toMatch(/--state-dir/);
    expect(socketOf(['--state-dir', 'C:\\s', '--socket-group', 'trellis'], 'win32')).toMatch(
      /--socket-group does not apply on Windows/,
    );
  });

  it("shows the platform's default endpoint in its usage", () => {
    expect(trellisdUsage('win32')).toContain(
      '(default \\\\.\\pipe\\ProtectedPrefix\\Administrators\\Trellis\\trellisd)',
    );
    expect(trellisdUsage('darwin')).toContain('(default /var/run/trellis/trellisd.sock)');
    expect(trellisdUsage('linux')).toContain('(default /run/trellis/trellisd.sock)');
  });
});
