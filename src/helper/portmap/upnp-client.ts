/**
 * UPnP IGD port mapping, as Tailscale's portmapper does it: an SSDP M-SEARCH to the gateway
 * (unicast, which most home routers answer, and to the SSDP multicast group from the interface
 * that faces the gateway), the root description the answer points to, then SOAP actions on the
 * WANIPConnection (or WANPPPConnection) service. Only the default gateway is believed: answers
 * from other addresses are ignored and every URL must point at the gateway itself.
 */
import dgram from 'node:dgram';
import { err, ok, type Result } from '../../shared/result.js';
import {
  encodeMSearch,
  encodeSoapRequest,
  externalAddressOf,
  MAX_DESCRIPTION_BYTES,
  MAX_SOAP_RESPONSE_BYTES,
  parseRootDescription,
  parseSoapResponse,
  parseSsdpResponse,
  SSDP_MULTICAST_ADDRESS,
  SSDP_PORT,
  UPNP_CONFLICT_IN_MAPPING_ENTRY,
  UPNP_ONLY_PERMANENT_LEASES_SUPPORTED,
  upnpError,
  type UpnpError,
  type WanService,
} from './upnp.js';

/**
 * How long an M-SEARCH waits for the gateway. Multicast answers are delayed by up to MX (1 s)
 * seconds (UDA 1.1 §1.3.3), so 1.5 s covers one MX window plus a loaded LAN.
 */
export const SSDP_TIMEOUT_MS = 1_500;
/** Send the M-SEARCH again after this long (UDP may drop it; UDA suggests repeating it). */
export const SSDP_RETRY_MS = 500;
/** SSDP's recommended TTL (UDA 1.1 §1.1.2): the gateway is one hop away. */
export const SSDP_MULTICAST_TTL = 2;
/**
 * One HTTP exchange with the gateway (connect, headers and the whole body). A LAN gateway answers
 * in milliseconds; a slow body past this is abandoned.
 */
export const UPNP_HTTP_TIMEOUT_MS = 3_000;
/** The description every mapping carries (what an admin sees in the router's table). */
export const UPNP_MAPPING_DESCRIPTION = 'trellis';
/** Random external ports (after a conflict) come from the unprivileged range. */
const RANDOM_PORT_MIN = 1024;
const RANDOM_PORT_SPAN = 65536 - RANDOM_PORT_MIN;

export interface UpnpMapping {
  readonly service: WanService;
  readonly externalAddress: string;
  readonly externalPort: number;
  readonly lifetimeSec: number;
}

export interface UpnpClientOptions {
  /** The SSDP port on the gateway; 1900 except in tests with a fake gateway on loopback. */
  readonly ssdpPort?: number;
  /** The SSDP multicast group, or null to search by unicast to the gateway only (tests). */
  readonly multicastGroup?: string | null;
  readonly ssdpTimeoutMs?: number;
  readonly httpTimeoutMs?: number;
  /** For the random external port after a conflict. */
  readonly random?: () => number;
}

export class UpnpClient {
  private readonly ssdpPort: number;
  private readonly multicastGroup: string | null;
  private readonly ssdpTimeoutMs: number;
  private readonly httpTimeoutMs: number;
  private readonly random: () => number;

  constructor(options: UpnpClientOptions = {}) {
    this.ssdpPort = options.ssdpPort ?? SSDP_PORT;
    this.multicastGroup =
      options.multicastGroup === undefined ? SSDP_MULTICAST_ADDRESS : options.multicastGroup;
    this.ssdpTimeoutMs = options.ssdpTimeoutMs ?? SSDP_TIMEOUT_MS;
    this.httpTimeoutMs = options.httpTimeoutMs ?? UPNP_HTTP_TIMEOUT_MS;
    this.random = options.random ?? Math.random;
  }

  /** Whether the gateway answers an IGD search. Never throws. */
  async probe(gateway: string): Promise<boolean> {
    return (await this.discover(gateway)).ok;
  }

