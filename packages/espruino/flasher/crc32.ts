// wgjs:host-only
/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF): the same
 * function as Espruino's `E.CRC32` (src/jswrap_espruino.c), so a checksum computed here matches
 * one printed by the board. Node 20 has no `zlib.crc32` (added in Node 22), hence this table.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `data` (continuing from `crc`, the value of a previous call, when given). */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-32 of a string taken as Latin-1 bytes (char codes 0–255), as `E.CRC32(string)` does. */
export function crc32Latin1(s: string): number {
  return crc32(Buffer.from(s, 'latin1'));
}
