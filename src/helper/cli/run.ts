/**
 * Runs one `trellis` command against the daemon's LocalAPI. Output goes through a small I/O
 * interface so tests drive it in-process; errors are one line on stderr and a non-zero exit.
 */
import type { BackendState, PeerStatus, Status, WatchEvent } from '../../shared/schema/localapi.js';
import { LOCALAPI_VERSION } from '../../shared/schema/localapi.js';
import { TRELLIS_VERSION } from '../../shared/version.js';
import { defaultSocketPath, LocalApiClient, type LocalApiClientError } from '../localapi/client.js';
import { parseCommand, type Command } from './args.js';
import { usage } from './usage.js';
import { renderNetcheck } from './netcheck-view.js';
import { renderExitNodes, renderSuggestion } from './exit-node-view.js';
import { renderStatus } from './status-view.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal (spinner) or a pipe/log (plain lines). */
  readonly isTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
  now(): Date;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Spinner frame period: smooth to the eye, negligible CPU. */
const SPINNER_INTERVAL_MS = 100;
const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

type Fail = { readonly fail: string };

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(argv);
  if (!parsed.ok) {
    io.stderr(`trellis: ${parsed.error.message}\nRun 'trellis help' for usage.\n`);
    return EXIT_USAGE;
  }
  const cmd = parsed.value;
  if (cmd.cmd === 'help') {
    io.stdout(usage(cmd.topic));
    return EXIT_OK;
  }
  const client = new LocalApiClient({
    socketPath: cmd.socket ?? defaultSocketPath(io.env),
    clientName: 'cli',
  });
  const r = await execute(cmd, client, io);
  if (typeof r === 'number') return r;
  io.stderr(`trellis: ${r.fail}\n`);
  return EXIT_FAILURE;
}

const failed = (e: LocalApiClientError): Fail => ({ fail: e.message });

async function execute(
  cmd: Exclude<Command, { cmd: 'help' }>,
  client: LocalApiClient,
  io: CliIo,
): Promise<number | Fail> {
  switch (cmd.cmd) {
    case 'up': {
      if (Object.keys(cmd.prefs).length) {
        const p = await client.patchPrefs(cmd.prefs);
        if (!p.ok) return failed(p.error);
      }
      const r = await client.up({
        ...(cmd.controlUrl ? { controlUrl: cmd.controlUrl } : {}),
        ...(cmd.authKey ? { authKey: cmd.authKey } : {}),
        ...(cmd.hostname ? { hostname: cmd.hostname } : {}),
      });
      if (!r.ok) return failed(r.error);
      return waitUntilRunning(client, io, r.value.backend, cmd.timeoutMs);
    }
    case 'login': {
      const r = await client.login(
        cmd.authKey
          ? {
              method: 'auth-key',
              authKey: cmd.authKey,
              ...(cmd.controlUrl ? { controlUrl: cmd.controlUrl } : {}),
            }
          : { method: 'interactive', ...(cmd.controlUrl ? { controlUrl: cmd.controlUrl } : {}) },
      );
      if (!r.ok) return failed(r.error);
      return waitUntilRunning(client, io, r.value.backend, cmd.timeoutMs);
    }
    case 'down': {
      const r = await client.down();
      if (!r.ok) return failed(r.error);
      return EXIT_OK;
    }
    case 'logout': {
      const r = await client.logout();
      if (!r.ok) return failed(r.error);
      io.stdout('Logged out.\n');
      return EXIT_OK;
    }
    case 'status': {
      const r = await client.status();
      if (!r.ok) return failed(r.error);
      io.stdout(
        cmd.json ? `${JSON.stringify(r.value, null, 2)}\n` : `${renderStatus(r.value, io.now())}\n`,
      );
      return EXIT_OK;
    }
    case 'ip': {
      const r = await client.status();
      if (!r.ok) return failed(r.error);
      const addrs = cmd.peer ? findPeer(r.value, cmd.peer)?.addresses : r.value.self?.addresses;
      if (!addrs)
        return {
          fail: cmd.peer
            ? `no peer ${JSON.stringify(cmd.peer)}`
            : 'no addresses yet: run trellis up',
        };
      if (cmd.family !== 6) io.stdout(`${addrs.ipv4}\n`);
      if (cmd.family !== 4) io.stdout(`${addrs.ipv6}\n`);
      return EXIT_OK;
    }
    case 'ping': {
      const r = await client.ping({ peer: cmd.peer, count: cmd.count, timeoutMs: cmd.timeoutMs });
      if (!r.ok) return failed(r.error);
      let pongs = 0;
      for (const a of r.value.results) {
        if (a.outcome === 'pong') {
          pongs += 1;
          const via = a.path.type === 'direct' ? a.path.endpoint : `relay #${a.path.region}`;
          io.stdout(`pong from ${r.value.peerName} via ${via} in ${a.latencyMs.toFixed(1)}ms\n`);
        } else {
          io.stdout(`timeout waiting for ${r.value.peerName} (seq ${a.seq})\n`);
        }
      }
      if (pongs === 0) return { fail: `no reply from ${r.value.peerName}` };
      return EXIT_OK;
    }
    case 'version': {
      const h = await client.hello();
      if (cmd.json) {
        io.stdout(
          `${JSON.stringify({ client: TRELLIS_VERSION, localApi: LOCALAPI_VERSION, daemon: h.ok ? h.value.daemonVersion : null }, null, 2)}\n`,
        );
      } else {
        io.stdout(`trellis ${TRELLIS_VERSION} (LocalAPI ${LOCALAPI_VERSION})\n`);
        if (h.ok)
          io.stdout(
            `trellisd ${h.value.daemonVersion} (LocalAPI ${h.value.minProtocolVersion}..${h.value.protocolVersion})\n`,
          );
      }
      return h.ok ? EXIT_OK : { fail: `cannot ask trellisd: ${h.error.message}` };
    }
    case 'set': {
      const r = await client.patchPrefs(cmd.prefs);
      if (!r.ok) return failed(r.error);
      return EXIT_OK;
    }
    case 'exit-node': {
      if (cmd.action === 'suggest') {
        const r = await client.suggestExitNode();
        if (!r.ok) return failed(r.error);
        io.stdout(cmd.json ? `${JSON.stringify(r.value, null, 2)}\n` : renderSuggestion(r.value));
        return EXIT_OK;
      }
      const r = await client.status();
      if (!r.ok) return failed(r.error);
      io.stdout(
        cmd.json
          ? `${JSON.stringify(
              r.value.peers.filter((p) => p.exitNodeOption),
              null,
              2,
            )}\n`
          : renderExitNodes(r.value),
      );
      return EXIT_OK;
    }
    case 'netcheck': {
      const r = await client.netcheck();
      if (!r.ok) return failed(r.error);
      io.stdout(cmd.json ? `${JSON.stringify(r.value, null, 2)}\n` : renderNetcheck(r.value));
      return EXIT_OK;
    }
  }
}

