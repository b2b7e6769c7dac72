/** `trellis-control serve | migrate | version`. */
import { TRELLIS_VERSION } from '../../../shared/version.js';
import type { ControlServer } from '../../app.js';
import { CliError, type Command } from '../command.js';
import { configFrom, openConfiguredStore } from '../session.js';

/**
 * A stop that takes longer than this is stuck (a peer that never closes its socket); exit
 * anyway so a service manager's restart is not blocked.
 */
const STOP_GRACE_MS = 10_000;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the control plane (HTTP API, map streams, relay, STUN)',
  run: async ({ opts, out }) => {
    const config = configFrom(opts);
    // Loaded here, not at the top: management commands do not need the HTTP stack.
    const { startControl } = await import('../../app.js');
    let server: ControlServer;
    try {
      server = await startControl(config);
    } catch (e) {
      throw new CliError(`cannot start: ${(e as Error).message}`);
    }
    out.note(`trellis-control ${TRELLIS_VERSION} serving at ${server.url}`);
    // SIGHUP re-reads the GeoIP database now (it is also picked up within a minute of a change).
    const reload = () => {
      server.reloadGeoDatabase({ force: true }).then(
        (r) => {
          if (r.type === 'failed') out.note(`SIGHUP: ${r.error.message}; keeping the old one`);
          else if (r.type === 'reloaded') out.note('SIGHUP: GeoIP database reloaded');
        },
        (e: unknown) => out.note(`SIGHUP: ${(e as Error).message}`),
      );
    };
    process.on('SIGHUP', reload);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          out.note(`${signal} again: exiting without waiting`);
          process.exit(1);
        }
        stopping = true;
        out.note(`${signal}: closing streams, stopping the listener, closing the database`);
        const force = setTimeout(() => {
          out.note(`still stopping after ${STOP_GRACE_MS / 1000} s; exiting`);
          process.exit(1);
        }, STOP_GRACE_MS);
        force.unref();
        server.stop().then(
          () => {
            clearTimeout(force);
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            process.off('SIGHUP', reload);
            out.note('stopped');
            resolve();
          },
          (e: unknown) => {
            out.note(`error while stopping: ${(e as Error).message}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
};

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'bring the database schema up to date (serve also does this at start)',
  run: async ({ opts, out }) => {
    const store = await openConfiguredStore(configFrom(opts));
    try {
      const report = await store.migrate();
      out.emit(report, () =>
        report.ran.length
          ? `Applied ${report.ran.join(', ')}. The schema is current.`
          : 'The schema is already current.',
      );
    } catch (e) {
      throw new CliError((e as Error).message);
    } finally {
      await store.close();
    }
  },
};

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the version',
  run: async ({ out }) => {
    out.emit({ version: TRELLIS_VERSION }, () => `trellis-control ${TRELLIS_VERSION}`);
  },
};
