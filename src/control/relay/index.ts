/** The relay server and the relay tokens control issues for it. */
export * from './metrics.js';
export * from './token.js';
export * from './token-keys.js';
export { DEFAULT_QUEUE_LIMITS, MAX_WATCHED_PEERS, type QueueLimits } from './connection.js';
export * from './server.js';
export * from './standalone.js';
