/** Port mapping on the gateway (NAT-PMP, PCP): a public ip:port peers can reach us on directly. */
export {
  PORTMAP_SERVER_PORT,
  REQUESTED_LIFETIME_SEC,
  UdpPortMapClient,
  type PortMapClient,
  type PortMapping,
  type PortmapError,
  type PortmapProbe,
} from './client.js';
export { defaultGateway, defaultGatewayFromProcRoute } from './gateway.js';
export {
  epochWentBack,
  MIN_RENEW_MS,
  PortMapper,
  RENEW_FRACTION,
  RENEW_RETRY_MS,
} from './mapper.js';
