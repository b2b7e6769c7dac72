/** Disco: authenticated path-discovery messages (ping, pong, call-me-maybe). */
export * from './endpoint.js';
export * from './message.js';
export * from './envelope.js';
