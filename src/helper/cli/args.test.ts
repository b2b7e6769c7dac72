import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand, parseDuration, parseExitNode } from './args.js';

const ok = (argv: string[]) => {
  const r = parseCommand(argv);
  if (!r.ok) throw new Error(`expected ${argv.join(' ')} to parse: ${r.error.message}`);
  return r.value;
};
const bad = (argv: string[]) => {
  const r = parseCommand(argv);
  if (r.ok) throw new Error(`expected ${argv.join(' ')} to be refused`);
  return r.error.message;
};

describe('parseCommand', () => {
  it('parses up with login flags, prefs flags and a timeout', () => {
    expect(
      ok([
        'up',
        '--control-url',
        'http://127.0.0.1:8080',
        '--auth-key',
        'tr_auth_x',
        '--hostname',
        'box',
        '--accept-routes',
        '--advertise-routes',
        '10.1.0.0/16, 10.2.0.0/16',
        '--timeout',
        '2m',
      ]),
    ).toEqual({
      cmd: 'up',
      socket: null,
      controlUrl: 'http://127.0.0.1:8080',
      authKey: 'tr_auth_x',
      hostname: 'box',
      prefs: { acceptRoutes: true, advertiseRoutes: ['10.1.0.0/16', '10.2.0.0/16'] },
      timeoutMs: 120_000,
    });
    expect(ok(['up'])).toEqual({ cmd: 'up', socket: null, prefs: {}, timeoutMs: null });
    expect(ok(['up', '--hostname='])).toMatchObject({ prefs: { hostname: null } });
  });

  it('takes boolean settings bare or as =true/=false', () => {
    expect(
      ok([
        'set',
        '--accept-routes=false',
        '--block-incoming',
        '--accept-dns=no',
        '--exit-node-allow-lan-access=1',
        '--advertise-exit-node',
      ]),
    ).toEqual({
      cmd: 'set',
      socket: null,
      prefs: {
        acceptRoutes: false,
        blockIncoming: true,
        acceptDNS: false,
        exitNodeAllowLAN: true,
        advertiseExitNode: true,
      },
    });
    expect(bad(['set', '--accept-routes=maybe'])).toMatch(/--accept-routes takes true or false/);
  });

  it('parses exit node selectors', () => {
    expect(ok(['set', '--exit-node', 'auto'])).toMatchObject({
      prefs: { exitNode: { type: 'auto' } },
    });
    expect(ok(['set', '--exit-node='])).toMatchObject({ prefs: { exitNode: null } });
    expect(parseExitNode('100.64.0.7')).toEqual({ type: 'address', address: '100.64.0.7' });
    expect(parseExitNode('FD7A::1')).toEqual({ type: 'address', address: 'fd7a::1' });
    expect(parseExitNode('Exit-1.acme.trellis.')).toEqual({
      type: 'name',
      name: 'exit-1.acme.trellis',
    });
  });

  it('parses exit-node list and suggest, and the short LAN access flag', () => {
    expect(ok(['exit-node', 'list'])).toEqual({
      cmd: 'exit-node',
      socket: null,
      action: 'list',
      json: false,
    });
    expect(ok(['exit-node', 'suggest', '--json'])).toMatchObject({ action: 'suggest', json: true });
    expect(bad(['exit-node'])).toMatch(/list.*suggest/);
    expect(bad(['exit-node', 'use', 'x'])).toMatch(/list.*suggest/);
    expect(bad(['exit-node', 'list', 'extra'])).toMatch(/takes no arguments/);
    expect(ok(['set', '--exit-node', 'exit-1', '--exit-node-allow-lan'])).toMatchObject({
      prefs: { exitNode: { type: 'name', name: 'exit-1' }, exitNodeAllowLAN: true },
    });
  });

  it('refuses routes that are not prefixes, naming the one meant', () => {
    expect(bad(['set', '--advertise-routes', '10.1.2.3/16'])).toMatch(
      /did you mean 10\.1\.0\.0\/16/,
    );
    expect(bad(['set', '--advertise-routes', 'nope'])).toMatch(/advertise-routes/);
    expect(ok(['set', '--advertise-routes='])).toMatchObject({ prefs: { advertiseRoutes: [] } });
  });

  it('parses status, ip, ping, version and netcheck', () => {
    expect(ok(['status', '--json'])).toEqual({ cmd: 'status', socket: null, json: true });
    expect(ok(['ip', '-4'])).toEqual({ cmd: 'ip', socket: null, family: 4, peer: null });
    expect(ok(['ip', '-6', 'peer-1'])).toEqual({
      cmd: 'ip',
      socket: null,
      family: 6,
      peer: 'peer-1',
    });
    expect(ok(['ping', 'peer-1', '-c', '3', '--timeout', '500ms'])).toEqual({
      cmd: 'ping',
      socket: null,
      peer: 'peer-1',
      count: 3,
      timeoutMs: 500,
    });
    expect(ok(['ping', 'peer-1'])).toMatchObject({ count: 4, timeoutMs: 2000 });
    expect(ok(['version'])).toEqual({ cmd: 'version', socket: null, json: false });
    expect(ok(['netcheck', '--socket', '/tmp/x.sock'])).toEqual({
      cmd: 'netcheck',
      socket: '/tmp/x.sock',
      json: false,
    });
    expect(ok(['down'])).toEqual({ cmd: 'down', socket: null });
    expect(ok(['logout'])).toEqual({ cmd: 'logout', socket: null });
    expect(ok(['login', '--auth-key', 'k'])).toEqual({
      cmd: 'login',
      socket: null,
      authKey: 'k',
      timeoutMs: null,
    });
  });

  it('refuses mistakes with one clear line', () => {
    expect(bad(['frobnicate'])).toBe('unknown command "frobnicate"');
    expect(bad(['status', '--bogus'])).toMatch(/bogus/);
    expect(bad(['ping'])).toMatch(/exactly one peer/);
    expect(bad(['ping', 'a', '-c', '0'])).toMatch(/1 to 100/);
    expect(bad(['ping', 'a', '-c', '1.5'])).toMatch(/whole number/);
    expect(bad(['ping', 'a', '--timeout', '60s'])).toMatch(/between 100ms and 30s/);
    expect(bad(['ip', '-4', '-6'])).toMatch(/not both/);
    expect(bad(['set'])).toMatch(/at least one setting/);
    expect(bad(['down', 'now'])).toMatch(/takes no arguments/);
    expect(bad(['up', '--timeout', 'soon'])).toMatch(/not a duration/);
  });

  it('shows help for no command, -h, and per command', () => {
    expect(ok([])).toEqual({ cmd: 'help', topic: null, socket: null });
    expect(ok(['--help'])).toMatchObject({ cmd: 'help' });
    expect(ok(['up', '-h'])).toEqual({ cmd: 'help', topic: 'up', socket: null });
    expect(ok(['help', 'ping'])).toEqual({ cmd: 'help', topic: 'ping', socket: null });
  });

  it('never throws on arbitrary argument lists', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.constantFrom(
              'up',
              'set',
              'ping',
              '--accept-routes',
              '-c',
              '--socket',
              '--exit-node',
              '-4',
            ),
          ),
          { maxLength: 8 },
        ),
        (argv) => {
          const r = parseCommand(argv);
          return r.ok || typeof r.error.message === 'string';
        },
      ),
    );
  });
});

describe('parseDuration', () => {
  it('reads units and bare seconds', () => {
    expect(parseDuration('250ms')).toEqual({ ok: true, value: 250 });
    expect(parseDuration('1.5s')).toEqual({ ok: true, value: 1500 });
    expect(parseDuration('2m')).toEqual({ ok: true, value: 120_000 });
    expect(parseDuration('1h')).toEqual({ ok: true, value: 3_600_000 });
    expect(parseDuration('10')).toEqual({ ok: true, value: 10_000 });
    expect(parseDuration('-1s').ok).toBe(false);
  });
});
