/** Relay client used by magicsock: one per relay region in use. */
export * from './backoff.js';
export * from './client.js';
