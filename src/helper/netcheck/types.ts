/**
 * The contract between netcheck and magicsock. STUN must leave from magicsock's own sockets (one
 * per family), so the reflexive addresses STUN servers report are the NAT mappings of the port
 * peers will send to; magicsock in turn hands every incoming STUN datagram back to netcheck.
 */

/** Where a datagram came from, as the socket reported it. */
export interface DatagramSource {
  readonly address: string;
  readonly port: number;
}

/** Sends STUN requests out of magicsock's sockets. */
export interface StunTransport {
  /**
   * Sends one datagram to `address` (an IP literal) on the socket of its family. May throw
   * (no socket for that family, closed): the probe then fails at once instead of timing out.
   */
  sendStun(packet: Uint8Array, address: string, port: number): void;
}

/** Takes the STUN datagrams magicsock's sockets receive. */
export interface StunSink {
  /**
   * Offers one datagram that looks like STUN. Returns true when it answered a request we were
   * waiting for; anything else (unknown transaction, garbage) is counted and ignored. Never throws.
   */
  handleStun(packet: Uint8Array, from: DatagramSource): boolean;
}

/** What netcheck ignored, for status and tests. */
export interface NetcheckCounters {
  /** Binding responses whose transaction id we were not waiting for (late, duplicate, forged). */
  readonly unknownTransaction: number;
  /** Datagrams offered as STUN that are not a Binding response we can read. */
  readonly notAResponse: number;
}

/** IP families this host can use for STUN. */
export interface Families {
  readonly ipv4: boolean;
  readonly ipv6: boolean;
}
