/**
 * Errors raised by the engine at configuration time.
 *
 * Espruino cannot subclass Error, so a wgjs error is a plain Error carrying a string `code`
 * property (like Node's system errors); test it with `(err as WgError).code === 'ECAPACITY'`.
 */

/** An Error with a machine-readable `code` (e.g. 'ECAPACITY', 'EINVAL'). */
export interface WgError extends Error {
  code: string;
}

/** Creates an Error whose `code` property is `code`. */
export function wgError(code: string, message: string): WgError {
  const err = new Error(message) as WgError;
  err.code = code;
  return err;
}
