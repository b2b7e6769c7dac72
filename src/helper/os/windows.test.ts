/**
 * Windows cannot run here: these tests check the netsh and PowerShell commands the Windows
 * configurator generates, with a recording exec in place of the real tools.
 */
import { describe, expect, it } from 'vitest';
import type { Exec } from '../exec.js';
import { ExecError } from '../exec.js';
import type { OsNetworkConfig } from './types.js';
import {
  netshAddressCommand,
  netshRouteCommand,
  planOsSteps,
  netshCommandSet,
  psQuote,
  windowsDnsCommand,
  windowsFirewallCommand,
  windowsFirewallRules,
  WindowsOsConfigurator,
} from './windows.js';

interface Call {
  command: string;
  args: string[];
}

function recorder(fail?: (c: Call) => boolean) {
  const calls: Call[] = [];
  const exec: Exec = async (command, args) => {
    const c = { command, args: [...args] };
    calls.push(c);
    if (fail?.(c))
      throw new ExecError('exit_status', command, args, 1, null, 'The object already exists.');
    return { stdout: '', stderr: '' };
  };
  return { calls, exec };
}

const line = (c: Call) => [c.command, ...c.args].join(' ');
const script = (c: Call) => c.args.at(-1) ?? '';

const base: OsNetworkConfig = {
  interfaceName: 'trellis0',
  addresses: ['100.64.0.5/32', 'fd7a:115c:a1e0::5/128'],
  mtu: 1280,
  routes: ['100.64.0.0/10', 'fd7a:115c:a1e0::/48'],
};

describe('netsh commands (generated; Windows cannot run here)', () => {
  it('adds IPv4 addresses with a mask and IPv6 with a prefix length, active store only', () => {
    const v4 = netshAddressCommand('add', 'trellis0', '100.64.0.5/32');
    expect(line({ command: v4.command, args: [...v4.args] })).toBe(
      'netsh interface ipv4 add address name=trellis0 address=100.64.0.5 mask=255.255.255.255 store=active',
    );
    expect(netshAddressCommand('add', 'trellis0', 'fd7a::5/128').args).toEqual([
      'interface',
      'ipv6',
      'add',
      'address',
      'interface=trellis0',
      'address=fd7a::5/128',
      'store=active',
    ]);
    expect(netshAddressCommand('delete', 'trellis0', '100.64.0.5/32').args).toEqual([
      'interface',
      'ipv4',
      'delete',
      'address',
      'name=trellis0',
      'address=100.64.0.5',
    ]);
    expect(netshRouteCommand('add', 'trellis0', '10.1.0.0/16').args).toEqual([
      'interface',
      'ipv4',
      'add',
      'route',
      'prefix=10.1.0.0/16',
      'interface=trellis0',
      'store=active',
    ]);
  });

  it('refuses names and values that are not what they claim to be', () => {
    expect(() => netshAddressCommand('add', 'bad name', '100.64.0.5/32')).toThrow(/interface name/);
    expect(() => netshRouteCommand('add', 'trellis0', '10.1.0.0/16 store=persistent')).toThrow(
      /prefix/,
    );
  });

  it('plans MTU first, then adds before removals', () => {
    const steps = planOsSteps(
      netshCommandSet('trellis0'),
      { addresses: ['100.64.0.4/32'], routes: [], mtu: 1280 },
      { addresses: ['100.64.0.5/32'], routes: ['10.0.0.0/8'], mtu: 1400 },
    ).map((s) => s.command.args.slice(1, 4).join(' '));
    expect(steps).toEqual([
      'ipv4 set subinterface',
      'ipv6 set subinterface',
      'ipv4 add address',
      'ipv4 delete address',
      'ipv4 add route',
    ]);
  });
});

