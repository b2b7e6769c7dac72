/**
 * Probes for the OS configurator tests: system-dns-probe.ts runs the helper's OS configurator
 * from inside a namespace, as trellisd does when `ip netns exec` starts it (no --netns), and
 * prints what it applied and the warnings it had.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ReadyLine } from './script-output.js';

export const SYSTEM_DNS_PROBE_SCRIPT = fileURLToPath(
  new URL('./system-dns-probe.ts', import.meta.url),
);

/** system-dns-probe.ts applied its config; `warnings` are the configurator's (system DNS). */
export const SystemDnsProbeReady = ReadyLine.extend({
  service: z.literal('system-dns'),
  warnings: z.array(z.string()),
});
export type SystemDnsProbeReady = z.infer<typeof SystemDnsProbeReady>;
