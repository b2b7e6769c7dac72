/** Relay clients used by magicsock: one per relay region in use, and the manager choosing them. */
export * from './backoff.js';
export * from './client.js';
export * from './home.js';
export * from './manager.js';
