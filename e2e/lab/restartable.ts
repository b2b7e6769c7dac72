/**
 * A lab server that tests stop and start again (control, a relay region): the same script, in
 * the same namespace, with the same arguments and therefore the same state on disk. Every start
 * waits for the script's ready line; the lab stops whatever is running on dispose.
 */
import type { z } from 'zod';
import type { LabProcess } from './process.js';
import type { NatLab } from './topology.js';

export class RestartableScript<R> {
  private current: LabProcess | null = null;

  constructor(
    private readonly lab: NatLab,
    readonly ns: string,
    private readonly script: string,
    private readonly args: readonly string[],
    private readonly ready: z.ZodType<R>,
    readonly label: string,
  ) {}

  /** Whether it was started and has neither been stopped nor died. */
  get running(): boolean {
    return this.current !== null && !this.current.hasExited();
  }

  /** The process of the latest start. */
  get process(): LabProcess {
    if (this.current === null) throw new Error(`${this.label} was never started`);
    return this.current;
  }

  /** Starts it and resolves with its ready line. */
  async start(): Promise<R> {
    if (this.running) throw new Error(`${this.label} is already running`);
    const p = await this.lab.spawnScript(this.ns, this.script, this.args, { label: this.label });
    this.current = p;
    return p.waitForJson(this.ready);
  }

  /** SIGTERM (then SIGKILL after the grace period); resolves once it has exited. */
  async stop(): Promise<void> {
    await this.current?.stop();
  }
}
