/**
 * Talks PCP and NAT-PMP to the gateway over UDP, one short-lived socket per exchange, and UPnP IGD
 * (SSDP + SOAP over HTTP, upnp-client.ts) when neither answers. The mapping is for magicsock's
 * port: every protocol maps the requester's own address with the internal port named in the
 * request, so the request need not leave from magicsock's socket.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { err, ok, type Result } from '../../shared/result.js';
import type { PortMappingSupport } from '../../shared/schema/netcheck.js';
import {
  decodeNatPmpResponse,
  encodeExternalAddressRequest,
  encodeMapUdpRequest,
  type NatPmpResponse,
} from './natpmp.js';
import { decodePcpResponse, encodeAnnounceRequest, encodeMapRequest } from './pcp.js';
import type { WanService } from './upnp.js';
import { UpnpClient } from './upnp-client.js';

/** The port NAT-PMP and PCP servers listen on (RFC 6886 §3, RFC 6887 §19.1). */
export const PORTMAP_SERVER_PORT = 5351;
/**
 * RFC 6886 §3.1 starts retransmitting at 250 ms; a gateway on the LAN answers in a few ms, so two
 * sends over 750 ms tell "not spoken here" quickly enough for a netcheck.
 */
export const PORTMAP_RETRY_MS = 250;
export const PORTMAP_TIMEOUT_MS = 750;
/**
 * The lifetime we ask for (a UPnP lease too): RFC 6886 §3.3 recommends 7200 s; we renew at half
 * of what we get.
 */
export const REQUESTED_LIFETIME_SEC = 7200;

export interface PortMapping {
  readonly protocol: 'pcp' | 'nat-pmp' | 'upnp';
  readonly gateway: string;
  readonly internalPort: number;
  readonly externalAddress: string;
  readonly externalPort: number;
  readonly lifetimeSec: number;
  /** The server's epoch (PCP, NAT-PMP); UPnP has none. */
  readonly epoch: number | null;
  /** PCP: the nonce that owns the mapping (renewals and the delete must repeat it). */
  readonly nonce: Uint8Array | null;
  /** UPnP: the service (control URL) that holds the mapping. */
  readonly upnp: WanService | null;
}

export interface PortmapProbe {
  readonly support: PortMappingSupport;
  /** The server's epoch from the answer (PCP's, else NAT-PMP's); null when none answered. */
  readonly epoch: number | null;
}

export type PortmapErrorCode = 'no-answer' | 'refused' | 'unsupported';
export interface PortmapError {
  readonly code: PortmapErrorCode;
  readonly message: string;
}

/** What the mapping lifecycle needs of the gateway (UdpPortMapClient here, a fake in tests). */
export interface PortMapClient {
  probe(gateway: string): Promise<PortmapProbe>;
  /** Creates or renews (previous given: same nonce, same external port) a UDP mapping. */
  map(
    gateway: string,
    internalPort: number,
    previous: PortMapping | null,
  ): Promise<Result<PortMapping, PortmapError>>;
  /** Deletes a mapping; best effort, never throws. */
  unmap(mapping: PortMapping): Promise<void>;
}

export interface UdpPortMapClientOptions {
  /** The server port; 5351 except in tests that run a fake gateway on loopback. */
  readonly serverPort?: number;
  readonly timeoutMs?: number;
  /** UPnP IGD after PCP and NAT-PMP; null turns it off (tests of the UDP protocols). */
  readonly upnp?: UpnpClient | null;
}

type Decoded<T> = { ok: true; value: T } | { ok: false; refused: string };

export class UdpPortMapClient implements PortMapClient {
  private readonly serverPort: number;
  private readonly timeoutMs: number;
  private readonly upnp: UpnpClient | null;

  constructor(options: UdpPortMapClientOptions = {}) {
    this.serverPort = options.serverPort ?? PORTMAP_SERVER_PORT;
    this.timeoutMs = options.timeoutMs ?? PORTMAP_TIMEOUT_MS;
    this.upnp = options.upnp === undefined ? new UpnpClient() : options.upnp;
  }

