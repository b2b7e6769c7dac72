/** The policy engine's public surface (see README.md). */
export { autoApprove, mayApplyTag, type Advertisement, type AutoApproval } from './approve.js';
export {
  PolicyEngine,
  type DeviceDelta,
  type EngineOptions,
  type PeerSetChange,
  type PolicyChange,
  type PolicyDevice,
} from './compile.js';
export {
  DEFAULT_POLICY_TEXT,
  defaultPolicy,
  parsePolicy,
  type ParseOptions,
  type Policy,
} from './document.js';
export { formatPolicyError, type PolicyError, type PolicyErrorCode } from './errors.js';
export { loadGeoCsvFile, parseGeoCsv, type GeoCsvError, type GeoLookup } from './geo.js';
export type { PolicyOwner, PolicyRole, PolicyUser } from './match.js';
export { policyDeviceOf, reflexiveIp } from './mesh-adapter.js';
export {
  evaluatePostures,
  postureQueries,
  type DeviceFacts,
  type PostureEvaluation,
} from './posture.js';
export { MAX_POLICY_BYTES } from './schema.js';
export { checkPolicy, runPolicyTests, type TestOptions } from './tests.js';
