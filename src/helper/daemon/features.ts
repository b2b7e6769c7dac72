/**
 * The daemon's device features that keep state between netmap applies: which exit node is in
 * use (so `auto` keeps its choice within a margin, engine/exit-node.ts), and the MagicDNS
 * resolver's lifecycle (dns/server.ts), fed the DNS plan of each apply (dns/plan.ts).
 */
import type { Netmap } from '../../shared/schema/control/netmap.js';
import type { Prefs } from '../../shared/schema/localapi.js';
import { planDns, type DnsPlan } from '../dns/plan.js';
import type { ResolverConfig } from '../dns/server.js';
import { chooseExitNode, type ExitNodeChoice } from '../engine/exit-node.js';
import type { Logger } from './log.js';

/**
 * Running processes are checked this often for posture (a process started or stopped shows in
 * control's verdict within about this long); the report goes out only when it changed.
 */
export const POSTURE_REFRESH_INTERVAL_MS = 10_000;

/** The MagicDNS resolver as the daemon uses it (MagicDnsServer, or a test double). */
export interface DnsResolver {
  /** Applies a config (null: stop listening); returns what could not be done. */
  update(config: ResolverConfig | null): Promise<string[]>;
  close(): Promise<void>;
}

export interface DevicePlan {
  readonly exitNode: ExitNodeChoice;
  readonly dns: DnsPlan;
}

export class DeviceFeatures {
  private exitNodeId: string | null = null;
  private exitProblem: string | null = null;
  private dnsProblems: readonly string[] = [];
  private lastDns: DnsPlan | null = null;
  private closed = false;

  constructor(
    private readonly resolver: DnsResolver | null,
    private readonly log: Logger,
  ) {}

  /** The exit node and DNS decisions for one apply. */
  plan(
    netmap: Netmap,
    prefs: Prefs,
    now: Date,
    latencyOf: (nodeKey: string) => number | null,
  ): DevicePlan {
    const exitNode = chooseExitNode({
      netmap,
      selector: prefs.exitNode,
      latencyMs: (id) => {
        const peer = netmap.peers.find((p) => p.id === id);
        return peer ? latencyOf(peer.nodeKey) : null;
      },
      currentId: this.exitNodeId,
      now,
    });
    const id = exitNode.type === 'using' ? exitNode.peer.id : null;
    if (id !== this.exitNodeId) this.log.info({ exitNode: id }, 'exit node changed');
    this.exitNodeId = id;
    this.exitProblem = exitNode.type === 'unavailable' ? exitNode.reason : null;
    const dns = planDns({
      netmap,
      prefs,
      exitNode: exitNode.type === 'using' ? exitNode.peer : null,
      resolverAvailable: this.resolver !== null,
    });
    return { exitNode, dns };
  }

  /** Nothing in use: the tunnel is down or logged out. */
  clear(): void {
    this.exitNodeId = null;
    this.exitProblem = null;
  }

  /** Brings the resolver to the plan (after the OS config, which adds its address). */
  async applyDns(plan: DnsPlan | null): Promise<void> {
    this.lastDns = plan;
    if (!this.resolver || this.closed) return;
    const problems = await this.resolver.update(plan?.resolver ?? null);
    if (problems.length > 0) this.log.warn({ problems }, 'MagicDNS is not fully up');
    this.dnsProblems = problems;
  }

  /** Tries the last plan again when it was not fully applied (the tunnel came up since). */
  async retryDns(): Promise<void> {
    if (this.dnsProblems.length > 0) await this.applyDns(this.lastDns);
  }

  get exitNodeProblem(): string | null {
    return this.exitProblem;
  }

  get dnsProblem(): string | null {
    return this.dnsProblems.length > 0 ? this.dnsProblems.join('; ') : null;
  }

  /** For Status.exitNode. */
  exitNodeInUse(prefs: Prefs): { id: string; allowLAN: boolean } | null {
    return this.exitNodeId === null
      ? null
      : { id: this.exitNodeId, allowLAN: prefs.exitNodeAllowLAN };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.resolver?.close();
  }
}
