/** What a device tells control about itself: identity of the host, posture facts, advertisements. */
import * as z from 'zod';
import {
  Cidr,
  Cidrs,
  DisplayName,
  Hostname,
  MAX_PATH_LENGTH,
  MAX_VERSION_LENGTH,
  OsKind,
  SemVer,
} from '../common.js';

/** Process paths reported per device: posture checks name a handful, not a process table. */
export const MAX_REPORTED_PROCESSES = 256;
/** Local network ranges (one per interface address); hosts with more are unusual. */
export const MAX_LOCAL_NETWORKS = 256;

/**
 * Facts posture checks need that control cannot see itself. For privacy the helper reports only
 * the running processes among those the netmap's `postureQueries.processPaths` asks about.
 */
export const PostureFacts = z.object({
  runningProcesses: z.array(z.string().min(1).max(MAX_PATH_LENGTH)).max(MAX_REPORTED_PROCESSES),
  /** The networks of the device's non-mesh interfaces, e.g. "192.168.1.0/24". */
  localNetworks: z.array(Cidr).max(MAX_LOCAL_NETWORKS),
});
export type PostureFacts = z.infer<typeof PostureFacts>;

export const HostInfo = z.object({
  /** The OS hostname, raw; control derives the device name from it (names.ts). */
  hostname: Hostname,
  os: OsKind,
  /** The OS version in the form the OS reports it ("12", "14.4.1", "10.0.22631"). */
  osVersion: z.string().max(MAX_VERSION_LENGTH),
  kernelVersion: z.string().max(MAX_VERSION_LENGTH).optional(),
  /** The Trellis helper version; posture's minimum client version compares against it. */
  clientVersion: SemVer,
  /** CPU architecture as Node names it ("x64", "arm64"). */
  arch: z.string().max(32).optional(),
  /** The machine's model or distribution, for the admin console only. */
  description: DisplayName.optional(),
  posture: PostureFacts,
  /** Subnet routes this device offers to route for; admins or autoApprovers approve them. */
  advertisedRoutes: Cidrs,
  advertiseExitNode: z.boolean(),
});
export type HostInfo = z.infer<typeof HostInfo>;
