/**
 * What the lab's helper scripts print on stdout (one JSON object per line), declared once: the
 * scripts build these shapes and the harness parses them back, as with any process boundary.
 */
import { z } from 'zod';

const Port = z.number().int().min(0).max(65535);
export const HostPort = z.object({ address: z.string(), port: Port });
export type HostPort = z.infer<typeof HostPort>;

/** "addr:port" for IPv4 literals (the lab is IPv4). */
export const formatHostPort = (e: HostPort): string => `${e.address}:${e.port}`;

export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port <= 65535 ? { address: m[1] ?? '', port } : undefined;
}

/** A server script is ready: it listens at `listening`. */
export const ReadyLine = z.object({
  ready: z.literal(true),
  service: z.string(),
  listening: z.array(HostPort),
});
export type ReadyLine = z.infer<typeof ReadyLine>;

/**
 * control-server.ts is ready: its URL and, on first run, the owner's sign-in (and with
 * --preauth-key a reusable pre-auth key).
 */
export const ControlReadyLine = ReadyLine.extend({
  service: z.literal('control'),
  url: z.string(),
  owner: z.object({ email: z.string(), password: z.string() }).nullable(),
  authKey: z.string().nullable(),
  stun: HostPort.nullable(),
});
export type ControlReadyLine = z.infer<typeof ControlReadyLine>;

/** region-server.ts is ready: a relay region's STUN endpoint and relay URL. */
export const RegionReadyLine = ReadyLine.extend({
  service: z.literal('region'),
  regionId: z.number().int(),
  stun: HostPort,
  relayUrl: z.string(),
});
export type RegionReadyLine = z.infer<typeof RegionReadyLine>;

const ProbeError = z.object({ code: z.string(), message: z.string() });

/** One STUN Binding from the probe's single socket. */
export const StunProbeAnswer = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), server: HostPort, mapped: HostPort, rttMs: z.number() }),
  z.object({ ok: z.literal(false), server: HostPort, error: ProbeError }),
]);
export type StunProbeAnswer = z.infer<typeof StunProbeAnswer>;

/** stun-probe.ts: the local socket and one answer per server, in the order given. */
export const StunProbeOutput = z.object({
  local: HostPort,
  answers: z.array(StunProbeAnswer),
});
export type StunProbeOutput = z.infer<typeof StunProbeOutput>;

/** stun-probe.ts --listen-ms: the datagrams that reached the probe's socket after its bindings. */
export const StunListenOutput = z.object({
  received: z.array(z.object({ from: HostPort, bytes: z.number().int() })),
});
export type StunListenOutput = z.infer<typeof StunListenOutput>;

/** lab-child.ts: a lab built in another process, for the cleanup tests. */
export const LabChildReady = z.object({
  ready: z.literal(true),
  prefix: z.string(),
  namespaces: z.array(z.string()),
  workDir: z.string(),
  /** A server running inside one of its namespaces. */
  serverPid: z.number().int(),
});
export type LabChildReady = z.infer<typeof LabChildReady>;

/** tcp-probe.ts: whether a TCP connection carried an echo round trip. */
export const TcpProbeOutput = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), server: HostPort, local: HostPort, rttMs: z.number() }),
  z.object({ ok: z.literal(false), server: HostPort, error: ProbeError }),
]);
export type TcpProbeOutput = z.infer<typeof TcpProbeOutput>;

/** The last stdout line of a script run, parsed with `schema`; throws with the output if not. */
export function parseLastJsonLine<T>(stdout: string, schema: z.ZodType<T>, what: string): T {
  const last = stdout.trim().split('\n').pop() ?? '';
  let value: unknown;
  try {
    value = JSON.parse(last);
  } catch {
    throw new Error(`${what} printed no JSON: ${stdout}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${what} printed unexpected output: ${stdout}`);
  return parsed.data;
}
