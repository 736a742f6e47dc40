/**
 * Reasons a datagram or packet is dropped. Every drop is counted under exactly one reason, so an
 * operator (or `wgjs doctor`) can tell what is wrong from the counters alone. Reasons start at 1:
 * the engine's entry points return 0 for "accepted" and the reason otherwise. An enum, so bundles
 * inline the numbers (on the device, an object of 23 names would cost RAM for nothing).
 */
export enum Drop {
  /** Datagram length does not match its message type. */
  BAD_LENGTH = 1,
  /** First byte is not a known message type or reserved bytes are not zero. */
  UNKNOWN_TYPE = 2,
  /** mac1 does not match: not meant for this key, or corrupted. */
  BAD_MAC1 = 3,
  /** Receiver index names no session or handshake of ours. */
  UNKNOWN_INDEX = 4,
  /** Transport data failed authentication (forged, corrupted, or wrong key). */
  AUTH_FAILED = 5,
  /** Counter already seen or too old for the replay window. */
  REPLAY = 6,
  /** Decrypted inner packet's source address is not in the sending peer's AllowedIPs. */
  SOURCE_NOT_ALLOWED = 7,
  /** Outgoing inner packet's destination matches no peer's AllowedIPs. */
  NO_ROUTE = 8,
  /** Under load, the source exceeded its handshake rate. */
  RATE_LIMITED = 9,
  /** A handshake message failed to decrypt or used a low-order key. */
  HANDSHAKE_FAILED = 10,
  /** Initiation from a static key that is not a configured peer. */
  UNKNOWN_PEER = 11,
  /** Initiation timestamp not newer than the last one accepted from that peer (replayed). */
  STALE_TIMESTAMP = 12,
  /** Initiations from one peer arriving faster than allowed. */
  INITIATION_FLOOD = 13,
  /** Transport data for a session older than REJECT_AFTER_TIME. */
  EXPIRED_SESSION = 14,
  /** Inner packet is not valid IPv4/IPv6 or is truncated. */
  BAD_INNER_PACKET = 15,
  /** The peer has no known endpoint to send to. */
  NO_ENDPOINT = 16,
  /** Staging queue was full while waiting for a handshake; the oldest packet was dropped. */
  STAGED_OVERFLOW = 17,
  /** Cookie reply that does not decrypt or was not expected. */
  BAD_COOKIE_REPLY = 18,
  /** Handshake response that does not match an initiation in flight. */
  UNEXPECTED_RESPONSE = 19,
  /** Outgoing inner packet larger than the MTU. */
  TOO_LARGE = 20,
  /** Handshake dropped for lack of a free session or index slot (capacity). */
  NO_SLOT = 21,
  /** Staged packets discarded when handshaking gave up after REKEY_ATTEMPT_TIME. */
  HANDSHAKE_GAVE_UP = 22,
  /** Staged packets discarded when the peer was put to sleep (sleep-and-wake mode). */
  ASLEEP = 23,
}

export type DropReason = Drop;

/** Snake-case names for each reason, indexed by its number (index 0 is unused). */
export const DROP_NAMES: readonly string[] = [
  'none', 'bad_length', 'unknown_type', 'bad_mac1', 'unknown_index', 'auth_failed', 'replay',
  'source_not_allowed', 'no_route', 'rate_limited', 'handshake_failed', 'unknown_peer',
  'stale_timestamp', 'initiation_flood', 'expired_session', 'bad_inner_packet', 'no_endpoint',
  'staged_overflow', 'bad_cookie_reply', 'unexpected_response', 'too_large', 'no_slot',
  'handshake_gave_up', 'asleep',
];

export const DROP_COUNT = DROP_NAMES.length;
