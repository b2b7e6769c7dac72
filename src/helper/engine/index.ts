export { chooseEndpoint } from './endpoint.js';
export { DEFAULT_MTU, emptyOsConfig, osConfigFromNetmap, type OsConfigInput } from './os-config.js';
export {
  AUTO_EXIT_SWITCH_MARGIN_MS,
  chooseExitNode,
  exitNodeCandidates,
  pickExitNode,
  type ExitNodeChoice,
  type ExitNodePick,
} from './exit-node.js';
export { findPeer, tunnelPeers } from './peers.js';
export { isDefaultRoute, peerHostPrefixes, routedPrefixes } from './routes.js';
export {
  ACTIVE_SESSION_SECONDS,
  buildStatus,
  peerPath,
  type PeerPathStatus,
  type StatusInput,
} from './status.js';
export {
  emptyWgConfig,
  PERSISTENT_KEEPALIVE_SECONDS,
  wgConfigFromNetmap,
  type WgConfigInput,
} from './wg-config.js';
