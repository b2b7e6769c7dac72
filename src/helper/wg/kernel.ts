/**
 * The Linux kernel WireGuard backend: `ip link add <name> type wireguard`, configured with `wg`
 * commands generated from the same diff as the UAPI (exec.ts: argument arrays, no shell).
 *
 * - First apply: `wg setconf <name> /dev/stdin` with the full config on stdin (setconf replaces
 *   the peer list, like UAPI replace_peers).
 * - Later applies: one `wg set <name> ...` with only the changed fields and peers.
 * Private keys only ever travel on stdin (`private-key /dev/stdin`), never in arguments.
 *
 * A kernel device survives a helper crash, so create() adopts an existing WireGuard link of the
 * same name; the first apply then replaces its config wholesale.
 */
import { randomBytes } from 'node:crypto';
import { runCommand, type Exec } from '../exec.js';
import { isValidInterfaceName, isValidNetnsName } from '../os/ifname.js';
import { IpCommand } from '../os/iproute.js';
import { createConfigApplier, type ConfigApplier } from './applier.js';
import type { WgConfigDiff } from './diff.js';
import {
  WgError,
  type WgDeviceStats,
  type WgInterfaceConfig,
  type WireGuardBackend,
  type WireGuardDevice,
} from './types.js';
import { statsFromState, type UapiDeviceState } from './uapi.js';
import { parseWgDump } from './wg-dump.js';
import { MAX_TUNNEL_MTU, MIN_TUNNEL_MTU } from './wireguard-go.js';

/** One `wg` invocation: arguments after `wg`, and what goes to its stdin. */
export interface WgCommand {
  readonly args: readonly string[];
  readonly input?: string;
}

