// wgjs:host-only
/**
 * Secrets (the device private key, the preshared key, the Wi-Fi password) must never reach a log
 * line. They live in `Secret` wrappers that print as `<redacted>` however they are formatted, and
 * every line the flasher writes passes through a `Redactor` that knows the secret strings and the
 * encodings in which they travel (the config is sent base64-encoded).
 */
import { inspect } from 'node:util';

const REDACTED = '<redacted>';

/** A string that refuses to be printed. Read it with `reveal()` only where it is sent. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret itself. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Replaces every registered secret (and its base64 form) in text written to logs. */
export class Redactor {
  private readonly needles: string[] = [];

  /** Registers a secret; strings shorter than 8 characters are ignored (they would over-match). */
  add(secret: string | Secret | undefined): void {
    if (secret === undefined) return;
    const s = typeof secret === 'string' ? secret : secret.reveal();
    if (s.length < 8 || this.needles.includes(s)) return;
    this.needles.push(s);
    // The config travels as base64 of its JSON text; a key inside it appears there at one of three
    // alignments. Register the stable middle part of each alignment's encoding.
    for (let shift = 0; shift < 3; shift++) {
      const enc = Buffer.from('x'.repeat(shift) + s, 'latin1').toString('base64');
      const start = Math.ceil((shift * 4) / 3) + 1;
      const inner = enc.slice(start, enc.length - 4);
      if (inner.length >= 12 && !this.needles.includes(inner)) this.needles.push(inner);
    }
    this.needles.sort((a, b) => b.length - a.length);
  }

  /** `text` with every secret replaced by `<redacted>`. */
  apply(text: string): string {
    let out = text;
    for (const n of this.needles) if (out.includes(n)) out = out.split(n).join(REDACTED);
    return out;
  }
}
