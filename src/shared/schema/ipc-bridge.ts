/**
 * The web bridge's wire format: the desktop IPC (ipc.ts) carried over one WebSocket between a
 * browser page and the bridge server on loopback. Frames are JSON; the page says hello with its
 * IPC version first, then invokes (answered by `result` with the same id), sends, and receives
 * `notify` frames. Both ends parse every frame with these schemas; payloads are then parsed again
 * by the channel's own schema (ipc-derive.ts), as with Electron's IPC.
 */
import * as z from 'zod';
import { Message } from './common.js';
import { IpcEnvelope } from './ipc-derive.js';

/** Channel names are "area:name"; 128 characters is far beyond any declared one. */
const Channel = z.string().min(3).max(128);
/** Invoke ids are the client's counters. */
const InvokeId = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const BridgeClientFrame = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), ipcVersion: z.number().int().min(1) }),
  z.object({ t: z.literal('invoke'), id: InvokeId, channel: Channel, payload: z.unknown() }),
  z.object({ t: z.literal('send'), channel: Channel, payload: z.unknown() }),
]);
export type BridgeClientFrame = z.infer<typeof BridgeClientFrame>;

export const BridgeServerFrame = z.discriminatedUnion('t', [
  z.object({ t: z.literal('welcome'), ipcVersion: z.number().int().min(1) }),
  z.object({ t: z.literal('result'), id: InvokeId, envelope: IpcEnvelope }),
  z.object({ t: z.literal('notify'), channel: Channel, payload: z.unknown() }),
  /** The server is closing the connection for this reason (bad frame, version mismatch). */
  z.object({ t: z.literal('error'), message: Message }),
]);
export type BridgeServerFrame = z.infer<typeof BridgeServerFrame>;

/** WebSocket close code for a page whose IPC version the server does not speak. */
export const BRIDGE_CLOSE_VERSION = 4001;
/** WebSocket close code for a frame that does not parse. */
export const BRIDGE_CLOSE_PROTOCOL = 4002;
