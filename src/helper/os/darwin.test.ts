/**
 * macOS cannot run here: these tests check the ifconfig, route, pfctl and scutil commands the
 * macOS configurator generates, and the iproute2 translation for wireguard-go, with a
 * recording exec in place of the real tools.
 */
import { describe, expect, it } from 'vitest';
import { ExecError, type Exec, type ExecOptions } from '../exec.js';
import { IpCommand } from './iproute.js';
import {
  darwinCommandSet,
  darwinDnsCommand,
  darwinIpExec,
  darwinPfRules,
  darwinTunName,
  DarwinOsConfigurator,
  linkFromIfconfig,
  parsePfToken,
  parseScutilKeys,
} from './darwin.js';

interface Call {
  command: string;
  args: string[];
  input?: string;
}

function recorder(respond: (c: Call) => string = () => '') {
  const calls: Call[] = [];
  const exec: Exec = async (command, args, options?: ExecOptions) => {
    const c: Call = {
      command,
      args: [...args],
      ...(options?.input ? { input: options.input } : {}),
    };
    calls.push(c);
    return { stdout: respond(c), stderr: '' };
  };
  return { calls, exec };
}

const line = (c: { command: string; args: readonly string[] }) => [c.command, ...c.args].join(' ');

describe('utun naming', () => {
  it('picks the first free utun index', () => {
    expect(darwinTunName(['lo0', 'en0'])).toBe('utun0');
    expect(darwinTunName(['lo0', 'utun0', 'utun1', 'utun3'])).toBe('utun2');
  });

  it('refuses names that are not utunN', () => {
    expect(() => darwinCommandSet('trellis0')).toThrow(/utunN/);
  });
});

describe('ifconfig and route commands (generated; macOS cannot run here)', () => {
  const cmds = darwinCommandSet('utun4');
  it('sets point-to-point IPv4 aliases, IPv6 with a prefix length, MTU and routes', () => {
    expect(line(cmds.address('add', '100.64.0.5/32'))).toBe(
      'ifconfig utun4 inet 100.64.0.5 100.64.0.5 netmask 255.255.255.255 alias',
    );
    expect(line(cmds.address('add', 'fd7a::5/128'))).toBe(
      'ifconfig utun4 inet6 fd7a::5 prefixlen 128 alias',
    );
    expect(line(cmds.address('delete', '100.64.0.5/32'))).toBe(
      'ifconfig utun4 inet 100.64.0.5 -alias',
    );
    expect(cmds.mtu(1280).map(line)).toEqual(['ifconfig utun4 mtu 1280 up']);
    expect(line(cmds.route('add', '100.64.0.0/10'))).toBe(
      'route -q -n add -inet 100.64.0.0/10 -interface utun4',
    );
    expect(line(cmds.route('delete', 'fd7a::/48'))).toBe(
      'route -q -n delete -inet6 fd7a::/48 -interface utun4',
    );
  });
});

describe('pf rules for the inbound filter', () => {
  it('blocks the tunnel and passes what the policy allows', () => {
    const rules = darwinPfRules('utun4', {
      blockIncoming: false,
      rules: [
        {
          srcs: ['100.64.0.2/32', '100.64.0.3/32', 'fd7a::2/128'],
          dsts: [
            { cidr: '100.64.0.5/32', ports: { first: 22, last: 22 } },
            { cidr: 'fd7a::5/128', ports: { first: 8000, last: 8100 } },
          ],
          protos: ['tcp', 'icmp'],
        },
      ],
    });
    expect(rules.trim().split('\n')).toEqual([
      'block drop in on utun4 all',
      'pass in on utun4 inet proto tcp from { 100.64.0.2/32, 100.64.0.3/32 } to 100.64.0.5/32 port 22 keep state',
      'pass in on utun4 inet proto icmp from { 100.64.0.2/32, 100.64.0.3/32 } to 100.64.0.5/32 keep state',
      'pass in on utun4 inet6 proto tcp from fd7a::2/128 to fd7a::5/128 port 8000:8100 keep state',
      'pass in on utun4 inet6 proto icmp6 from fd7a::2/128 to fd7a::5/128 keep state',
    ]);
    expect(darwinPfRules('utun4', { blockIncoming: true, rules: [] }).trim()).toBe(
      'block drop in on utun4 all',
    );
  });

  it('reads pfctl -E tokens', () => {
    expect(
      parsePfToken('No ALTQ support in kernel\npf enabled\nToken : 13835058055282163712\n'),
    ).toBe('13835058055282163712');
    expect(parsePfToken('pf enabled')).toBeNull();
  });
});

