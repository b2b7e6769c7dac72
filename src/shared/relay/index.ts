/** Relay wire format shared by the relay server (src/control/relay) and client (src/helper/relay). */
export * from './frame.js';
export * from './close-codes.js';
