/** STUN codec (RFC 8489 / RFC 5389 Binding) shared by the control plane's server and the helper. */
export { type Addr, addrFromRemote } from './address.js';
export * from './constants.js';
export { crc32 } from './crc32.js';
export { type StunDecodeError, type StunDecodeErrorCode, decodeStun, isStun } from './decode.js';
export {
  type BindingSuccessOptions,
  type EncodeOptions,
  encodeBindingError,
  encodeBindingRequest,
  encodeBindingSuccess,
  encodeStun,
} from './encode.js';
export {
  type StunAttribute,
  type StunAttributeKind,
  type StunClass,
  type StunMessage,
  type TransactionId,
  findAttribute,
  mappedAddressOf,
} from './message.js';
export {
  DEFAULT_MAX_PENDING_TRANSACTIONS,
  TransactionTracker,
  type TransactionTrackerOptions,
  newTransactionId,
  transactionKey,
} from './transaction.js';