describe('scutil DNS', () => {
  it('sets one supplemental resolver for the match domains, removing stale keys first', () => {
    const c = darwinDnsCommand(
      {
        nameservers: ['100.100.100.100'],
        searchDomains: ['acme.trellis'],
        matchDomains: ['acme.trellis.', 'corp.example.com'],
        defaultRoute: true,
      },
      ['State:/Network/Service/com.trellis.dns-3/DNS'],
    );
    expect(c.command).toBe('scutil');
    expect(c.input?.split('\n')).toEqual([
      'open',
      'remove State:/Network/Service/com.trellis.dns-3/DNS',
      'd.init',
      'd.add ServerAddresses * 100.100.100.100',
      'd.add SupplementalMatchDomains * acme.trellis corp.example.com',
      'd.add SearchDomains * acme.trellis',
      'set State:/Network/Service/com.trellis.dns-0/DNS',
      'quit',
      '',
    ]);
  });

  it('parses the keys scutil lists', () => {
    expect(
      parseScutilKeys(
        'subKey [0] = State:/Network/Service/com.trellis.dns-0/DNS\n  subKey [1] = State:/Network/Service/other/DNS\n',
      ),
    ).toEqual(['State:/Network/Service/com.trellis.dns-0/DNS']);
  });
});

describe('DarwinOsConfigurator (recording exec; macOS cannot run here)', () => {
  it('applies addresses, routes, pf and DNS, then tears them all down', async () => {
    const r = recorder((c) =>
      c.command === 'pfctl' && c.args[0] === '-E'
        ? 'Token : 42'
        : c.command === 'scutil' && c.input?.includes('list')
          ? '  subKey [0] = State:/Network/Service/com.trellis.dns-0/DNS\n'
          : '',
    );
    const os = new DarwinOsConfigurator({ interfaceName: 'utun4', exec: r.exec });
    await os.apply({
      interfaceName: 'utun4',
      addresses: ['100.64.0.5/32'],
      mtu: 1280,
      routes: ['100.64.0.0/10'],
      filter: { blockIncoming: false, rules: [] },
      dns: {
        nameservers: ['100.100.100.100'],
        searchDomains: [],
        matchDomains: ['acme.trellis'],
        defaultRoute: false,
      },
    });
    expect(r.calls.map(line)).toEqual([
      'ifconfig utun4 mtu 1280 up',
      'ifconfig utun4 inet 100.64.0.5 100.64.0.5 netmask 255.255.255.255 alias',
      'route -q -n add -inet 100.64.0.0/10 -interface utun4',
      'pfctl -a com.apple/trellis -f -',
      'pfctl -E',
      'scutil',
      'scutil',
    ]);
    r.calls.length = 0;
    await os.teardown();
    expect(r.calls.map(line)).toEqual([
      'ifconfig utun4 inet 100.64.0.5 -alias',
      'route -q -n delete -inet 100.64.0.0/10 -interface utun4',
      'pfctl -a com.apple/trellis -F all',
      'pfctl -X 42',
      'scutil',
      'scutil',
    ]);
    expect(r.calls.at(-1)?.input).toContain('remove State:/Network/Service/com.trellis.dns-0/DNS');
  });
});

describe('iproute2 for wireguard-go on macOS', () => {
  it('reads a utun from ifconfig -v', () => {
    expect(
      linkFromIfconfig(
        'utun4: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1380 index 21\n\teflags=5002080<TXSTART>\n',
      ),
    ).toEqual({
      ifindex: 21,
      ifname: 'utun4',
      mtu: 1380,
      flags: ['UP', 'POINTOPOINT', 'RUNNING', 'MULTICAST'],
      linkinfo: { info_kind: 'tun' },
    });
  });

  it("answers wireguard-go's ip calls with ifconfig and the socket file", async () => {
    const r = recorder((c) =>
      c.command === 'ifconfig' && c.args[0] === '-v'
        ? 'utun4: flags=8051<UP,POINTOPOINT,RUNNING> mtu 1420 index 9\n'
        : '',
    );
    const removed: string[] = [];
    const ip = new IpCommand(darwinIpExec(r.exec, (p) => removed.push(p)));
    expect(await ip.link('utun4')).toMatchObject({ ifindex: 9, ifname: 'utun4', mtu: 1420 });
    await ip.setMtu('utun4', 1280);
    expect(await ip.deleteLink('utun4')).toBe(true);
    expect(r.calls.map(line)).toEqual(['ifconfig -v utun4', 'ifconfig utun4 mtu 1280']);
    expect(removed).toEqual(['/var/run/wireguard/utun4.sock']);
    await expect(r.exec('wg', ['show'])).resolves.toBeDefined(); // other tools pass through
  });

  it('reports a missing interface the way ip does, so callers see "not found"', async () => {
    const missing: Exec = async (command, args) => {
      throw new ExecError(
        'exit_status',
        command,
        args,
        1,
        null,
        'ifconfig: interface utun9 does not exist',
      );
    };
    const ip = new IpCommand(darwinIpExec(missing, () => undefined));
    expect(await ip.link('utun9')).toBeNull();
    const gone = new IpCommand(
      darwinIpExec(missing, () => {
        throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      }),
    );
    expect(await gone.deleteLink('utun9')).toBe(false);
  });
});
