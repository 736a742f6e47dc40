// wgjs:host-only
/** Error codes the flasher reports; the CLI prints the message and exits with a code per class. */
export type FlashErrorCode =
  | 'E_USAGE' // bad command line
  | 'E_CONFIG' // device config or board profile invalid
  | 'E_BUILD' // device build missing or unreadable
  | 'E_NO_PORT' // serial port missing, busy or not permitted
  | 'E_NO_REPL' // port opens but no Espruino REPL answers
  | 'E_BOARD' // board type differs from the profile
  | 'E_FIRMWARE' // Espruino too old or lacking what the flasher needs
  | 'E_STORAGE' // not enough Storage for the files
  | 'E_RAM' // not enough free JsVars for the build
  | 'E_UPLOAD' // chunks kept failing
  | 'E_VERIFY' // read-back checksum differs
  | 'E_HANDSHAKE' // device never reported a handshake
  | 'E_ABORTED';

/** An expected failure with a message written for the person at the board. */
export class FlashError extends Error {
  readonly code: FlashErrorCode;
  constructor(code: FlashErrorCode, message: string) {
    super(message);
    this.name = 'FlashError';
    this.code = code;
  }
}

/** Process exit status per error class (0 = success, 1 = unexpected error). */
export const EXIT_CODES: Record<FlashErrorCode, number> = {
  E_USAGE: 2,
  E_CONFIG: 3,
  E_BUILD: 3,
  E_NO_PORT: 4,
  E_NO_REPL: 5,
  E_BOARD: 6,
  E_FIRMWARE: 6,
  E_STORAGE: 7,
  E_RAM: 7,
  E_UPLOAD: 8,
  E_VERIFY: 9,
  E_HANDSHAKE: 10,
  E_ABORTED: 130,
};
