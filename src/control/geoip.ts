/**
 * The operator's GeoIP database file (config `geoipDatabase`), for geolocation posture checks.
 * The format is the "trellis geo CSV" of policy/geo.ts (docs/policy.md "Geolocation database").
 *
 * Reload-safe: the server re-reads the file when it changes on disk (checked every sweep) or on
 * SIGHUP. A file that no longer parses is refused and the previous database stays in force, so
 * a half-written update never turns every geolocation check into a failure. At start-up a broken
 * file is an error: the operator asked for geolocation and must know it is not working.
 */
import { stat } from 'node:fs/promises';
import { loadGeoCsvFile, type GeoLookup } from './policy/index.js';

/** The database file could not be read or parsed; `line` is 0 when the file itself is the problem. */
export class GeoDatabaseError extends Error {
  readonly code = 'geoip_invalid';
  constructor(
    readonly path: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`geoip database ${path}${line > 0 ? `:${line}` : ''}: ${detail}`);
    this.name = 'GeoDatabaseError';
  }
}

export type GeoReload =
  | { readonly type: 'unchanged' }
  | { readonly type: 'reloaded'; readonly lookup: GeoLookup }
  | { readonly type: 'failed'; readonly error: GeoDatabaseError };

/** What identifies a version of the file without reading it. */
async function versionOf(path: string): Promise<string | null> {
  try {
    const s = await stat(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return null;
  }
}

async function load(path: string): Promise<GeoLookup> {
  const r = await loadGeoCsvFile(path);
  if (!r.ok) throw new GeoDatabaseError(path, r.error.line, r.error.message);
  return r.value;
}

export class GeoDatabaseFile {
  private constructor(
    readonly path: string,
    private current: GeoLookup,
    /** The file version last loaded, or last refused (so a broken file is reported once). */
    private seen: string | null,
  ) {}

  /** Loads the file; throws GeoDatabaseError when it is missing or broken. */
  static async open(path: string): Promise<GeoDatabaseFile> {
    const version = await versionOf(path);
    return new GeoDatabaseFile(path, await load(path), version);
  }

  get lookup(): GeoLookup {
    return this.current;
  }

  /**
   * Re-reads the file if it changed since the last load (always, with `force`). On failure the
   * previous database stays in force.
   */
  async reload(opts: { force?: boolean } = {}): Promise<GeoReload> {
    const version = await versionOf(this.path);
    if (!opts.force && version === this.seen) return { type: 'unchanged' };
    this.seen = version;
    try {
      this.current = await load(this.path);
      return { type: 'reloaded', lookup: this.current };
    } catch (e) {
      if (e instanceof GeoDatabaseError) return { type: 'failed', error: e };
      throw e;
    }
  }
}
