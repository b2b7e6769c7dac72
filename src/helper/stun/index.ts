export { openSocket, socketSender, stunBinding } from './binding.js';
export {
  type BindingOptions,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  INITIAL_RTO_MS,
  StunClient,
  type StunBindingResult,
  type StunClientError,
  type StunClientOptions,
  type StunEndpoint,
} from './client.js';
