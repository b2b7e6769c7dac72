/** An in-memory OsConfigurator for daemon unit tests: records what the daemon asked for. Test-only. */
import { OsConfigError, type OsConfigurator, type OsNetworkConfig } from '../os/types.js';

export class FakeOsConfigurator implements OsConfigurator {
  /** What the machine would look like now; null when nothing of ours is configured. */
  current: OsNetworkConfig | null = null;
  readonly applied: OsNetworkConfig[] = [];
  teardowns = 0;
  private failure: OsConfigError | null = null;

  async apply(config: OsNetworkConfig): Promise<void> {
    if (this.failure) {
      const f = this.failure;
      this.failure = null;
      throw f;
    }
    this.applied.push(config);
    this.current = config;
  }

  async teardown(): Promise<void> {
    this.teardowns += 1;
    this.current = null;
  }

  failNextApply(message = 'simulated failure'): void {
    this.failure = new OsConfigError('command_failed', message);
  }
}

/** A pinger that answers from a table of addresses to round-trip times (null: no reply). */
export class FakePinger {
  readonly calls: { address: string; timeoutMs: number }[] = [];
  constructor(private readonly rtts: Record<string, number | null> = {}) {}
  async ping(address: string, timeoutMs: number): Promise<number | null> {
    this.calls.push({ address, timeoutMs });
    return this.rtts[address] ?? null;
  }
}
