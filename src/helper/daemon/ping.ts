/**
 * Ping through the tunnel, for this issue: one ICMP echo per attempt with the system `ping`,
 * sent to the peer's mesh address (so it goes through WireGuard). A later issue replaces this
 * with disco pings that also measure relayed paths.
 */
import { ExecError, runCommand, type Exec } from '../exec.js';
import { isValidNetnsName } from '../os/ifname.js';

export interface Pinger {
  /** Round-trip time in milliseconds, or null when no reply came within `timeoutMs`. */
  ping(address: string, timeoutMs: number): Promise<number | null>;
}

/** Time for `ping` to start and exit on top of its own wait. */
const PING_EXEC_SLACK_MS = 3_000;

/** "64 bytes from 100.64.0.2: icmp_seq=1 ttl=64 time=0.532 ms" → 0.532. */
export function parsePingRtt(stdout: string): number | null {
  const m = /\btime[=<]\s*([0-9]+(?:\.[0-9]+)?)\s*ms\b/.exec(stdout);
  if (!m) return null;
  const v = Number(m[1]);
  return Number.isFinite(v) && v >= 0 ? v : null;
}

export class SystemPinger implements Pinger {
  constructor(private readonly opts: { exec?: Exec; netns?: string } = {}) {
    if (opts.netns !== undefined && !isValidNetnsName(opts.netns)) {
      throw new Error(`invalid network namespace name ${JSON.stringify(opts.netns)}`);
    }
  }

  async ping(address: string, timeoutMs: number): Promise<number | null> {
    // iputils takes whole seconds for -W; round up so the wait is never shorter than asked.
    const waitSeconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    const args = ['-n', '-c', '1', '-W', waitSeconds, address];
    const [cmd, argv] =
      this.opts.netns === undefined
        ? ['ping', args]
        : ['ip', ['netns', 'exec', this.opts.netns, 'ping', ...args]];
    try {
      const { stdout } = await (this.opts.exec ?? runCommand)(cmd, argv, {
        timeoutMs: timeoutMs + PING_EXEC_SLACK_MS,
      });
      return parsePingRtt(stdout);
    } catch (e) {
      // Exit status 1: no reply. Anything else (ping missing, no permission) is a real failure.
      if (e instanceof ExecError && e.reason === 'exit_status' && e.exitCode === 1) return null;
      throw e;
    }
  }
}
