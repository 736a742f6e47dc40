/**
 * The `wgjs` command line. Key commands are byte-compatible with `wg genkey`, `wg pubkey` and
 * `wg genpsk`.
 */
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createPortableProvider, formatKey, fromBase64, generatePrivateKey } from '@wgjs/core';

const USAGE = `Usage: wgjs <command> [arguments]

Commands:
  genkey            print a new private key (base64), as \`wg genkey\`
  pubkey            read a private key on stdin, print its public key, as \`wg pubkey\`
  genpsk            print a new preshared key, as \`wg genpsk\`
  help              this text
`;

const random = (b: Uint8Array, o: number, n: number): void => {
  randomFillSync(b, o, n);
};

/** Reads all of stdin (fd 0) synchronously. */
function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

/** Runs the CLI; returns the exit code. Output goes to stdout/stderr. */
export async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  switch (cmd) {
    case 'genkey':
      process.stdout.write(formatKey(generatePrivateKey(random)) + '\n');
      return 0;
    case 'genpsk': {
      const k = new Uint8Array(32);
      random(k, 0, 32);
      process.stdout.write(formatKey(k) + '\n');
      return 0;
    }
    case 'pubkey': {
      // `wg pubkey` accepts the key with surrounding whitespace (e.g. a trailing newline).
      const key = fromBase64(readStdin().trim());
      if (key === null || key.length !== 32) {
        process.stderr.write('wgjs: Key is not the correct length or format\n');
        return 1;
      }
      const pub = new Uint8Array(32);
      createPortableProvider().x25519Base(pub, key);
      process.stdout.write(formatKey(pub) + '\n');
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`wgjs: unknown command "${cmd}"\n\n${USAGE}`);
      return 1;
  }
}
