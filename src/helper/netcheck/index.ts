/** Netcheck and endpoint discovery: what the network allows, and where peers can reach us. */
export {
  DgramStunTransport,
  type DgramStunTransportOptions,
  netcheckOnOwnSockets,
} from './dgram-transport.js';
export {
  EndpointUpdater,
  type EndpointUpdaterOptions,
  LINK_POLL_INTERVAL_MS,
  type NetcheckRunner,
  RESTUN_INTERVAL_MS,
  RESTUN_JITTER_MS,
} from './endpoint-updater.js';
export { HTTP_PROBE_PATH, httpLatency, httpProbeUrl } from './http-latency.js';
export { localEndpoints } from './local-endpoints.js';
export {
  HTTP_FALLBACK_AFTER_MS,
  MAX_PROBED_RELAYS_PER_REGION,
  NETCHECK_BUDGET_MS,
  Netcheck,
  type NetcheckOptions,
  familiesOf,
  hostFamilies,
} from './netcheck.js';
export {
  PREFERRED_REGION_SWITCH_RATIO,
  buildReport,
  choosePreferredRegion,
  mappingVariesByDest,
  sameReport,
  type StunAnswer,
} from './report.js';
export type {
  DatagramSource,
  Families,
  NetcheckCounters,
  StunSink,
  StunTransport,
} from './types.js';