  async probe(gateway: string): Promise<PortmapProbe> {
    const [pmp, pcp, upnp] = await Promise.all([
      this.exchange(
        gateway,
        () => encodeExternalAddressRequest(),
        decodeNatPmp('external-address'),
      ),
      this.exchange(gateway, (client) => encodeAnnounceRequest(client), decodePcp('announce')),
      this.upnp === null ? false : this.upnp.probe(gateway),
    ]);
    const pmpOk = pmp !== null && pmp.ok;
    const pcpOk = pcp !== null && pcp.ok;
    return {
      support: { upnp, natPmp: pmpOk, pcp: pcpOk },
      epoch: pcpOk ? pcp.value.epoch : pmpOk ? pmp.value.epoch : null,
    };
  }

  async map(
    gateway: string,
    internalPort: number,
    previous: PortMapping | null,
  ): Promise<Result<PortMapping, PortmapError>> {
    // PCP first (it names the external address in the answer), NAT-PMP if PCP is not spoken,
    // UPnP if neither is; a renewal stays with the protocol that made the mapping.
    if (previous?.protocol === 'upnp') return this.mapUpnp(gateway, internalPort, previous);
    if (previous === null || previous.protocol === 'pcp') {
      const nonce = previous?.nonce ?? Uint8Array.from(randomBytes(12));
      const pcp = await this.exchange(
        gateway,
        (client) =>
          encodeMapRequest({
            clientIpv4: client,
            nonce,
            internalPort,
            suggestedExternalPort: previous?.externalPort ?? internalPort,
            suggestedExternalIpv4: previous?.externalAddress ?? null,
            lifetimeSec: REQUESTED_LIFETIME_SEC,
          }),
        (packet) => {
          const r = decodePcp('map')(packet);
          // An answer to someone else's request (another nonce or port) is not ours.
          if (r?.ok && (!sameBytes(r.value.nonce, nonce) || r.value.internalPort !== internalPort))
            return null;
          return r;
        },
      );
      if (pcp !== null && pcp.ok) {
        const m = pcp.value;
        return ok({
          protocol: 'pcp',
          gateway,
          internalPort,
          externalAddress: m.externalAddress,
          externalPort: m.externalPort,
          lifetimeSec: m.lifetimeSec,
          epoch: m.epoch,
          nonce,
          upnp: null,
        });
      }
      if (previous !== null) return err(failure(pcp));
    }
    const address = await this.exchange(
      gateway,
      () => encodeExternalAddressRequest(),
      decodeNatPmp('external-address'),
    );
    if (address === null || !address.ok) {
      return previous === null
        ? this.mapUpnp(gateway, internalPort, null, address)
        : err(failure(address));
    }
    const mapping = await this.exchange(
      gateway,
      () =>
        encodeMapUdpRequest(
          internalPort,
          previous?.externalPort ?? internalPort,
          REQUESTED_LIFETIME_SEC,
        ),
      (packet) => {
        const r = decodeNatPmp('map-udp')(packet);
        return r?.ok && r.value.internalPort !== internalPort ? null : r;
      },
    );
    if (mapping === null || !mapping.ok) {
      return previous === null
        ? this.mapUpnp(gateway, internalPort, null, mapping)
        : err(failure(mapping));
    }
    return ok({
      protocol: 'nat-pmp',
      gateway,
      internalPort,
      externalAddress: address.value.address,
      externalPort: mapping.value.externalPort,
      lifetimeSec: mapping.value.lifetimeSec,
      epoch: mapping.value.epoch,
      nonce: null,
      upnp: null,
    });
  }

  /** UPnP, the last resort; `natPmp` is NAT-PMP's outcome for the error when UPnP is off. */
  private async mapUpnp(
    gateway: string,
    internalPort: number,
    previous: PortMapping | null,
    natPmp: Decoded<unknown> | null = null,
  ): Promise<Result<PortMapping, PortmapError>> {
    if (this.upnp === null) return err(failure(natPmp));
    const r = await this.upnp.map(
      gateway,
      internalPort,
      previous?.upnp ? { service: previous.upnp, externalPort: previous.externalPort } : null,
      REQUESTED_LIFETIME_SEC,
    );
    if (!r.ok) {
      const code =
        r.error.code === 'soap-fault'
          ? 'refused'
          : r.error.code === 'no-answer'
            ? 'no-answer'
            : 'unsupported';
      return err({ code, message: `UPnP: ${r.error.message}` });
    }
    return ok({
      protocol: 'upnp',
      gateway,
      internalPort,
      externalAddress: r.value.externalAddress,
      externalPort: r.value.externalPort,
      lifetimeSec: r.value.lifetimeSec,
      epoch: null,
      nonce: null,
      upnp: r.value.service,
    });
  }