export function findPeer(s: Status, q: string): PeerStatus | null {
  const query = q.trim().toLowerCase().replace(/\.$/, '');
  return (
    s.peers.find(
      (p) =>
        p.id === q ||
        p.name === query ||
        p.fqdn === query ||
        p.addresses.ipv4 === query ||
        p.addresses.ipv6 === query,
    ) ?? null
  );
}

/** What the user is waiting for in each state; null when the wait is over. */
export function waitingFor(
  b: BackendState,
): { done: 'ok' } | { done: 'fail'; message: string } | { text: string } {
  switch (b.state) {
    case 'running':
      return { done: 'ok' };
    case 'error':
      return { done: 'fail', message: b.message };
    case 'stopped':
      return { done: 'fail', message: 'Trellis was stopped while waiting (trellis down)' };
    case 'needs-login':
      return { text: 'Waiting for you to log in' };
    case 'needs-approval':
      return { text: 'Waiting for an admin to approve this device' };
    case 'starting':
      return { text: 'Connecting' };
  }
}

/**
 * Follows the watch stream until the daemon is running: prints the login URL when one appears,
 * says so when an admin must approve, and shows progress (a spinner on a terminal).
 */
async function waitUntilRunning(
  client: LocalApiClient,
  io: CliIo,
  initial: BackendState,
  timeoutMs: number | null,
): Promise<number | Fail> {
  let spinnerText = '';
  let frame = 0;
  let shownUrl: string | null = null;
  let shownText = '';
  let spinner: NodeJS.Timeout | null = null;
  const clearSpinner = () => {
    if (spinner) {
      clearInterval(spinner);
      spinner = null;
      io.stderr('\r\x1b[K');
    }
  };
  const show = (b: BackendState): void => {
    if (b.state === 'needs-login' && b.loginUrl && b.loginUrl !== shownUrl) {
      shownUrl = b.loginUrl;
      if (spinner) io.stderr('\r\x1b[K');
      io.stderr(`\nTo log in, visit:\n\n\t${b.loginUrl}\n\n`);
    }
    const w = waitingFor(b);
    if (!('text' in w)) return;
    spinnerText = w.text;
    if (io.isTTY) {
      spinner ??= setInterval(() => {
        frame = (frame + 1) % SPINNER_FRAMES.length;
        io.stderr(`\r${SPINNER_FRAMES[frame]} ${spinnerText}...\x1b[K`);
      }, SPINNER_INTERVAL_MS);
    } else if (w.text !== shownText) {
      shownText = w.text;
      io.stderr(`${w.text}...\n`);
    }
  };

  const first = waitingFor(initial);
  if ('done' in first) return first.done === 'ok' ? reportUp(client, io) : { fail: first.message };
  show(initial);

  const outcome = await new Promise<{ ok: true } | Fail>((resolve) => {
    let settled = false;
    let handle: { close(): void } | null = null;
    const timer =
      timeoutMs === null
        ? null
        : setTimeout(
            () =>
              finish({
                fail: `timed out after ${Math.round(timeoutMs / 1000)}s waiting for Trellis to come up`,
              }),
            timeoutMs,
          );
    const finish = (o: { ok: true } | Fail) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      handle?.close();
      resolve(o);
    };
    const onEvent = (ev: WatchEvent) => {
      if (ev.type === 'notification' && ev.notification.level === 'error') {
        return finish({ fail: `${ev.notification.title}: ${ev.notification.body}` });
      }
      if (ev.type !== 'status') return;
      const w = waitingFor(ev.status.backend);
      if ('done' in w) return finish(w.done === 'ok' ? { ok: true } : { fail: w.message });
      show(ev.status.backend);
    };
    void client
      .watch({
        event: onEvent,
        closed: (e) =>
          finish({ fail: `lost the connection to trellisd${e ? `: ${e.message}` : ''}` }),
      })
      .then((r) => {
        if (!r.ok) return finish(failed(r.error));
        if (settled) r.value.close();
        else handle = r.value;
      });
  });
  clearSpinner();
  if ('fail' in outcome) return outcome;
  return reportUp(client, io);
}

async function reportUp(client: LocalApiClient, io: CliIo): Promise<number> {
  const s = await client.status();
  const self = s.ok ? s.value.self : null;
  io.stdout(self ? `Trellis is up: ${self.fqdn} ${self.addresses.ipv4}\n` : 'Trellis is up.\n');
  return EXIT_OK;
}
