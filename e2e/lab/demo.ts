/**
 * The demo lab behind `npm run lab`: an internet with a real trellis-control (built-in relay and
 * STUN = region 1), a second relay region on another network, a public web host, and one site
 * per NAT kind with a device or two. `onDevice` starts something per device (mesh.ts: a trellisd).
 *
 * With `builtInRelay: false` region 1 is a standalone relay + STUN host of its own instead of
 * control's built-in one, so that tests can stop a region's relay and control independently.
 * Control and the standalone regions can be stopped and started again (same data directory).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateRelayTokenKeyPair,
} from '../../src/control/relay/index.js';
import type { NatKind } from './nat.js';
import type { LabProcess } from './process.js';
import { RestartableScript } from './restartable.js';
import { ControlReadyLine, RegionReadyLine, type HostPort } from './script-output.js';
import { startLabTcpEcho } from './tcp.js';
import { createNatLab, type Device, type NatLab, type Service, type Site } from './topology.js';

/** Where the demo's internet services live (services segment and wan segment). */
export const DEMO_ADDRESSES = {
  control: '198.51.100.10',
  /** Region 1 when it does not run inside control (`builtInRelay: false`). */
  region1: '198.51.100.11',
  region2: '203.0.113.10',
  web: '198.51.100.80',
} as const;
/** Plain HTTP (the lab has no certificates): control's API and region 2's relay on port 80. */
export const DEMO_HTTP_PORT = 80;
export const DEMO_STUN_PORT = 3478;
/** The classic echo port, served over TCP by the web host for reachability checks. */
export const DEMO_ECHO_PORT = 7;
/** Region ids as the relay map numbers them: 1 is control's built-in relay. */
export const DEMO_REGION_IDS = { builtIn: 1, second: 2 } as const;

export interface DemoSiteSpec {
  readonly name: string;
  readonly nat: NatKind;
  readonly devices: readonly string[];
  /** The site router runs miniupnpd (NAT-PMP/PCP); see SiteOptions.portMapping. */
  readonly portMapping?: boolean;
}

/** One site per NAT kind, named for where such a NAT is met. */
export const DEMO_SITES: readonly DemoSiteSpec[] = [
  { name: 'open', nat: 'none', devices: ['server1'] },
  { name: 'home', nat: 'easy', devices: ['laptop', 'desktop'] },
  { name: 'mobile', nat: 'hard', devices: ['phone'] },
  { name: 'cgnat', nat: 'double', devices: ['tablet'] },
  { name: 'corp', nat: 'blocked', devices: ['workpc'] },
];

export interface DemoControl {
  readonly service: Service;
  readonly url: string;
  /** The network owner's first-run sign-in. */
  readonly owner: { readonly email: string; readonly password: string } | null;
  /** A reusable pre-auth key of the owner's, for `trellis up --auth-key`. */
  readonly authKey: string;
  /** The process of the latest start. */
  readonly process: LabProcess;
  readonly running: boolean;
  /** Stops control (and with it a built-in region 1); devices keep their last netmap. */
  stop(): Promise<void>;
  /** Starts it again on the same data directory and address. */
  start(): Promise<void>;
}

export interface DemoRegion {
  readonly id: number;
  readonly stun: HostPort;
  readonly relayUrl: string;
  /** False for control's built-in relay, which stops and starts only with control. */
  readonly standalone: boolean;
  readonly running: boolean;
  /** Stops this region's relay and STUN server (standalone regions only). */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface DemoLab {
  readonly lab: NatLab;
  readonly control: DemoControl;
  readonly regions: readonly DemoRegion[];
  readonly web: { readonly service: Service; readonly echo: HostPort };
  readonly sites: readonly Site[];
}

/**
 * Called once per device after the lab is up: the place to start a trellisd in `device.ns`
 * (with `lab.spawn`, so it is stopped on teardown) and sign it in to `control`.
 */
export type DeviceHook = (ctx: {
  readonly lab: NatLab;
  readonly device: Device;
  readonly control: DemoControl;
  readonly regions: readonly DemoRegion[];
}) => Promise<void>;

export interface DemoOptions {
  readonly sites?: readonly DemoSiteSpec[];
  readonly onDevice?: DeviceHook;
  /** Region 1 is control's built-in relay and STUN (default), or a host of its own (false). */
  readonly builtInRelay?: boolean;
}

const CONTROL_SCRIPT = fileURLToPath(new URL('./control-server.ts', import.meta.url));
const REGION_SCRIPT = fileURLToPath(new URL('./region-server.ts', import.meta.url));

/**
 * Control keeps a configured region whose id equals `relay.regionId` out of the relay map even
 * while the built-in relay is off, so a lab without one parks the built-in id here, unused.
 */
const UNUSED_BUILT_IN_REGION_ID = 999;

const standaloneRegion = (id: number, code: string, address: string): unknown => ({
  id,
  code,
  name: `Region ${id}`,
  relays: [
    {
      url: `ws://${address}:${DEMO_HTTP_PORT}/v1/relay`,
      stunHost: address,
      stunPort: DEMO_STUN_PORT,
    },
  ],
});

/**
 * The control config: region 1 built in (or a standalone host), region 2 standalone, both in
 * the relay map.
 */
function controlConfig(dataDir: string, builtInRelay: boolean): unknown {
  const region2 = standaloneRegion(DEMO_REGION_IDS.second, 'r2', DEMO_ADDRESSES.region2);
  return {
    dataDir,
    insecureHttp: true,
    listen: { host: DEMO_ADDRESSES.control, port: DEMO_HTTP_PORT },
    stun: { enabled: builtInRelay, host: DEMO_ADDRESSES.control, port: DEMO_STUN_PORT },
    relay: builtInRelay
      ? { enabled: true, regionId: DEMO_REGION_IDS.builtIn }
      : { enabled: false, regionId: UNUSED_BUILT_IN_REGION_ID },
    relayRegions: builtInRelay
      ? [region2]
      : [standaloneRegion(DEMO_REGION_IDS.builtIn, 'r1', DEMO_ADDRESSES.region1), region2],
    network: { name: 'Lab', domain: 'lab.trellis' },
    logLevel: 'warn',
  };
}

/** A standalone region (region-server.ts) on `service`, verifying control's relay tokens. */
async function startRegion(
  lab: NatLab,
  service: Service,
  id: number,
  verifyKey: string,
): Promise<DemoRegion> {
  const server = new RestartableScript(
    lab,
    service.ns,
    REGION_SCRIPT,
    [
      '--host',
      service.address,
      '--region-id',
      String(id),
      '--verify-key',
      verifyKey,
      '--stun-port',
      String(DEMO_STUN_PORT),
      '--relay-port',
      String(DEMO_HTTP_PORT),
    ],
    RegionReadyLine,
    `region${id}`,
  );
  const ready = await server.start();
  return {
    id: ready.regionId,
    stun: ready.stun,
    relayUrl: ready.relayUrl,
    standalone: true,
    get running() {
      return server.running;
    },
    stop: () => server.stop(),
    start: async () => {
      await server.start();
    },
  };
}

async function buildSites(lab: NatLab, specs: readonly DemoSiteSpec[]): Promise<Site[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const site = await lab.site({
        name: spec.name,
        nat: spec.nat,
        ...(spec.portMapping ? { portMapping: true } : {}),
      });
      for (const d of spec.devices) await site.device(d);
      return site;
    }),
  );
}