/** The `wg setconf` file for a first apply (see the module comment). */
function setconfText(diff: WgConfigDiff): string {
  const lines = ['[Interface]'];
  if (diff.privateKey !== undefined) lines.push(`PrivateKey = ${diff.privateKey}`);
  if (diff.listenPort !== undefined) lines.push(`ListenPort = ${diff.listenPort}`);
  if (diff.fwmark !== undefined) lines.push(`FwMark = ${diff.fwmark}`);
  for (const p of diff.peers) {
    // A first apply only adds; removals and updates have nothing to act on after the replace.
    if (p.kind !== 'add') continue;
    lines.push('', '[Peer]', `PublicKey = ${p.publicKey}`);
    if (p.endpoint !== null) lines.push(`Endpoint = ${p.endpoint}`);
    if (p.allowedIps.length > 0) lines.push(`AllowedIPs = ${p.allowedIps.join(', ')}`);
    if (p.persistentKeepalive !== 0) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The `wg` commands that apply `diff` to device `name`. Pure. */
export function wgCommandsForDiff(name: string, diff: WgConfigDiff): WgCommand[] {
  if (diff.replacePeers) {
    return [{ args: ['setconf', name, '/dev/stdin'], input: setconfText(diff) }];
  }
  const args: string[] = ['set', name];
  let input: string | undefined;
  if (diff.privateKey !== undefined) {
    args.push('private-key', '/dev/stdin');
    input = `${diff.privateKey}\n`;
  }
  if (diff.listenPort !== undefined) args.push('listen-port', String(diff.listenPort));
  if (diff.fwmark !== undefined) args.push('fwmark', String(diff.fwmark));
  for (const p of diff.peers) {
    args.push('peer', p.publicKey);
    switch (p.kind) {
      case 'remove':
        args.push('remove');
        break;
      case 'add':
        if (p.endpoint !== null) args.push('endpoint', p.endpoint);
        if (p.persistentKeepalive !== 0) {
          args.push('persistent-keepalive', String(p.persistentKeepalive));
        }
        // `wg` replaces a peer's allowed IPs whenever it is given them.
        if (p.allowedIps.length > 0) args.push('allowed-ips', p.allowedIps.join(','));
        break;
      case 'update':
        if (p.endpoint !== undefined) args.push('endpoint', p.endpoint);
        if (p.persistentKeepalive !== undefined) {
          args.push('persistent-keepalive', String(p.persistentKeepalive));
        }
        // An empty argument clears the list.
        if (p.allowedIps !== undefined) args.push('allowed-ips', p.allowedIps.join(','));
        break;
    }
  }
  if (args.length === 2) return [];
  return [input === undefined ? { args } : { args, input }];
}

export interface KernelWireGuardOptions {
  readonly netns?: string;
  readonly exec?: Exec;
}

/** Runs `wg`, inside the namespace when there is one. */
function wgRunner(exec: Exec, netns: string | undefined) {
  return (args: readonly string[], input?: string) => {
    const opts = input === undefined ? {} : { input };
    return netns === undefined
      ? exec('wg', args, opts)
      : exec('ip', ['netns', 'exec', netns, 'wg', ...args], opts);
  };
}

export class KernelWireGuardBackend implements WireGuardBackend {
  readonly kind = 'kernel' as const;
  private readonly exec: Exec;
  private readonly ip: IpCommand;

  constructor(private readonly options: KernelWireGuardOptions = {}) {
    if (options.netns !== undefined && !isValidNetnsName(options.netns)) {
      throw new WgError(
        'bad_config',
        `invalid network namespace name ${JSON.stringify(options.netns)}`,
      );
    }
    this.exec = options.exec ?? runCommand;
    this.ip = new IpCommand(this.exec, options.netns);
  }

  async create(name: string, options: { readonly mtu: number }): Promise<KernelWireGuardDevice> {
    if (!isValidInterfaceName(name)) {
      throw new WgError('create_failed', `invalid interface name ${JSON.stringify(name)}`);
    }
    const { mtu } = options;
    if (!Number.isInteger(mtu) || mtu < MIN_TUNNEL_MTU || mtu > MAX_TUNNEL_MTU) {
      throw new WgError(
        'bad_config',
        `MTU must be ${MIN_TUNNEL_MTU}-${MAX_TUNNEL_MTU}, got ${mtu}`,
      );
    }
    try {
      const link = await this.ip.link(name);
      if (link && link.linkinfo?.info_kind !== 'wireguard') {
        throw new WgError(
          'create_failed',
          `an interface named ${name} exists and is not a WireGuard device (${link.linkinfo?.info_kind ?? 'unknown kind'})`,
        );
      }
      if (!link) await this.ip.run(['link', 'add', 'dev', name, 'type', 'wireguard']);
      await this.ip.setMtu(name, mtu);
    } catch (e) {
      if (e instanceof WgError) throw e;
      throw new WgError('create_failed', `${name}: ${(e as Error).message}`);
    }
    return new KernelWireGuardDevice(name, wgRunner(this.exec, this.options.netns), this.ip);
  }
}

export class KernelWireGuardDevice implements WireGuardDevice {
  private readonly applier: ConfigApplier;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly wg: ReturnType<typeof wgRunner>,
    private readonly ip: IpCommand,
  ) {
    this.applier = createConfigApplier(async (diff) => {
      for (const cmd of wgCommandsForDiff(name, diff)) {
        try {
          await this.wg(cmd.args, cmd.input);
        } catch (e) {
          throw new WgError('command_failed', (e as Error).message);
        }
      }
    });
  }

  apply(config: WgInterfaceConfig): Promise<void> {
    if (this.closed) return Promise.reject(new WgError('closed', `${this.name} is closed`));
    return this.applier.apply(config).then(() => undefined);
  }

  async deviceState(): Promise<UapiDeviceState> {
    if (this.closed) throw new WgError('closed', `${this.name} is closed`);
    let stdout: string;
    try {
      ({ stdout } = await this.wg(['show', this.name, 'dump']));
    } catch (e) {
      throw new WgError('command_failed', (e as Error).message);
    }
    const r = parseWgDump(stdout);
    if (!r.ok) throw new WgError('command_failed', `wg show ${this.name} dump: ${r.error.message}`);
    return r.value;
  }

  async stats(): Promise<WgDeviceStats> {
    return statsFromState(await this.deviceState());
  }

  close(): Promise<void> {
    return this.applier.exclusive(async () => {
      if (this.closed) return;
      await this.ip.deleteLink(this.name);
      this.closed = true;
    });
  }
}

/** Name for the throwaway link that probes for kernel support: "trlprobe" + 6 hex digits. */
export const probeLinkName = (): string => `trlprobe${randomBytes(3).toString('hex')}`;
