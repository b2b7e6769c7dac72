/**
 * Probes for the device-feature tests (packet filter, exit node, subnet routes, MagicDNS): what
 * the scripts whoami.ts and dns-query.ts print, and helpers that run them in a namespace through
 * any lab (base netns.ts or topology.ts), parsing their output as any process boundary.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { ExecOptions, ExecResult } from '../../src/helper/exec.js';
import { nodeScriptCommand } from './process.js';
import { parseLastJsonLine } from './script-output.js';

export const WHOAMI_SCRIPT = fileURLToPath(new URL('./whoami.ts', import.meta.url));
export const DNS_QUERY_SCRIPT = fileURLToPath(new URL('./dns-query.ts', import.meta.url));
export const DNS_STUB_SCRIPT = fileURLToPath(new URL('./dns-stub.ts', import.meta.url));
export const CONTROL_ADMIN_SCRIPT = fileURLToPath(new URL('./control-admin.ts', import.meta.url));
export const MAGICDNS_SERVE_SCRIPT = fileURLToPath(new URL('./magicdns-serve.ts', import.meta.url));

const ProbeError = z.object({ code: z.string(), message: z.string() });

/** whoami.ts ask: the address the server saw the connection come from. */
export const WhoamiOutput = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), seenAs: z.string(), local: z.string() }),
  z.object({ ok: z.literal(false), error: ProbeError }),
]);
export type WhoamiOutput = z.infer<typeof WhoamiOutput>;

/** dns-query.ts: the answer's code and records. */
export const DnsQueryOutput = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    rcode: z.string(),
    answers: z.array(z.object({ type: z.string(), name: z.string(), data: z.string() })),
  }),
  z.object({ ok: z.literal(false), error: ProbeError }),
]);
export type DnsQueryOutput = z.infer<typeof DnsQueryOutput>;

/** One admin API call for control-admin.ts. */
export const AdminRequest = z.object({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
  path: z.string().startsWith('/v1/admin'),
  body: z.unknown().optional(),
});
export type AdminRequest = z.infer<typeof AdminRequest>;
export const AdminResults = z.array(z.object({ status: z.number(), body: z.unknown() }));
export type AdminResults = z.infer<typeof AdminResults>;

/** Anything that runs a program in a namespace (Lab.exec, NatLab.exec). */
export type NsExec = (
  ns: string,
  command: string,
  args: readonly string[],
  options?: ExecOptions,
) => Promise<ExecResult>;

/** Node's startup on a busy machine plus the probe's own deadline. */
const STARTUP_ALLOWANCE_MS = 20_000;
const DEFAULT_PROBE_TIMEOUT_MS = 3_000;

async function runProbe(
  exec: NsExec,
  ns: string,
  script: string,
  args: string[],
  timeoutMs: number,
) {
  const node = nodeScriptCommand(script);
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const { stdout } = await exec(ns, node.command, [...node.args, ...args], {
    timeoutMs: STARTUP_ALLOWANCE_MS + timeoutMs,
    env,
  });
  return stdout;
}

/** Connects from `ns` (from `bind`, when given) to a whoami server. */
export async function whoami(
  exec: NsExec,
  ns: string,
  server: string,
  options: { bind?: string; timeoutMs?: number } = {},
): Promise<WhoamiOutput> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const args = ['ask', '--server', server, '--timeout-ms', String(timeoutMs)];
  if (options.bind) args.push('--bind', options.bind);
  return parseLastJsonLine(
    await runProbe(exec, ns, WHOAMI_SCRIPT, args, timeoutMs),
    WhoamiOutput,
    'whoami',
  );
}

/** One DNS query from `ns`, like `dig @server name type`. */
export async function dnsQuery(
  exec: NsExec,
  ns: string,
  server: string,
  name: string,
  options: { type?: 'A' | 'AAAA' | 'PTR' | 'TXT'; tcp?: boolean; timeoutMs?: number } = {},
): Promise<DnsQueryOutput> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const args = [
    '--server',
    server,
    '--name',
    name,
    '--type',
    options.type ?? 'A',
    '--timeout-ms',
    String(timeoutMs),
  ];
  if (options.tcp) args.push('--tcp');
  return parseLastJsonLine(
    await runProbe(exec, ns, DNS_QUERY_SCRIPT, args, timeoutMs),
    DnsQueryOutput,
    'dns-query',
  );
}

/**
 * Runs admin API requests as `owner` from the control host's namespace (control-admin.ts);
 * throws unless every request answered 2xx.
 */
export async function adminCalls(
  exec: NsExec,
  controlNs: string,
  workDir: string,
  control: { url: string; owner: { email: string; password: string } },
  requests: readonly AdminRequest[],
): Promise<AdminResults> {
  const file = join(workDir, `admin-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(requests), { mode: 0o600 });
  const args = [
    '--url',
    control.url,
    '--email',
    control.owner.email,
    '--password',
    control.owner.password,
    '--requests',
    file,
  ];
  const stdout = await runProbe(exec, controlNs, CONTROL_ADMIN_SCRIPT, args, 30_000);
  const results = parseLastJsonLine(stdout, AdminResults, 'control-admin');
  const bad = results.find((r) => r.status >= 300);
  if (bad || results.length !== requests.length) {
    throw new Error(`admin requests failed: ${JSON.stringify(results).slice(0, 2000)}`);
  }
  return results;
}
