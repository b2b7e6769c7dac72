/** LocalAPI transport details shared by the server and the client (beyond the schemas). */

/** Sent by clients on every request; a daemon that does not serve that version answers 426. */
export const LOCALAPI_VERSION_HEADER = 'trellis-localapi-version';
