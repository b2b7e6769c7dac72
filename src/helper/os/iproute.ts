/**
 * iproute2 (`ip`) as a typed delegate: commands go through exec.ts (argument arrays, no shell),
 * optionally into a network namespace (`ip -n <ns>`), and state is read with `-json` and parsed
 * with schemas, so a format surprise is a typed error instead of a wrong teardown.
 */
import * as z from 'zod';
import { parseJsonWith } from '../../shared/schema/parse.js';
import { ExecError, runCommand, type Exec, type ExecResult } from '../exec.js';

/** `ip -json` output for one interface or its routes is small; a few MiB means something is wrong. */
const MAX_IP_JSON_CHARS = 8 * 1024 * 1024;

const linkSchema = z.object({
  ifindex: z.number().int().nonnegative(),
  ifname: z.string(),
  mtu: z.number().int().nonnegative(),
  flags: z.array(z.string()),
  linkinfo: z.object({ info_kind: z.string().optional() }).optional(),
});
export type IpLink = z.output<typeof linkSchema>;

const addrInfoSchema = z.object({
  family: z.string(),
  local: z.string().optional(),
  prefixlen: z.number().int().nonnegative(),
  scope: z.string().optional(),
});
const addrSchema = z.object({ ifname: z.string(), addr_info: z.array(addrInfoSchema) });
export type IpAddrInfo = z.output<typeof addrInfoSchema>;

const routeSchema = z.object({
  dst: z.string(),
  dev: z.string().optional(),
  metric: z.number().int().nonnegative().optional(),
  protocol: z.union([z.string(), z.number()]).optional(),
  table: z.string().optional(),
  type: z.string().optional(),
});
export type IpRoute = z.output<typeof routeSchema>;

const ruleSchema = z.object({
  priority: z.number().int().nonnegative(),
  dst: z.string().optional(),
  dstlen: z.number().int().nonnegative().optional(),
  fwmark: z.string().optional(),
  fwmask: z.string().optional(),
  table: z.string().optional(),
  protocol: z.union([z.string(), z.number()]).optional(),
});
export type IpRule = z.output<typeof ruleSchema>;

/** `ip` reports a missing device or namespace with one of these on stderr. */
const NOT_FOUND_RE = /does not exist|Cannot find device|No such device/;

export function isNotFound(e: unknown): boolean {
  return e instanceof ExecError && e.reason === 'exit_status' && NOT_FOUND_RE.test(e.stderr);
}

export class IpCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpCommandError';
  }
}

function parseList<S extends z.ZodType>(schema: S, text: string, what: string): z.output<S>[] {
  // Some iproute2 versions print nothing at all for an empty list.
  if (text.trim() === '') return [];
  const r = parseJsonWith(z.array(schema), text, MAX_IP_JSON_CHARS);
  if (!r.ok)
    throw new IpCommandError(`unexpected \`ip -json\` output for ${what}: ${r.error.message}`);
  return r.value;
}

export class IpCommand {
  constructor(
    private readonly exec: Exec = runCommand,
    readonly netns?: string,
  ) {}

  /** `ip [-n <ns>] <args>`. Rejects with ExecError. */
  run(args: readonly string[], input?: string): Promise<ExecResult> {
    const full = this.netns === undefined ? [...args] : ['-n', this.netns, ...args];
    return this.exec('ip', full, input === undefined ? {} : { input });
  }

  /** The link, or null when it does not exist. */
  async link(name: string): Promise<IpLink | null> {
    try {
      const { stdout } = await this.run(['-json', '-details', 'link', 'show', 'dev', name]);
      return parseList(linkSchema, stdout, `link ${name}`)[0] ?? null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** The interface's addresses, or null when the interface does not exist. */
  async addresses(name: string): Promise<IpAddrInfo[] | null> {
    try {
      const { stdout } = await this.run(['-json', 'address', 'show', 'dev', name]);
      const links = parseList(addrSchema, stdout, `addresses of ${name}`);
      return links.flatMap((l) => l.addr_info);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /**
   * Routes of one family matching `selector` (e.g. ["table", "main", "proto", "84", "dev", "x"]);
   * [] when the device in the selector does not exist.
   */
  async routes(family: 4 | 6, selector: readonly string[]): Promise<IpRoute[]> {
    try {
      const { stdout } = await this.run([`-${family}`, '-json', 'route', 'show', ...selector]);
      return parseList(routeSchema, stdout, 'routes');
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
  }

  /** Every interface's addresses (`ip -json address show`). */
  async allAddresses(): Promise<Array<{ ifname: string; addr_info: IpAddrInfo[] }>> {
    const { stdout } = await this.run(['-json', 'address', 'show']);
    return parseList(addrSchema, stdout, 'addresses');
  }

  /** The policy routing rules of one family. */
  async rules(family: 4 | 6): Promise<IpRule[]> {
    const { stdout } = await this.run([`-${family}`, '-json', 'rule', 'show']);
    return parseList(ruleSchema, stdout, 'rules');
  }

  /** Deletes a link; false when it was already gone. */
  async deleteLink(name: string): Promise<boolean> {
    try {
      await this.run(['link', 'del', 'dev', name]);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async setMtu(name: string, mtu: number): Promise<void> {
    await this.run(['link', 'set', 'dev', name, 'mtu', String(mtu)]);
  }
}