  /**
   * Creates (previous null) or renews a UDP mapping of `internalPort` for this host. A new one asks
   * for the same external port first, then a random one if that is taken (error 718).
   */
  async map(
    gateway: string,
    internalPort: number,
    previous: Pick<UpnpMapping, 'service' | 'externalPort'> | null,
    lifetimeSec: number,
  ): Promise<Result<UpnpMapping, UpnpError>> {
    if (previous !== null) {
      const r = await this.mapWith(previous.service, gateway, internalPort, previous, lifetimeSec);
      // The gateway may have restarted with another control URL (miniupnpd picks a random HTTP
      // port): find the service again, once.
      if (r.ok || r.error.code === 'soap-fault') return r;
    }
    const service = await this.findService(gateway);
    if (!service.ok) return service;
    return this.mapWith(service.value, gateway, internalPort, previous, lifetimeSec);
  }

  /** Deletes a mapping; best effort, never throws. */
  async unmap(mapping: Pick<UpnpMapping, 'service' | 'externalPort'>): Promise<void> {
    await this.soap(mapping.service, 'DeletePortMapping', [
      ['NewRemoteHost', ''],
      ['NewExternalPort', mapping.externalPort],
      ['NewProtocol', 'UDP'],
    ]).catch(() => undefined);
  }

  /** The gateway's port-mapping service: SSDP, then its root description. */
  async findService(gateway: string): Promise<Result<WanService, UpnpError>> {
    const found = await this.discover(gateway);
    if (!found.ok) return found;
    const location = found.value;
    const body = await this.http(location, { method: 'GET' }, MAX_DESCRIPTION_BYTES);
    if (!body.ok) return body;
    if (body.value.status !== 200) {
      return err(upnpError('http', `description: HTTP ${body.value.status}`));
    }
    const service = parseRootDescription(body.value.text, location);
    if (!service.ok) return service;
    if (service.value.controlUrl.hostname !== gateway) {
      return err(upnpError('bad-url', `control URL is not on the gateway: ${gateway}`));
    }
    return service;
  }

  private async mapWith(
    service: WanService,
    gateway: string,
    internalPort: number,
    previous: Pick<UpnpMapping, 'externalPort'> | null,
    lifetimeSec: number,
  ): Promise<Result<UpnpMapping, UpnpError>> {
    const client = await localAddressFor(gateway, this.ssdpPort);
    if (client === null) return err(upnpError('no-answer', `no route to the gateway ${gateway}`));
    const ip = await this.soap(service, 'GetExternalIPAddress', []);
    if (!ip.ok) return ip;
    const externalAddress = externalAddressOf(ip.value);
    if (!externalAddress.ok) return externalAddress;
    let externalPort = previous?.externalPort ?? internalPort;
    let lease = lifetimeSec;
    const add = () =>
      this.soap(service, 'AddPortMapping', [
        ['NewRemoteHost', ''],
        ['NewExternalPort', externalPort],
        ['NewProtocol', 'UDP'],
        ['NewInternalPort', internalPort],
        ['NewInternalClient', client],
        ['NewEnabled', 1],
        ['NewPortMappingDescription', UPNP_MAPPING_DESCRIPTION],
        ['NewLeaseDuration', lease],
      ]);
    let r = await add();
    if (!r.ok && r.error.upnpErrorCode === UPNP_ONLY_PERMANENT_LEASES_SUPPORTED) {
      // Some IGDv1 gateways take only permanent leases; we still renew (and delete on stop).
      lease = 0;
      r = await add();
    }
    if (!r.ok && r.error.upnpErrorCode === UPNP_CONFLICT_IN_MAPPING_ENTRY && previous === null) {
      externalPort = RANDOM_PORT_MIN + Math.floor(this.random() * RANDOM_PORT_SPAN);
      r = await add();
    }
    if (!r.ok) return r;
    return ok({ service, externalAddress: externalAddress.value, externalPort, lifetimeSec });
  }

  private async soap(
    service: WanService,
    action: string,
    args: readonly (readonly [string, string | number])[],
  ): Promise<Result<Record<string, string>, UpnpError>> {
    const r = await this.http(
      service.controlUrl,
      {
        method: 'POST',
        headers: {
          'content-type': 'text/xml; charset="utf-8"',
          soapaction: `"${service.serviceType}#${action}"`,
        },
        body: encodeSoapRequest(service.serviceType, action, args),
      },
      MAX_SOAP_RESPONSE_BYTES,
    );
    if (!r.ok) return r;
    // Faults come with HTTP 500 (SOAP 1.1 §6.2); anything else but 200 is not SOAP.
    if (r.value.status !== 200 && r.value.status !== 500) {
      return err(upnpError('http', `${action}: HTTP ${r.value.status}`));
    }
    return parseSoapResponse(r.value.text, action);
  }

