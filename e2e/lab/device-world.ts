/**
 * Building blocks shared by the tests that run real trellisd devices in the demo lab (the device
 * feature test and the desktop UI on the lab): waiting for a value to settle, starting a probe
 * server, a LAN behind subnet routers, and tagged pre-auth keys as an admin makes them.
 */
import type { AdminRequest } from './device-probes.js';
import type { LabProcess } from './process.js';
import { ReadyLine } from './script-output.js';
import type { Device, NatLab } from './topology.js';

/** The entry `name` of a test's registry (devices, daemons); throws naming what is missing. */
export function named<T>(registry: ReadonlyMap<string, T>, what: string, name: string): T {
  const x = registry.get(name);
  if (x === undefined) throw new Error(`no ${what} ${name}`);
  return x;
}

/**
 * Polls `fn` every 500 ms until `ok` holds for its value, returning that value; throws with the
 * last value (or error) seen once `timeoutMs` has passed.
 */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown = null;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (e) {
      error = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `timed out waiting for ${what}; last: ${JSON.stringify(last)}${error ? ` (${String(error)})` : ''}`,
  );
}

/** Starts a lab script server (whoami.ts, dns-stub.ts, ...) in `ns` and waits for its ready line. */
export async function serveScript(
  lab: NatLab,
  ns: string,
  script: string,
  args: readonly string[],
): Promise<LabProcess> {
  const p = await lab.spawnScript(ns, script, args);
  await p.waitForJson(ReadyLine);
  return p;
}

export interface RouterLanSpec {
  /** The LAN's prefix, e.g. 10.99.0.0/24 (a /24: the addresses below take its mask). */
  readonly prefix: string;
  /** The LAN host's address, on a bridge in the LAN's own namespace. */
  readonly host: string;
  /** The subnet routers, each with its address on the LAN (interface `lan0`). */
  readonly routers: readonly { readonly device: Device; readonly address: string }[];
}

/**
 * A LAN behind subnet routers: a bridge in a namespace of its own holding the LAN host's
 * address, and one veth from it to each router. Returns the LAN namespace, where tests start
 * servers on `spec.host`.
 */
export async function buildRouterLan(lab: NatLab, spec: RouterLanSpec): Promise<string> {
  const bits = spec.prefix.split('/')[1];
  const lanNs = await lab.base.createNamespace('-lan');
  await lab.exec(lanNs, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await lab.base.setUp(lanNs, 'br0');
  await lab.base.addAddress(lanNs, 'br0', `${spec.host}/${bits}`);
  for (const { device, address } of spec.routers) {
    await lab.base.createVeth(device.ns, 'lan0', lanNs, device.name);
    await lab.exec(lanNs, 'ip', ['link', 'set', 'dev', device.name, 'master', 'br0']);
    await lab.base.setUp(lanNs, device.name);
    await lab.base.setUp(device.ns, 'lan0');
    await lab.base.addAddress(device.ns, 'lan0', `${address}/${bits}`);
    await lab.base.waitLinkReady(device.ns, 'lan0');
  }
  return lanNs;
}

/** The admin call that makes a reusable, pre-approved pre-auth key for tagged devices. */
export const taggedKeyRequest = (tag: string): AdminRequest => ({
  method: 'POST',
  path: '/v1/admin/preauth-keys',
  body: { description: tag, reusable: true, preapproved: true, tags: [tag], expiresIn: 7200 },
});
