/**
 * The map stream: WebSocket `/v1/map`, authenticated by the node credential
 * (`Authorization: Bearer <nodeCredential>` on the upgrade request).
 *
 * The client speaks first (hello). The server answers with a full netmap, then deltas, each with
 * a sequence number one higher than the last. A client that reconnects sends the last resume
 * token and sequence it applied; the server continues with deltas when it still can, or starts
 * over with a full netmap. Either side sends keepalives when it has nothing else to say.
 */
import * as z from 'zod';
import {
  Counter,
  DiscoPublicKey,
  Message,
  NodePublicKey,
  ProtocolVersion,
  RegionId,
  RegionLatencies,
} from '../common.js';
import { NetcheckReport } from '../netcheck.js';
import { ControlErrorCode } from './errors.js';
import { HostInfo } from './hostinfo.js';
import { Endpoints, Netmap, NetmapPatch } from './netmap.js';

/**
 * Keepalive period of both sides: half the 60 s idle timeout common to proxies and load
 * balancers, so an idle stream is never cut by a middlebox.
 */
export const MAP_KEEPALIVE_INTERVAL_SECONDS = 30;
/** A side that hears nothing for this long (2.5 keepalives) treats the stream as dead and reconnects. */
export const MAP_IDLE_TIMEOUT_SECONDS = 75;

/** Opaque to the client; names the server's delta log generation. */
export const ResumeToken = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9._~-]+$/, 'bad resume token');

// Client → server -----------------------------------------------------------------------------

export const MapHello = z.object({
  type: z.literal('hello'),
  /** The client's CONTROL_PROTOCOL_VERSION. */
  version: ProtocolVersion,
  nodeKey: NodePublicKey,
  discoKey: DiscoPublicKey,
  resume: z.object({ token: ResumeToken, seq: Counter }).optional(),
});
export type MapHello = z.infer<typeof MapHello>;

/** What changed on the device. Each present field replaces what control stored; absent = unchanged. */
export const MapUpdate = z.object({
  type: z.literal('update'),
  endpoints: Endpoints.optional(),
  hostInfo: HostInfo.optional(),
  preferredRelayRegion: RegionId.nullable().optional(),
  relayLatencies: RegionLatencies.optional(),
  netcheck: NetcheckReport.optional(),
});
export type MapUpdate = z.infer<typeof MapUpdate>;

export const MapKeepalive = z.object({ type: z.literal('keepalive') });
export type MapKeepalive = z.infer<typeof MapKeepalive>;

export const MapClientMessage = z.discriminatedUnion('type', [MapHello, MapUpdate, MapKeepalive]);
export type MapClientMessage = z.infer<typeof MapClientMessage>;

// Server → client -----------------------------------------------------------------------------

export const MapFull = z.object({
  type: z.literal('full'),
  seq: Counter,
  resumeToken: ResumeToken,
  netmap: Netmap,
});
export type MapFull = z.infer<typeof MapFull>;

export const MapDelta = z.object({
  type: z.literal('delta'),
  /** Always the previous message's seq + 1; a gap means the client must reconnect without resume. */
  seq: Counter,
  patch: NetmapPatch,
});
export type MapDelta = z.infer<typeof MapDelta>;

/** The server closes the stream after sending this. */
export const MapError = z.object({
  type: z.literal('error'),
  code: ControlErrorCode,
  message: Message,
  retryAfterSeconds: z.number().int().min(0).max(86_400).optional(),
});
export type MapError = z.infer<typeof MapError>;

/** The device must register again (log in) before it can stream; the server then closes. */
export const MapReauthRequired = z.object({
  type: z.literal('reauth-required'),
  reason: z.enum(['key-expired', 'device-deleted', 'credential-revoked', 'logged-out']),
  message: Message,
});
export type MapReauthRequired = z.infer<typeof MapReauthRequired>;

export const MapServerMessage = z.discriminatedUnion('type', [
  MapFull,
  MapDelta,
  MapKeepalive,
  MapError,
  MapReauthRequired,
]);
export type MapServerMessage = z.infer<typeof MapServerMessage>;
