/**
 * wgjs-flash against an emulated Espruino REPL over a socat pseudo-terminal pair: full flash,
 * read-back verification, resume, chunk loss and line noise, the clear errors, --dry-run, the
 * monitor, and that no private key ever reaches stdout or stderr.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SerialPort } from 'serialport';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPortableProvider } from '@wgjs/core/crypto/portable';
import { formatKey, generatePrivateKey, publicKeyOf } from '@wgjs/core/keys';
import { EmulatedEspruino, openPtyPair, WGJS_BOOT, type EmulatorOptions, type PtyPair } from '../emulator/repl.js';
import { defaultBuild, main, type CliIo } from '../flasher/cli.js';
import { buildDevice } from '../scripts/build.js';
import { loadProfile, parseIni, readConfigFile } from '../flasher/config.js';
import { crc32 } from '../flasher/crc32.js';
import { BOOT_CODE, planFile, type FlashResult, type FlashSettings } from '../flasher/flash.js';
import { parseFrame } from '../flasher/protocol.js';
import { Redactor } from '../flasher/redact.js';
import type { SessionStats } from '../flasher/session.js';
import { makeDeviceBuild } from './fixtures/device-build.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PKG = path.resolve(HERE, '..');
const REPO = path.resolve(PKG, '../..');
const PROFILE = path.join(REPO, 'hardware/esp32-sim7000');

const haveSocat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
if (!haveSocat) console.warn('flasher tests skipped: socat is not installed (apt-get install socat)');

/** Short timeouts: the emulator answers in milliseconds. */
const FAST: Partial<FlashSettings> = {
  queryTimeoutMs: 400,
  createTimeoutMs: 1500,
  syncTimeoutMs: 400,
  syncAttempts: 4,
  chunkRetries: 6,
  rounds: 5,
  handshakeTimeoutMs: 4000,
};

function newKey(): { priv: string; pub: string } {
  const k = generatePrivateKey((b, o, l) => {
    randomFillSync(b, o, l);
  });
  return { priv: formatKey(k), pub: formatKey(publicKeyOf(createPortableProvider(), k)) };
}

let dir: string;
let buildFile: string;
let build: Buffer;
const server = newKey();

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wgjs-flash-'));
  build = makeDeviceBuild(50_000);
  buildFile = path.join(dir, 'wgjs.js');
  writeFileSync(buildFile, build);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A device config file; the private key is included when given. */
