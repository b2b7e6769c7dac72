/**
 * nftables as a typed delegate for the helper's own table: scripts go to `nft -f -` (atomic),
 * state is read back in the few forms the configurator needs. Only `inet trellis` is ever
 * touched.
 */
import * as z from 'zod';
import { parseJsonWith } from '../../shared/schema/parse.js';
import { ExecError, type Exec } from '../exec.js';
import { NFT_DROP_COUNTER, NFT_FAMILY, NFT_TABLE } from './nft-ruleset.js';
import { nsExec } from './ns-exec.js';

/** A compiled ruleset with large source sets is a few MiB at most; nft's JSON of it likewise. */
const MAX_NFT_JSON_CHARS = 16 * 1024 * 1024;
/** Sets with tens of thousands of elements take nft a few seconds on a busy machine. */
const NFT_TIMEOUT_MS = 60_000;

const counterSchema = z.object({
  name: z.string(),
  packets: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
});
const listingSchema = z.object({ nftables: z.array(z.record(z.string(), z.unknown())) });

export interface NftCounter {
  readonly packets: number;
  readonly bytes: number;
}

/** nft says "No such file or directory" for a table (or counter) that does not exist. */
function isMissing(e: unknown): boolean {
  return (
    e instanceof ExecError &&
    e.reason === 'exit_status' &&
    /No such file or directory/.test(e.stderr)
  );
}

export class NftCommand {
  constructor(
    private readonly exec: Exec,
    private readonly netns?: string,
  ) {}

  /** Runs a script as one transaction: all of it applies, or none. */
  async apply(script: string): Promise<void> {
    await nsExec(this.exec, this.netns, 'nft', ['-f', '-'], {
      input: script,
      timeoutMs: NFT_TIMEOUT_MS,
    });
  }

  /**
   * The table's comment: undefined when the table does not exist, null when it has none.
   * Read from the terse text listing (set elements left out), as nft 1.0's JSON omits comments.
   */
  async tableComment(): Promise<string | null | undefined> {
    try {
      const { stdout } = await nsExec(this.exec, this.netns, 'nft', [
        '-t',
        'list',
        'table',
        NFT_FAMILY,
        NFT_TABLE,
      ]);
      const m = /^\s*comment "([^"]*)"\s*$/m.exec(stdout.slice(0, 4096));
      return m ? (m[1] as string) : null;
    } catch (e) {
      // Without nft there is no table of ours either; installing one reports the missing tool.
      if (isMissing(e) || (e instanceof ExecError && e.reason === 'spawn_failed')) return undefined;
      throw e;
    }
  }

  /** Deletes the table; false when there was none. */
  async deleteTable(): Promise<boolean> {
    try {
      await nsExec(this.exec, this.netns, 'nft', ['delete', 'table', NFT_FAMILY, NFT_TABLE]);
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  /** What the filter dropped so far; null when there is no filter. */
  async dropCounter(): Promise<NftCounter | null> {
    let stdout: string;
    try {
      ({ stdout } = await nsExec(this.exec, this.netns, 'nft', [
        '-j',
        'list',
        'counter',
        NFT_FAMILY,
        NFT_TABLE,
        NFT_DROP_COUNTER,
      ]));
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
    const r = parseJsonWith(listingSchema, stdout, MAX_NFT_JSON_CHARS);
    if (!r.ok) throw new Error(`unexpected \`nft -j\` output: ${r.error.message}`);
    for (const item of r.value.nftables) {
      if (item.counter === undefined) continue;
      const c = counterSchema.safeParse(item.counter);
      if (!c.success) throw new Error(`unexpected \`nft -j\` counter: ${c.error.message}`);
      return { packets: c.data.packets, bytes: c.data.bytes };
    }
    return null;
  }
}