  async unmap(m: PortMapping): Promise<void> {
    try {
      if (m.protocol === 'upnp') {
        if (m.upnp !== null && this.upnp !== null) {
          await this.upnp.unmap({ service: m.upnp, externalPort: m.externalPort });
        }
      } else if (m.protocol === 'pcp' && m.nonce !== null) {
        const nonce = m.nonce;
        await this.exchange(
          m.gateway,
          (client) =>
            encodeMapRequest({
              clientIpv4: client,
              nonce,
              internalPort: m.internalPort,
              suggestedExternalPort: 0,
              suggestedExternalIpv4: null,
              lifetimeSec: 0,
            }),
          (packet) => (decodePcpResponse(packet).ok ? { ok: true, value: null } : null),
        );
      } else {
        await this.exchange(
          m.gateway,
          () => encodeMapUdpRequest(m.internalPort, 0, 0),
          (packet) => (decodeNatPmpResponse(packet).ok ? { ok: true, value: null } : null),
        );
      }
    } catch {
      // Best effort: the mapping expires on its own.
    }
  }

  /**
   * Sends `request` to gateway:5351 (again after PORTMAP_RETRY_MS) until `decode` accepts an
   * answer (non-null). Null on timeout or when the gateway is unreachable. Never throws.
   */
  private exchange<T>(
    gateway: string,
    request: (clientAddress: string) => Uint8Array,
    decode: (packet: Uint8Array) => Decoded<T> | null,
  ): Promise<Decoded<T> | null> {
    return new Promise((resolve) => {
      const socket = dgram.createSocket('udp4');
      const timers: NodeJS.Timeout[] = [];
      let done = false;
      const finish = (result: Decoded<T> | null) => {
        if (done) return;
        done = true;
        for (const t of timers) clearTimeout(t);
        socket.close();
        resolve(result);
      };
      socket.on('error', () => finish(null));
      socket.on('message', (packet, rinfo) => {
        if (rinfo.address !== gateway || rinfo.port !== this.serverPort) return;
        const r = decode(packet);
        if (r !== null) finish(r);
      });
      socket.connect(this.serverPort, gateway, () => {
        let packet: Uint8Array;
        try {
          packet = request(socket.address().address);
        } catch {
          finish(null);
          return;
        }
        const send = () => {
          if (!done) socket.send(packet, () => undefined);
        };
        send();
        timers.push(setTimeout(send, PORTMAP_RETRY_MS));
        timers.push(setTimeout(() => finish(null), this.timeoutMs));
      });
    });
  }
}

function decodeNatPmp<Op extends NatPmpResponse['op']>(op: Op) {
  return (packet: Uint8Array): Decoded<Extract<NatPmpResponse, { op: Op }>> | null => {
    const r = decodeNatPmpResponse(packet);
    if (r.ok) return r.value.op === op ? { ok: true, value: r.value as never } : null;
    // A result code is an answer (the server speaks NAT-PMP but refuses); garbage is ignored.
    return r.error.code === 'result-code' ? { ok: false, refused: r.error.message } : null;
  };
}

function decodePcp<Op extends 'announce' | 'map'>(op: Op) {
  return (packet: Uint8Array) => {
    const r = decodePcpResponse(packet);
    if (r.ok) {
      return r.value.op === op
        ? { ok: true as const, value: r.value as Extract<typeof r.value, { op: Op }> }
        : null;
    }
    return r.error.code === 'result-code' ? { ok: false as const, refused: r.error.message } : null;
  };
}

function failure(r: Decoded<unknown> | null): PortmapError {
  if (r === null) return { code: 'no-answer', message: 'the gateway did not answer' };
  return r.ok
    ? { code: 'unsupported', message: 'unexpected answer' }
    : { code: 'refused', message: `the gateway refused: ${r.refused}` };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