export async function buildDemoLab(options: DemoOptions = {}): Promise<DemoLab> {
  const builtInRelay = options.builtInRelay ?? true;
  const lab = await createNatLab();
  try {
    const controlHost = await lab.service('control', { address: DEMO_ADDRESSES.control });
    const region1Host = builtInRelay
      ? null
      : await lab.service('region1', { address: DEMO_ADDRESSES.region1 });
    const region2Host = await lab.service('region2', { address: DEMO_ADDRESSES.region2 });
    const webHost = await lab.service('web', { address: DEMO_ADDRESSES.web });

    // Control signs relay tokens; the separate region verifies them with the public half. The
    // key is made here so region 2 can start alongside control instead of after it.
    const work = lab.workDir();
    const dataDir = join(work, 'control');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const keys = generateRelayTokenKeyPair();
    writeFileSync(join(dataDir, 'relay-signing-key.pem'), exportPrivateKeyPem(keys.privateKey), {
      mode: 0o600,
    });
    const verifyKey = join(work, 'relay-verify-key.pem');
    writeFileSync(verifyKey, exportPublicKeyPem(keys.publicKey));
    const configFile = join(work, 'control.json');
    writeFileSync(configFile, JSON.stringify(controlConfig(dataDir, builtInRelay), null, 2), {
      mode: 0o600,
    });

    const controlServer = new RestartableScript(
      lab,
      controlHost.ns,
      CONTROL_SCRIPT,
      ['--config', configFile, '--preauth-key'],
      ControlReadyLine,
      'control',
    );
    const [sites, controlReady, region1, region2, echo] = await Promise.all([
      buildSites(lab, options.sites ?? DEMO_SITES),
      controlServer.start(),
      region1Host ? startRegion(lab, region1Host, DEMO_REGION_IDS.builtIn, verifyKey) : null,
      startRegion(lab, region2Host, DEMO_REGION_IDS.second, verifyKey),
      startLabTcpEcho(lab, webHost, DEMO_ECHO_PORT),
    ]);
    const { authKey } = controlReady;
    if (authKey === null) throw new Error('control made no pre-auth key on its first run');
    const control: DemoControl = {
      service: controlHost,
      url: controlReady.url,
      owner: controlReady.owner,
      authKey,
      get process() {
        return controlServer.process;
      },
      get running() {
        return controlServer.running;
      },
      stop: () => controlServer.stop(),
      start: async () => {
        await controlServer.start();
      },
    };
    const builtIn = (): never => {
      throw new Error(
        "region 1 is control's built-in relay: build the lab with builtInRelay: false",
      );
    };
    const regions: DemoRegion[] = [
      region1 ?? {
        id: DEMO_REGION_IDS.builtIn,
        stun: controlReady.stun ?? { address: DEMO_ADDRESSES.control, port: DEMO_STUN_PORT },
        relayUrl: `ws://${DEMO_ADDRESSES.control}:${DEMO_HTTP_PORT}/v1/relay`,
        standalone: false,
        get running() {
          return controlServer.running;
        },
        stop: async () => builtIn(),
        start: async () => builtIn(),
      },
      region2,
    ];
    if (options.onDevice) {
      for (const device of lab.devices()) {
        await options.onDevice({ lab, device, control, regions });
      }
    }
    return { lab, control, regions, web: { service: webHost, echo: echo.endpoint }, sites };
  } catch (e) {
    await lab.dispose();
    throw e;
  }
}
