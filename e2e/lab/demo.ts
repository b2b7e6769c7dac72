/**
 * The demo lab behind `npm run lab`: an internet with a real trellis-control (built-in relay and
 * STUN = region 1), a second relay region on another network, a public web host, and one site
 * per NAT kind with a device or two. Later work starts a trellisd per device through `onDevice`.
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
import { ControlReadyLine, RegionReadyLine, type HostPort } from './script-output.js';
import { startLabTcpEcho } from './tcp.js';
import { createNatLab, type Device, type NatLab, type Service, type Site } from './topology.js';

/** Where the demo's internet services live (services segment and wan segment). */
export const DEMO_ADDRESSES = {
  control: '198.51.100.10',
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
  readonly process: LabProcess;
}

export interface DemoRegion {
  readonly id: number;
  readonly stun: HostPort;
  readonly relayUrl: string;
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
}

const CONTROL_SCRIPT = fileURLToPath(new URL('./control-server.ts', import.meta.url));
const REGION_SCRIPT = fileURLToPath(new URL('./region-server.ts', import.meta.url));

/** The control config: built-in relay as region 1, region 2 listed for the relay map. */
function controlConfig(dataDir: string): unknown {
  const r2 = DEMO_ADDRESSES.region2;
  return {
    dataDir,
    insecureHttp: true,
    listen: { host: DEMO_ADDRESSES.control, port: DEMO_HTTP_PORT },
    stun: { enabled: true, host: DEMO_ADDRESSES.control, port: DEMO_STUN_PORT },
    relay: { enabled: true, regionId: DEMO_REGION_IDS.builtIn },
    relayRegions: [
      {
        id: DEMO_REGION_IDS.second,
        code: 'r2',
        name: 'Region 2',
        relays: [
          { url: `ws://${r2}:${DEMO_HTTP_PORT}/v1/relay`, stunHost: r2, stunPort: DEMO_STUN_PORT },
        ],
      },
    ],
    network: { name: 'Lab', domain: 'lab.trellis' },
    logLevel: 'warn',
  };
}

async function buildSites(lab: NatLab, specs: readonly DemoSiteSpec[]): Promise<Site[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const site = await lab.site({ name: spec.name, nat: spec.nat });
      for (const d of spec.devices) await site.device(d);
      return site;
    }),
  );
}

export async function buildDemoLab(options: DemoOptions = {}): Promise<DemoLab> {
  const lab = await createNatLab();
  try {
    const controlHost = await lab.service('control', { address: DEMO_ADDRESSES.control });
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
    writeFileSync(configFile, JSON.stringify(controlConfig(dataDir), null, 2), { mode: 0o600 });

    const controlProcess = await lab.spawnScript(controlHost.ns, CONTROL_SCRIPT, [
      '--config',
      configFile,
    ]);
    const regionProcess = await lab.spawnScript(region2Host.ns, REGION_SCRIPT, [
      '--host',
      DEMO_ADDRESSES.region2,
      '--region-id',
      String(DEMO_REGION_IDS.second),
      '--verify-key',
      verifyKey,
      '--stun-port',
      String(DEMO_STUN_PORT),
      '--relay-port',
      String(DEMO_HTTP_PORT),
    ]);
    const [sites, controlReady, regionReady, echo] = await Promise.all([
      buildSites(lab, options.sites ?? DEMO_SITES),
      controlProcess.waitForJson(ControlReadyLine),
      regionProcess.waitForJson(RegionReadyLine),
      startLabTcpEcho(lab, webHost, DEMO_ECHO_PORT),
    ]);
    const control: DemoControl = {
      service: controlHost,
      url: controlReady.url,
      owner: controlReady.owner,
      process: controlProcess,
    };
    const regions: DemoRegion[] = [
      {
        id: DEMO_REGION_IDS.builtIn,
        stun: controlReady.stun ?? { address: DEMO_ADDRESSES.control, port: DEMO_STUN_PORT },
        relayUrl: `ws://${DEMO_ADDRESSES.control}:${DEMO_HTTP_PORT}/v1/relay`,
      },
      { id: regionReady.regionId, stun: regionReady.stun, relayUrl: regionReady.relayUrl },
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