function deviceConf(priv?: string, extra = ''): string {
  const f = path.join(dir, `device-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(
    f,
    `[Interface]\n${priv ? `PrivateKey = ${priv}\n` : ''}Address = 10.0.0.2/32\n\n` +
      `[Peer]\nPublicKey = ${server.pub}\nEndpoint = 127.0.0.1:51820\nAllowedIPs = 10.0.0.0/24\nPersistentKeepalive = 25\n\n` +
      `[Modem]\nAPN = iot.example\n${extra}`,
  );
  return f;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  result?: FlashResult;
  stats?: SessionStats;
  publicKey?: string;
}

/** Runs the CLI in-process with captured output. */
async function cli(args: string[], settings: Partial<FlashSettings> = FAST, signal?: AbortSignal): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const r: Run = { code: -1, stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    settings,
    signal,
    onResult: (x) => Object.assign(r, x),
  };
  r.code = await main(args, io);
  r.stdout = stdout;
  r.stderr = stderr;
  return r;
}

/** A pty pair with an emulated board on one end; closed after each test. */
let live: { pty: PtyPair; emu: EmulatedEspruino }[] = [];
async function board(opts: EmulatorOptions = {}): Promise<{ pty: PtyPair; emu: EmulatedEspruino }> {
  const pty = await openPtyPair();
  const emu = new EmulatedEspruino({ board: 'ESP32', version: '2v25', ...opts });
  await emu.attach(pty.board);
  const b = { pty, emu };
  live.push(b);
  return b;
}
afterEach(async () => {
  for (const b of live) {
    await b.emu.close();
    await b.pty.close();
  }
  live = [];
});

function flashArgs(port: string, conf: string, more: string[] = []): string[] {
  return ['--port', port, '--board', PROFILE, '--config', conf, '--build', buildFile, ...more];
}

/** The three files the board must hold after a good flash. */
function expectFlashed(emu: EmulatedEspruino, priv: string): void {
  expect(emu.storage.read('wgjs.js')!.equals(build)).toBe(true);
  expect(emu.storage.read('.boot0')!.toString('latin1')).toBe(BOOT_CODE);
  const cfg = JSON.parse(emu.storage.read('wgjs.cfg')!.toString('utf8')) as Record<string, unknown>;
  expect(cfg).toMatchObject({
    privateKey: priv,
    address: '10.0.0.2/32',
    peer: { publicKey: server.pub, endpoint: '127.0.0.1:51820', allowedIPs: ['10.0.0.0/24'], persistentKeepalive: 25 },
    modem: { dialect: 'sim7000', serial: 'Serial2', baud: 115200, tx: 'D27', rx: 'D26', pwrkey: 'D4', apn: 'iot.example' },
  });
}

describe('units', () => {
  it('boot code matches the contract and the emulator', () => {
    expect(BOOT_CODE).toBe(WGJS_BOOT);
  });

  it('CRC32 is the standard one (as E.CRC32)', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('parses framed answers and rejects damaged ones', () => {
    const p = '{"a":1}';
    expect(parseFrame(`noise <wf7 ${p} ${crc32(Buffer.from(p))}>`)).toEqual({ id: 7, value: { a: 1 } });
    expect(parseFrame(`<wf7 {"a":2} ${crc32(Buffer.from(p))}>`)).toBeNull();
  });

  it('plans: resume into erased chunks, recreate when a chunk differs or the size changed', () => {
    const data = Buffer.alloc(3000, 0x41);
    const f = { name: 'x', data, secret: false };
    const c = (b: Buffer) => crc32(b);
    const ok0 = c(data.subarray(0, 1024));
    const ok1 = c(data.subarray(1024, 2048));
    const erased2 = c(Buffer.alloc(952, 0xff));
    expect(planFile(f, { l: 3000, c: [ok0, ok1, erased2] }, 1024)).toMatchObject({ recreate: false, chunks: [2] });
    expect(planFile(f, { l: 3000, c: [ok0, 123, erased2] }, 1024)).toMatchObject({ recreate: true, chunks: [0, 1, 2] });
    expect(planFile(f, { l: 2999, c: [ok0, ok1, erased2] }, 1024).recreate).toBe(true);
    expect(planFile(f, null, 1024).chunks).toEqual([0, 1, 2]);
    expect(planFile(f, { l: 3000, c: [ok0, ok1, c(data.subarray(2048))] }, 1024).chunks).toEqual([]);
  });

  it('reads wg-quick syntax and refuses typos', () => {
    expect(parseIni('[Peer]\nAllowedIPs = a\nAllowedIPs = b # c\n', 'f')[0].entries.get('allowedips')).toEqual(['a', 'b']);
    const bad = path.join(dir, 'bad.conf');
    writeFileSync(bad, '[Peer]\nPublicKy = x\n');
    expect(() => readConfigFile(bad, () => {})).toThrow(/unknown key "publicky"/);
  });

  it('redacts secrets, including inside base64', () => {
    const k = newKey().priv;
    const r = new Redactor();
    r.add(k);
    const json = JSON.stringify({ privateKey: k, x: 1 });
    expect(r.apply(`key ${k}`)).toBe('key <redacted>');
    for (let pad = 0; pad < 3; pad++) {
      const b64 = Buffer.from(' '.repeat(pad) + json).toString('base64');
      expect(r.apply(b64)).toContain('<redacted>');
    }
  });

  it('every hardware profile loads and is consistent', () => {
    const hw = path.join(REPO, 'hardware');
    const boards = readdirSync(hw).filter((d) => {
      try {
        return statSync(path.join(hw, d, 'profile.json')).isFile();
      } catch {
        return false;
      }
    });
    expect(boards.length).toBeGreaterThanOrEqual(1);
    for (const b of boards) {
      const p = loadProfile(path.join(hw, b));
      expect(p.name).toBe(b);
    }
  });
});

describe.skipIf(!haveSocat)('the emulated REPL', () => {
  it('echoes, prompts and continues lines as Espruino does', async () => {
    const { pty } = await board();
    const port = new SerialPort({ path: pty.host, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    let out = '';
    port.on('data', (b: Buffer) => (out += b.toString('latin1')));
    const send = (s: string) => new Promise<void>((res) => port.write(Buffer.from(s, 'latin1'), () => port.drain(() => res())));
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 100 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 20));
      return re.test(out);
    };
    const frame = (id: number) => `(function(p){print("<wf${id} "+p+" "+E.CRC32(p)+">")})(JSON.stringify(1))`;
    try {
      // Echo on: the line comes back, then the answer, "=undefined" and the prompt.
      await send(frame(1) + '\n');
      expect(await waitFor(/>$/)).toBe(true);
      expect(out).toContain(frame(1));
      expect(out).toMatch(/<wf1 1 \d+>\r\n=undefined\r\n>$/);
      // DLE: that line is not echoed.
      out = '';
      await send('\x10' + frame(2) + '\n');
      expect(await waitFor(/<wf2 1 \d+>/)).toBe(true);
      expect(out).not.toContain('(function');
      // An unbalanced line waits for more input (nothing runs) until Ctrl-C clears it.
      out = '';
      await send('\x10echo(0)\n\x10(function(){\n');
      await new Promise((r) => setTimeout(r, 200));
      expect(out).toBe('');
      await send('\x03');
      await new Promise((r) => setTimeout(r, 50));
      await send('\x10' + frame(3) + '\n');
      expect(await waitFor(/<wf3 1 \d+>/)).toBe(true);
      expect(out).not.toContain('>\r\n>'); // echo(0): no prompts
    } finally {
      await new Promise<void>((res) => port.close(() => res()));
    }
  });
});

describe.skipIf(!haveSocat)('wgjs-flash against the emulated REPL', () => {
  it('flashes the build, config and boot file, verifies them and waits for the handshake', async () => {
    const { pty, emu } = await board();
    const key = newKey();
    const r = await cli(flashArgs(pty.host, deviceConf(key.priv)));
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expectFlashed(emu, key.priv);
    expect(r.stderr).toMatch(/wgjs\.js: 50\d{3} bytes, CRC32 0x[0-9a-f]{8} verified on the board/);
    expect(r.stderr).toMatch(/online: first handshake/);
    expect(r.result!.handshake!.peer).toBe(server.pub);
    expect(r.stdout).toContain(`Device public key: ${key.pub}`);
    expect(r.stdout).toMatch(new RegExp(`\\[Peer\\]\\n# wgjs device: esp32-sim7000\\nPublicKey = ${key.pub.replace(/[+/]/g, '\\$&')}\\nAllowedIPs = 10\\.0\\.0\\.2/32`));
    expect(r.stdout + r.stderr).not.toContain(key.priv);
    expect(emu.stats.loads).toBe(1);
    // Every byte went over once: no retries on a clean link.
    expect(emu.stats.bytesWritten).toBe(build.length + emu.storage.read('wgjs.cfg')!.length + BOOT_CODE.length);
    expect(r.stats!.retries).toBe(0);

    // Flashing the same again sends no file data and still brings the device up.
    const again = await cli(flashArgs(pty.host, deviceConf(key.priv)));
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('all files are already on the board');
    expect(again.stats!.chunkBytesSent).toBe(0);
  });

  it('resumes within the run after the board resets mid-upload', async () => {
    const { pty, emu } = await board({ faults: { resetAtChunk: 20 } });
    const key = newKey();
    const r = await cli(flashArgs(pty.host, deviceConf(key.priv)));
    expect(r.code).toBe(0);
    expectFlashed(emu, key.priv);
    expect(emu.stats.resets).toBe(1);
    expect(r.stderr).toMatch(/resuming/);
    // Only the chunk lost in the reset is sent again, not the 19 before it.
    expect(r.stats!.chunkBytesSent).toBeLessThan(build.length + 3 * 1024);
  });

  it('a second run resumes where an interrupted one stopped, sending fewer bytes', async () => {
    const { pty, emu } = await board({ faults: { hangAtChunk: 30 } });
    const key = newKey();
    const conf = deviceConf(key.priv);
    const first = await cli(flashArgs(pty.host, conf), { ...FAST, rounds: 2, chunkRetries: 1, syncAttempts: 2 });
    expect(first.code).toBe(8); // E_UPLOAD
    expect(first.stderr).toMatch(/running the same command again resumes/);
    expect(emu.storage.read('wgjs.js')).toBeDefined();
    expect(emu.storage.read('.boot0')).toBeUndefined();
    emu.revive();
    const second = await cli(flashArgs(pty.host, conf));
    expect(second.code).toBe(0);
    expectFlashed(emu, key.priv);
    expect(second.stderr).toMatch(/wgjs\.js: 29 of 49 chunks already on the board; resuming/);
    expect(second.stats!.chunkBytesSent).toBeLessThan(build.length - 25 * 1024);
    expect(second.stats!.chunkBytesSent).toBeLessThan(first.stats!.chunkBytesSent);
  });

  it('recovers from lost chunk lines and lost answers by retrying', async () => {
    const { pty, emu } = await board({ faults: { dropChunks: [3, 10, 11], dropAnswers: [5, 30] } });
    const key = newKey();
    const r = await cli(flashArgs(pty.host, deviceConf(key.priv)));
    expect(r.code).toBe(0);
    expectFlashed(emu, key.priv);
    expect(r.stats!.retries).toBeGreaterThanOrEqual(5);
  });

  it('recovers from line noise in both directions', async () => {
    const { pty, emu } = await board({ faults: { inputNoise: 0.12, outputNoise: 0.08 }, seed: 7 });
    const key = newKey();
    const r = await cli(flashArgs(pty.host, deviceConf(key.priv)), { ...FAST, chunkRetries: 10, rounds: 8 });
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    expectFlashed(emu, key.priv);
    expect(emu.stats.noisyInputLines).toBeGreaterThan(0);
    expect(r.stats!.retries).toBeGreaterThan(0);
  }, 90_000);

  it('rewrites a file once after a transient verification failure', async () => {
    const { pty, emu } = await board({ faults: { weakByte: { file: 'wgjs.js', offset: 30_001, once: true } } });
    const key = newKey();
    const r = await cli(flashArgs(pty.host, deviceConf(key.priv)));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/verification of wgjs\.js failed .*rewriting it/);
    expectFlashed(emu, key.priv);
  });

  it('reports a verification failure that persists', async () => {
    const { pty } = await board({ faults: { weakByte: { file: 'wgjs.js', offset: 30_001 } } });
    const r = await cli(flashArgs(pty.host, deviceConf(newKey().priv)));
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/error: verification failed for wgjs\.js: board has 50\d{3} bytes with CRC32 0x[0-9a-f]{8}, expected .* \(first difference in bytes 29696–30719\)/);
  });

  it('refuses old firmware before writing anything', async () => {
    const { pty, emu } = await board({ version: '2v10' });
    const r = await cli(flashArgs(pty.host, deviceConf(newKey().priv)));
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/error: the board runs Espruino 2v10, older than 2v20/);
    expect(emu.storage.files.size).toBe(0);
  });

  it('refuses a board of another type unless told to skip the check', async () => {
    const { pty } = await board({ board: 'PICO_R1_3' });
    const r = await cli(flashArgs(pty.host, deviceConf(newKey().priv)));
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/BOARD=PICO_R1_3 but the profile esp32-sim7000 is for ESP32/);
  });

  it('refuses when the board has not enough Storage', async () => {
    const { pty, emu } = await board({ storageBytes: 40_000 });
    const r = await cli(flashArgs(pty.host, deviceConf(newKey().priv)));
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/error: not enough Storage on the board: the files need \d+ bytes, \d+ are available/);
    expect(emu.storage.files.size).toBe(0);
  });

  it('refuses when the board has not enough free JsVars', async () => {
    const { pty } = await board({ jsVars: 2500, usedVars: 400 });
    const r = await cli(flashArgs(pty.host, deviceConf(newKey().priv)));
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/error: not enough RAM: 2100 JsVars free after reset\(\) \(of 2500\)/);
  });

  it('explains a missing handshake', async () => {
    const { pty } = await board({ device: { handshake: false, delayMs: 50 } });
    const r = await cli(flashArgs(pty.host, deviceConf(newKey().priv)), { ...FAST, handshakeTimeoutMs: 1500 });
    expect(r.code).toBe(10);
    expect(r.stdout).toContain('[Peer]');
    expect(r.stderr).toMatch(/no handshake was reported within 2 s\. Last device messages: .*error: modem: no answer to AT.*Check the modem wiring/);
  });

  it('shows the console and WGJS events in monitor mode', async () => {
    const { pty, emu } = await board();
    setTimeout(() => {
      emu.print('hello from the board\n');
      emu.print('WGJS {"event":"handshake","peer":"abcdefghijklmnop","ms":812}\n');
      emu.print('WGJS {"event":"status","rx":3,"tx":4}\n');
    }, 300);
    const r = await cli(['monitor', '--port', pty.host, '--duration', '1.2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hello from the board');
    expect(r.stdout).toMatch(/wgjs handshake with abcdefgh… \(812 ms\)/);
    expect(r.stdout).toMatch(/wgjs status rx=3 tx=4/);
    expect(r.stderr).toMatch(/1 handshake\(s\), 0 error\(s\); last status: status rx=3 tx=4/);
  });
});

