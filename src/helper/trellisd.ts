#!/usr/bin/env node
/**
 * trellisd, the privileged helper: picks the WireGuard backend and the OS configurator, opens
 * the state directory, serves the LocalAPI on its socket and runs the daemon until SIGINT or
 * SIGTERM (or, with --stop-on-stdin-close, the end of stdin), when it removes its interface and
 * OS config (state stays). See docs/cli.md.
 */
import pino from 'pino';
import { TRELLIS_VERSION } from '../shared/version.js';
import { systemHostEnv } from './control-client/hostinfo.js';
import { Daemon } from './daemon/daemon.js';
import { parseTrellisdFlags, TRELLISD_USAGE, type TrellisdFlags } from './daemon/flags.js';
import { daemonHandlers } from './daemon/handlers.js';
import type { Logger } from './daemon/log.js';
import { SystemPinger } from './daemon/ping.js';
import { MagicDnsServer } from './dns/server.js';
import { LocalApiServer } from './localapi/server.js';
import { Magicsock } from './magicsock/magicsock.js';
import { defaultGateway, UdpPortMapClient } from './portmap/index.js';
import { linuxFastPathSystem, openFastPath } from './magicsock/fast-path.js';
import { systemClock } from './control-client/clock.js';
import { uapiSocketPath } from './wg/uapi.js';
import { resolveSocketAccess, socketAccessNotice } from './localapi/socket.js';
import { darwinTunName, DarwinOsConfigurator, UTUN_RE } from './os/darwin.js';
import { LinuxOsConfigurator } from './os/linux.js';
import type { OsConfigurator } from './os/types.js';
import { WindowsOsConfigurator } from './os/windows.js';
import { StateStore } from './state/store.js';
import { runCommand } from './exec.js';
import { chooseBackend } from './wg/choose.js';
import { KernelWireGuardBackend } from './wg/kernel.js';
import type { WireGuardBackend } from './wg/types.js';
import { WireGuardGoBackend } from './wg/wireguard-go.js';

/** A stop that hangs (a stuck `ip` call) must not keep a service manager waiting forever. */
const STOP_DEADLINE_MS = 20_000;

async function selectBackend(flags: TrellisdFlags, log: Logger): Promise<WireGuardBackend> {
  const netns = flags.netns !== null ? { netns: flags.netns } : {};
  const wireguardGo = {
    onExit: (e: { name: string; error: Error }) =>
      log.error({ name: e.name, error: e.error.message }, 'wireguard-go exited'),
  };
  switch (flags.backend) {
    case 'wireguard-go':
      return new WireGuardGoBackend({ ...netns, ...wireguardGo });
    case 'kernel':
      return new KernelWireGuardBackend(netns);
    case 'auto':
      return chooseBackend({ ...netns, wireguardGo });
  }
}

/** The OS configurator for this platform (see src/helper/os/). */
function platformOsConfigurator(interfaceName: string, netns: string | null): OsConfigurator {
  switch (process.platform) {
    case 'win32':
      return new WindowsOsConfigurator({ interfaceName });
    case 'darwin':
      return new DarwinOsConfigurator({ interfaceName });
    default:
      return new LinuxOsConfigurator({ interfaceName, ...(netns !== null ? { netns } : {}) });
  }
}

/** macOS tunnels must be utunN: any other name (the default) becomes the first free one. */
async function platformTunName(requested: string, log: Logger): Promise<string> {
  if (process.platform !== 'darwin' || UTUN_RE.test(requested)) return requested;
  const { stdout } = await runCommand('ifconfig', ['-l']);
  const name = darwinTunName(stdout.trim().split(/\s+/));
  log.info({ requested, name }, 'macOS: using a utun interface');
  return name;
}

async function main(): Promise<number> {
  const parsed = parseTrellisdFlags(process.argv.slice(2));
  if (!parsed.ok) {
    process.stderr.write(`trellisd: ${parsed.error}\n${TRELLISD_USAGE}`);
    return 2;
  }
  if (parsed.value === 'help') {
    process.stdout.write(TRELLISD_USAGE);
    return 0;
  }
  const flags = parsed.value;
  const log = pino({ name: 'trellisd', level: flags.logLevel });
  log.info(
    {
      version: TRELLIS_VERSION,
      stateDir: flags.stateDir,
      socket: flags.socket,
      tun: flags.tunName,
    },
    'trellisd starting',
  );

  const access = await resolveSocketAccess(flags.socketGroup);
  const notice = socketAccessNotice(access);
  log[notice.level](notice.fields, notice.msg);

  const store = await StateStore.open(flags.stateDir);
  const backend = await selectBackend(flags, log);
  const tunName = await platformTunName(flags.tunName, log);
  log.info({ backend: backend.kind }, 'WireGuard backend');
  const fastPath = flags.magicsock
    ? await openFastPath({
        mode: flags.fastPath,
        platform: process.platform,
        backend: backend.kind,
        system: linuxFastPathSystem(runCommand, uapiSocketPath(tunName)),
        log,
        clock: systemClock,
      })
    : null;
  const magicsock = flags.magicsock
    ? new Magicsock({ port: flags.port, log, ...(fastPath ? { fastPath } : {}) })
    : undefined;
  log.info(
    { magicsock: magicsock !== undefined, port: flags.port, fastPath: fastPath !== null },
    magicsock ? 'magicsock carries peer traffic' : 'WireGuard owns the UDP port (no magicsock)',
  );
  const daemon = new Daemon(
    {
      tunName,
      listenPort: flags.port,
      mtu: flags.mtu,
      defaultControlUrl: flags.controlUrl,
    },
    {
      store,
      backend,
      os: platformOsConfigurator(tunName, flags.netns),
      hostEnv: systemHostEnv,
      pinger: new SystemPinger(flags.netns !== null ? { netns: flags.netns } : {}),
      log,
      ...(magicsock ? { magicsock } : {}),
      // The gateway of trellisd's own namespace (the default route): PCP, NAT-PMP, UPnP IGD.
      portMap: { client: new UdpPortMapClient(), gateway: defaultGateway },
      // Its sockets live in trellisd's own namespace, so not with --netns (DNS is left alone).
      ...(flags.netns === null ? { dns: new MagicDnsServer({ log }) } : {}),
    },
  );
  await daemon.load();
  const server = new LocalApiServer({
    handlers: daemonHandlers(daemon),
    watch: daemon.watch,
    daemonVersion: TRELLIS_VERSION,
    log,
  });
  await server.listen(flags.socket, access);
  log.info({ socket: flags.socket }, 'LocalAPI listening');

  // Signals are handled from here on, so a stop during startup still cleans up.
  const exited = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without cleanup');
        resolve(1);
        return;
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      const deadline = setTimeout(() => {
        log.error({}, 'stop took too long; exiting');
        resolve(1);
      }, STOP_DEADLINE_MS);
      deadline.unref();
      void (async () => {
        await server
          .close()
          .catch((e: unknown) => log.warn({ err: e }, 'closing the LocalAPI failed'));
        await daemon
          .stop()
          .catch((e: unknown) => log.error({ err: e }, 'stopping the daemon failed'));
        clearTimeout(deadline);
        resolve(0);
      })();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    if (flags.stopOnStdinClose) {
      // The Windows service host holds the other end of stdin and closes it to ask for a stop.
      process.stdin.on('end', () => stop('stdin closed'));
      process.stdin.on('error', () => stop('stdin failed'));
      process.stdin.resume();
    }
  });
  await daemon.run();
  log.info({ state: daemon.backendState().state }, 'trellisd running');
  return exited;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`trellisd: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
