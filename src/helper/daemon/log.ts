/**
 * The daemon's logger: pino-shaped (`(obj, msg)`), so trellisd passes pino and tests pass a
 * recorder. `teeLogger` also copies lines to the LocalAPI watch stream for `logs=1` watchers.
 */
import type { LogLevel } from '../localapi/watch-hub.js';

export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** Fields worth showing to a watcher next to the message; secrets never appear in log objects. */
function summary(obj: object, msg: string): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const text =
      v instanceof Error ? v.message : typeof v === 'object' ? JSON.stringify(v) : String(v);
    parts.push(`${k}=${text.slice(0, 200)}`);
  }
  return parts.length ? `${msg} (${parts.join(' ')})` : msg;
}

export function teeLogger(
  base: Logger,
  sink: (level: LogLevel, message: string, time: Date) => void,
  now: () => Date = () => new Date(),
): Logger {
  const at =
    (level: LogLevel, f: (obj: object, msg: string) => void) => (obj: object, msg: string) => {
      f.call(base, obj, msg);
      sink(level, summary(obj, msg), now());
    };
  return {
    debug: at('debug', base.debug),
    info: at('info', base.info),
    warn: at('warn', base.warn),
    error: at('error', base.error),
  };
}