describe('errors without a board', () => {
  it('says clearly when the port does not exist', async () => {
    const r = await cli(flashArgs('/dev/ttyWGJS-does-not-exist', deviceConf(newKey().priv)));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/error: no board at \/dev\/ttyWGJS-does-not-exist: that port does not exist/);
  });

  it('refuses a build larger than the board profile\'s Storage', async () => {
    const prof = path.join(dir, 'tiny-profile.json');
    writeFileSync(prof, JSON.stringify({ ...JSON.parse(readFileSync(path.join(PROFILE, 'profile.json'), 'utf8')), name: 'tiny', storageBytes: 32768 }));
    const r = await cli(['--port', '/dev/null', '--board', prof, '--config', deviceConf(newKey().priv), '--build', buildFile]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/tiny has 32768 bytes of Storage in total/);
  });

  it('names the missing config fields', async () => {
    const f = path.join(dir, 'partial.conf');
    writeFileSync(f, '[Interface]\nAddress = 10.0.0.2/32\n');
    const r = await cli(['--port', '/dev/null', '--board', PROFILE, '--config', f, '--build', buildFile]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/the server public key is missing/);
  });

  it('--dry-run writes what would be sent, without secrets unless asked', async () => {
    const key = newKey();
    const out = path.join(dir, 'dry.txt');
    const r = await cli(['--board', PROFILE, '--config', deviceConf(key.priv), '--build', buildFile, '--dry-run', out]);
    expect(r.code).toBe(0);
    const text = readFileSync(out).toString('latin1');
    expect(text.startsWith('\x10// wgjs-flash dry run')).toBe(true);
    expect(text).toContain('wgjs.cfg lines are left out because they contain the device private key');
    expect(text).toContain('"privateKey":"<redacted>"');
    expect(text).not.toContain(key.priv);
    // The wgjs.js chunks reassemble to the build byte for byte (quotes, backslashes, UTF-8, controls).
    const parts = [...text.matchAll(/\("wgjs\.js",(\d+),(\d+),(\d+),atob\("([A-Za-z0-9+/=]*)"\)\)/g)];
    expect(parts.length).toBe(Math.ceil(build.length / 1024));
    expect(Buffer.concat(parts.map((m) => Buffer.from(m[4], 'base64'))).equals(build)).toBe(true);
    expect(text).not.toMatch(/\("wgjs\.cfg",\d+/);
    expect(text.endsWith('\x10load()\n')).toBe(true);
    expect(r.stdout).toContain(`PublicKey = ${key.pub}`);

    const out2 = path.join(dir, 'dry-secrets.txt');
    const r2 = await cli(['--board', PROFILE, '--config', deviceConf(key.priv), '--build', buildFile, '--dry-run', out2, '--dry-run-secrets']);
    expect(r2.code).toBe(0);
    const text2 = readFileSync(out2).toString('latin1');
    expect(text2).toContain('WARNING: this file contains wgjs.cfg with the device PRIVATE KEY');
    const cfg = [...text2.matchAll(/\("wgjs\.cfg",0,(\d+),(\d+),atob\("([A-Za-z0-9+/=]*)"\)\)/g)];
    expect(cfg.length).toBe(1);
    expect(JSON.parse(Buffer.from(cfg[0][3], 'base64').toString('utf8')).privateKey).toBe(key.priv);
    expect(statSync(out2).mode & 0o777).toBe(0o600);
    expect(r2.stdout + r2.stderr).not.toContain(key.priv);
  });
});

