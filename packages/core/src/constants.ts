/** Protocol constants, named as in the WireGuard whitepaper (section 6.1 and 5.4). Times in ms. */
export const REKEY_AFTER_MESSAGES = 1152921504606846976; // 2^60
/** 2^64 - 2^13 - 1 exceeds 2^53; counters are kept as doubles and capped at 2^53 (see session.ts). */
export const REJECT_AFTER_MESSAGES = 9007199254740992; // 2^53
export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
/** Jitter added to REKEY_TIMEOUT-based retries (kernel: up to 333 ms). */
export const REKEY_TIMEOUT_JITTER_MAX = 334;
export const KEEPALIVE_TIMEOUT = 10_000;
export const COOKIE_SECRET_MAX_AGE = 120_000;
export const COOKIE_SECRET_LATENCY = 5_000;
/** How long "under load" persists after the load that triggered it stops (wireguard-go: 1 s). */
export const UNDER_LOAD_AFTER_TIME = 1_000;
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT;

export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;
export const MESSAGE_TRANSPORT = 4;

export const INITIATION_SIZE = 148;
export const RESPONSE_SIZE = 92;
export const COOKIE_REPLY_SIZE = 64;
export const TRANSPORT_HEADER_SIZE = 16;
export const TAG_SIZE = 16;
/** Smallest transport message: header + tag of an empty (keepalive) payload. */
export const TRANSPORT_MIN_SIZE = TRANSPORT_HEADER_SIZE + TAG_SIZE;

export const KEY_SIZE = 32;
export const TIMESTAMP_SIZE = 12;
export const MAC_SIZE = 16;
export const COOKIE_SIZE = 16;
export const COOKIE_NONCE_SIZE = 24;

/** "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s" */
export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
/** "WireGuard v1 zx2c4 Jason@zx2c4.com" */
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const LABEL_MAC1 = 'mac1----';
export const LABEL_COOKIE = 'cookie--';