  /**
   * One HTTP exchange with a size and time limit on the whole of it; typed errors only. No
   * redirects: a gateway that points elsewhere is not followed.
   */
  private async http(
    url: URL,
    init: { method: string; headers?: Record<string, string>; body?: string },
    maxBytes: number,
  ): Promise<Result<{ status: number; text: string }, UpnpError>> {
    const signal = AbortSignal.timeout(this.httpTimeoutMs);
    try {
      const response = await fetch(url, { ...init, signal, redirect: 'manual' });
      const declared = Number(response.headers.get('content-length') ?? '0');
      if (declared > maxBytes) {
        await response.body?.cancel().catch(() => undefined);
        return err(upnpError('too-large', `${url.pathname}: body of ${declared} bytes`));
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      if (response.body !== null) {
        const reader = response.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.byteLength;
          if (size > maxBytes) {
            await reader.cancel().catch(() => undefined);
            return err(upnpError('too-large', `${url.pathname}: body over ${maxBytes} bytes`));
          }
          chunks.push(value);
        }
      }
      return ok({ status: response.status, text: Buffer.concat(chunks).toString('utf8') });
    } catch (e) {
      if (signal.aborted) {
        return err(upnpError('timeout', `${url.pathname}: no answer in ${this.httpTimeoutMs} ms`));
      }
      return err(upnpError('http', `${url.pathname}: ${(e as Error).message}`));
    }
  }

  /**
   * Sends the M-SEARCH (unicast to the gateway, and to the multicast group from the address that
   * faces it) until the gateway answers with a usable LOCATION on itself. Never throws.
   */
  private discover(gateway: string): Promise<Result<URL, UpnpError>> {
    return new Promise((resolve) => {
      const socket = dgram.createSocket('udp4');
      const timers: NodeJS.Timeout[] = [];
      let last: UpnpError = upnpError('no-answer', `no SSDP answer from ${gateway}`);
      let done = false;
      const finish = (r: Result<URL, UpnpError>) => {
        if (done) return;
        done = true;
        for (const t of timers) clearTimeout(t);
        socket.close();
        resolve(r);
      };
      socket.on('error', (e) => finish(err(upnpError('no-answer', `SSDP: ${e.message}`))));
      socket.on('message', (packet, rinfo) => {
        // Anyone on the LAN can answer a multicast search; only the gateway is asked to map.
        if (rinfo.address !== gateway) return;
        const r = parseSsdpResponse(packet);
        if (r.ok && r.value.location.hostname !== gateway) {
          last = upnpError('bad-url', `LOCATION is not on the gateway: ${r.value.location.host}`);
          return;
        }
        if (!r.ok) {
          last = r.error;
          return;
        }
        finish(ok(r.value.location));
      });
      void (async () => {
        const local = this.multicastGroup === null ? null : await localAddressFor(gateway, 0);
        if (done) return;
        socket.bind(0, () => {
          try {
            if (local !== null) {
              socket.setMulticastInterface(local);
              socket.setMulticastTTL(SSDP_MULTICAST_TTL);
            }
          } catch {
            // Without multicast the unicast search still goes out.
          }
          const unicast = encodeMSearch(`${gateway}:${this.ssdpPort}`);
          const multicast = encodeMSearch();
          const send = () => {
            if (done) return;
            socket.send(unicast, this.ssdpPort, gateway, () => undefined);
            if (local !== null && this.multicastGroup !== null) {
              socket.send(multicast, this.ssdpPort, this.multicastGroup, () => undefined);
            }
          };
          send();
          timers.push(setTimeout(send, SSDP_RETRY_MS));
          timers.push(setTimeout(() => finish(err(last)), this.ssdpTimeoutMs));
        });
      })();
    });
  }
}

/**
 * The local address the kernel would use towards the gateway (a connected UDP socket sends
 * nothing): the NewInternalClient of our mappings and the interface for multicast. Null if no
 * route.
 */
function localAddressFor(gateway: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    let settled = false;
    const settle = (address: string | null) => {
      if (settled) return;
      settled = true;
      socket.close();
      resolve(address);
    };
    socket.on('error', () => settle(null));
    socket.connect(port === 0 ? SSDP_PORT : port, gateway, (e?: Error) => {
      if (e) settle(null);
      else settle(socket.address().address);
    });
  });
}