describe('DNS and firewall scripts (generated; Windows cannot run here)', () => {
  it('routes match domains through NRPT and sets the adapter suffix', () => {
    const c = windowsDnsCommand('trellis0', {
      nameservers: ['100.100.100.100'],
      searchDomains: ['acme.trellis'],
      matchDomains: ['acme.trellis', 'corp.example.com'],
      defaultRoute: false,
    });
    expect(c.command).toBe('powershell.exe');
    const s = script({ command: c.command, args: [...c.args] });
    expect(s).toContain(
      "Get-DnsClientNrptRule | Where-Object { $_.Comment -eq 'Trellis' } | Remove-DnsClientNrptRule -Force",
    );
    expect(s).toContain(
      "Add-DnsClientNrptRule -Namespace 'acme.trellis','.acme.trellis' -NameServers '100.100.100.100' -Comment 'Trellis'",
    );
    expect(s).toContain("-Namespace 'corp.example.com','.corp.example.com'");
    expect(s).not.toContain("-Namespace '.'");
    expect(s).toContain(
      "Set-DnsClientServerAddress -InterfaceAlias 'trellis0' -ResetServerAddresses",
    );
    expect(s).toContain(
      "Set-DnsClient -InterfaceAlias 'trellis0' -ConnectionSpecificSuffix 'acme.trellis'",
    );
    const all = windowsDnsCommand('trellis0', {
      nameservers: ['100.100.100.100'],
      searchDomains: [],
      matchDomains: [],
      defaultRoute: true,
    });
    expect(all.args.at(-1)).toContain(
      "Add-DnsClientNrptRule -Namespace '.' -NameServers '100.100.100.100'",
    );
  });

  it('quotes PowerShell literals', () => {
    expect(psQuote("it's")).toBe("'it''s'");
  });

  it('turns the packet filter into interface-scoped allow rules with stable names', () => {
    const filter = {
      blockIncoming: false,
      rules: [
        {
          srcs: ['100.64.0.2/32', 'fd7a::2/128'],
          dsts: [
            { cidr: '100.64.0.5/32', ports: { first: 22, last: 22 } },
            { cidr: 'fd7a::5/128', ports: { first: 22, last: 22 } },
          ],
          protos: ['tcp' as const, 'icmp' as const],
        },
        {
          srcs: ['0.0.0.0/0'],
          dsts: [{ cidr: '0.0.0.0/0', ports: { first: 0, last: 65535 } }],
          protos: ['any' as const],
        },
      ],
    };
    const rules = windowsFirewallRules('trellis0', filter);
    expect(
      rules
        .map((r) => [
          r.protocol,
          r.remoteAddresses.join(','),
          r.localAddresses.join(','),
          r.localPorts.join(','),
        ])
        .sort(),
    ).toEqual(
      [
        ['TCP', '100.64.0.2/32', '100.64.0.5/32', '22'],
        ['ICMPv4', '100.64.0.2/32', '100.64.0.5/32', ''],
        ['TCP', 'fd7a::2/128', 'fd7a::5/128', '22'],
        ['ICMPv6', 'fd7a::2/128', 'fd7a::5/128', ''],
        ['Any', '', '', ''],
      ].sort(),
    );
    expect(windowsFirewallRules('trellis0', filter).map((r) => r.name)).toEqual(
      rules.map((r) => r.name),
    );
    expect(windowsFirewallRules('trellis0', { ...filter, blockIncoming: true })).toEqual([]);

    const add = windowsFirewallCommand('trellis0', [], rules);
    expect(add?.args.at(-1)).toContain(
      "-Group 'Trellis' -Direction Inbound -Action Allow -InterfaceAlias 'trellis0' -Protocol TCP -RemoteAddress '100.64.0.2/32' -LocalAddress '100.64.0.5/32' -LocalPort '22'",
    );
    expect(windowsFirewallCommand('trellis0', rules, rules)).toBeNull();
    const drop = windowsFirewallCommand('trellis0', rules, rules.slice(1));
    expect(drop?.args.at(-1)).toContain(`Remove-NetFirewallRule -Name '${rules[0]?.name}'`);
    expect(drop?.args.at(-1)).not.toContain('New-NetFirewallRule');
  });
});

describe('WindowsOsConfigurator (recording exec; Windows cannot run here)', () => {
  it('applies diffs, and after a failed step repeats only what did not happen', async () => {
    let failRoute = true;
    const r = recorder((c) => failRoute && c.args.includes('route') && c.args.includes('add'));
    const os = new WindowsOsConfigurator({ interfaceName: 'trellis0', exec: r.exec });
    await expect(os.apply(base)).rejects.toMatchObject({
      name: 'OsConfigError',
      code: 'command_failed',
    });
    const first = r.calls.map(line);
    expect(first.filter((l) => l.includes('add address'))).toHaveLength(2);
    failRoute = false;
    r.calls.length = 0;
    await os.apply(base);
    // Addresses and MTU made it the first time; only routes (and firewall/DNS cleanup) follow.
    expect(r.calls.map(line).filter((l) => l.startsWith('netsh'))).toEqual([
      'netsh interface ipv4 add route prefix=100.64.0.0/10 interface=trellis0 store=active',
      'netsh interface ipv6 add route prefix=fd7a:115c:a1e0::/48 interface=trellis0 store=active',
    ]);
    r.calls.length = 0;
    await os.apply(base);
    expect(r.calls).toEqual([]);

    await os.apply({
      ...base,
      routes: ['100.64.0.0/10'],
      dns: {
        nameservers: ['100.100.100.100'],
        searchDomains: [],
        matchDomains: ['acme.trellis'],
        defaultRoute: false,
      },
    });
    expect(r.calls.map(line).filter((l) => l.startsWith('netsh'))).toEqual([
      'netsh interface ipv6 delete route prefix=fd7a:115c:a1e0::/48 interface=trellis0',
    ]);
    expect(r.calls.some((c) => script(c).includes('Add-DnsClientNrptRule'))).toBe(true);

    r.calls.length = 0;
    await os.teardown();
    const down = r.calls.map(line);
    expect(down.filter((l) => l.startsWith('netsh'))).toHaveLength(3); // two addresses, one route
    expect(r.calls.some((c) => script(c).includes('Remove-NetFirewallRule'))).toBe(true);
    expect(r.calls.some((c) => script(c).includes('Remove-DnsClientNrptRule'))).toBe(true);
  });

  it('refuses exit-node routing and forwarding with a typed error instead of ignoring them', async () => {
    const os = new WindowsOsConfigurator({ interfaceName: 'trellis0', exec: recorder().exec });
    await expect(
      os.apply({ ...base, exitRouting: { bypass: [], allowLan: false } }),
    ).rejects.toMatchObject({
      code: 'bad_config',
    });
    await expect(os.apply({ ...base, forwarding: true })).rejects.toMatchObject({
      code: 'bad_config',
    });
  });
});