describe('which build is flashed', () => {
  it('defaults to the per-board build of the modem dialect (dist/wgjs-<dialect>.js)', async () => {
    const d = await buildDevice({ dialect: 'sim7000' });
    expect(d.file).toBe(defaultBuild('sim7000'));
    const out = path.join(dir, 'dry-default.txt');
    const r = await cli(['--board', PROFILE, '--config', deviceConf(newKey().priv), '--dry-run', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`build ${defaultBuild('sim7000')}`);
    const text = readFileSync(out).toString('latin1');
    const parts = [...text.matchAll(/\("wgjs\.js",(\d+),(\d+),(\d+),atob\("([A-Za-z0-9+/=]*)"\)\)/g)];
    expect(Buffer.concat(parts.map((m) => Buffer.from(m[4], 'base64'))).toString('utf8')).toBe(d.code);
    // The [Modem] Dialect override picks that dialect's build.
    const r2 = await cli(['--board', PROFILE, '--config', deviceConf(newKey().priv), '--dialect', 'quectel', '--dry-run', out]);
    expect(r2.stderr).toContain(defaultBuild('quectel'));
  });

  it('refuses a per-board build made for another modem dialect', async () => {
    const other = path.join(dir, 'wgjs-quectel.js');
    writeFileSync(other, build);
    const r = await cli(['--board', PROFILE, '--config', deviceConf(newKey().priv), '--build', other, '--dry-run', path.join(dir, 'dry-other.txt')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/is the build for the quectel modem, but the modem dialect is sim7000/);
  });
});

describe.skipIf(!haveSocat)('the wgjs-flash program', () => {
  it('never prints the generated private key, even with --verbose', async () => {
    const { pty, emu } = await board();
    const keyFile = path.join(dir, 'generated.key');
    const bin = path.join(PKG, 'flasher/bin/wgjs-flash.mjs');
    const child = spawn(process.execPath, [bin, ...flashArgs(pty.host, deviceConf(), ['--key-file', keyFile, '--verbose', '--timeout', '1000', '--handshake-timeout', '10'])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    clearTimeout(killer);
    expect(stderr).toMatch(/generated a new device key, saved to/);
    expect(code).toBe(0);
    const priv = readFileSync(keyFile, 'utf8').trim();
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expectFlashed(emu, priv);
    const pub = formatKey(publicKeyOf(createPortableProvider(), Buffer.from(priv, 'base64')));
    expect(stdout).toContain(`Device public key: ${pub}`);
    expect(stderr).toContain('>> \\x10('); // the traffic log is on
    const all = stdout + stderr;
    expect(all).not.toContain(priv);
    // Nor the config as it travels (base64 of its JSON).
    expect(all).not.toContain(emu.storage.read('wgjs.cfg')!.toString('base64').slice(8, 40));
  }, 60_000);
});

