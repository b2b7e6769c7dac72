/**
 * The part every backend shares: validate the config, diff it against the last one the device
 * accepted, send only the diff, and serialise applies so two netmap updates never interleave.
 *
 * When sending fails, the device may hold half a diff, so the applier forgets what it last
 * applied: the next apply is a full one (replace_peers), which converges whatever state the
 * device is in.
 */
import { canonicalWgConfig } from './config.js';
import { diffWgConfig, isEmptyDiff, type WgConfigDiff } from './diff.js';
import { WgError, type WgInterfaceConfig } from './types.js';

export interface ConfigApplier {
  /** Applies `config`; resolves with the diff that was sent (empty when nothing changed). */
  apply(config: WgInterfaceConfig): Promise<WgConfigDiff>;
  /** The last config the device accepted, canonical; null before the first apply or after a failure. */
  readonly last: WgInterfaceConfig | null;
  /** Runs `fn` after every queued apply, exclusively (e.g. close). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

export function createConfigApplier(send: (diff: WgConfigDiff) => Promise<void>): ConfigApplier {
  let last: WgInterfaceConfig | null = null;
  let queue: Promise<unknown> = Promise.resolve();

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  return {
    get last() {
      return last;
    },
    exclusive,
    apply: (config) =>
      exclusive(async () => {
        const canonical = canonicalWgConfig(config);
        if (!canonical.ok) throw new WgError('bad_config', canonical.error.message);
        const diff = diffWgConfig(last, canonical.value);
        if (isEmptyDiff(diff)) return diff;
        try {
          await send(diff);
        } catch (e) {
          last = null;
          throw e;
        }
        last = canonical.value;
        return diff;
      }),
  };
}
