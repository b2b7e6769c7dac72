/**
 * A netcheck report: what the device's network allows, as the helper measures it (Tailscale's
 * netcheck). The helper sends it to control in map updates and shows it over the LocalAPI.
 */
import * as z from 'zod';
import { IpPortText, RegionId, RegionLatencies, Timestamp } from './common.js';

export const PortMappingSupport = z.object({
  upnp: z.boolean(),
  natPmp: z.boolean(),
  pcp: z.boolean(),
});
export type PortMappingSupport = z.infer<typeof PortMappingSupport>;

/** The port-mapping protocols the gateway speaks, by their usual names (CLI and app). */
export function portMappingProtocols(p: PortMappingSupport): string[] {
  return [p.upnp && 'UPnP', p.natPmp && 'NAT-PMP', p.pcp && 'PCP'].filter(
    (x): x is string => typeof x === 'string',
  );
}

export const NetcheckReport = z.object({
  /** Whether any STUN server answered over UDP. */
  udp: z.boolean(),
  ipv4: z.boolean(),
  ipv6: z.boolean(),
  /** Reflexive (public) endpoints STUN saw, or null when none answered for that family. */
  globalV4: IpPortText.nullable(),
  globalV6: IpPortText.nullable(),
  /**
   * Whether the NAT maps one local port to different public ports per destination ("hard" NAT,
   * which defeats simple hole punching). Null until two STUN servers answered.
   */
  mappingVariesByDest: z.boolean().nullable(),
  preferredRegion: RegionId.nullable(),
  regionLatencies: RegionLatencies,
  /** Which port-mapping protocols the gateway speaks; null when not probed. */
  portMapping: PortMappingSupport.nullable(),
  /** The public ip:port the gateway mapped for us (NAT-PMP/PCP); null or absent when none. */
  portMapped: IpPortText.nullable().optional(),
  measuredAt: Timestamp,
});
export type NetcheckReport = z.infer<typeof NetcheckReport>;
