/** AT engine unit tests: a scripted serial port and a manual clock, no real time passes. */
import { describe, expect, it } from 'vitest';
import { AtEngine } from '../src/at.js';
import type { AtOptions, AtSerial, AtTimers } from '../src/at.js';

/** Manual clock implementing AtTimers. */
class Clock implements AtTimers {
  now = 0;
  private seq = 0;
  private list = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.list.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.list.delete(h as number);
  }
  /** Advances time, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.list) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.list.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
  }
  get pending(): number {
    return this.list.size;
  }
}

/** Scripted serial port: records writes, feeds data. */
class FakeSerial implements AtSerial {
  written: (string | Uint8Array)[] = [];
  private cb: ((s: string) => void) | null = null;
  write(d: string | Uint8Array): void {
    this.written.push(d);
  }
  on(_e: 'data', cb: (s: string) => void): void {
    this.cb = cb;
  }
  /** Feeds `s` in chunks of `size` characters. */
  feed(s: string, size = 1 << 30): void {
    for (let i = 0; i < s.length; i += size) this.cb!(s.substring(i, i + size));
  }
  get text(): string {
    return this.written.map((w) => (typeof w === 'string' ? w : Buffer.from(w).toString('latin1'))).join('');
  }
}

function setup(opts: AtOptions = {}): { at: AtEngine; s: FakeSerial; clock: Clock; events: string[] } {
  const s = new FakeSerial();
  const clock = new Clock();
  const at = new AtEngine(s, { timers: clock, ...opts });
  const events: string[] = [];
  at.onEvent((t, l) => events.push(`${t}:${l}`));
  return { at, s, clock, events };
}

type Result = { err: string | null; lines: string[] } | null;

function capture(): { cb: (err: string | null, lines: string[]) => void; get: () => Result } {
  let r: Result = null;
  return {
    cb: (err, lines) => {
      if (r) throw new Error('callback called twice');
      r = { err, lines };
    },
    get: () => r,
  };
}

const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
/** Payload full of things a careless parser would take for structure. */
const NASTY = ALL_BYTES + '\r\nOK\r\n\r\nERROR\r\n+IPD,5:xx\r\n> \r\n+QIRD: 3\r\n\0\0\r\r\n\n' + ALL_BYTES;

function ipdEngine(bufSize?: number) {
  const env = setup(bufSize ? { bufSize } : {});
  const got: { data: string; header: string }[] = [];
  env.at.raw(
    '+IPD,',
    ':',
    (h) => parseInt(h.substring(5), 10),
    (buf, len, header) => got.push({ data: Buffer.from(buf.subarray(0, len)).toString('latin1'), header }),
  );
  return { ...env, got };
}

describe('AtEngine lines', () => {
  it('runs a command, collects information lines, strips echo, CR and blank lines', () => {
    const { at, s } = setup();
    const r = capture();
    at.cmd('AT+CSQ', null, r.cb);
    expect(s.text).toBe('AT+CSQ\r');
    s.feed('AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n');
    expect(r.get()).toEqual({ err: null, lines: ['+CSQ: 20,99'] });
  });

  it('handles a response split at every byte boundary', () => {
    const resp = '\r\n+CNACT: 0,1,"10.1.2.3"\r\n+CNACT: 1,0,"0.0.0.0"\r\n\r\nOK\r\n';
    for (let cut = 1; cut < resp.length; cut++) {
      const { at, s } = setup();
      const r = capture();
      at.cmd('AT+CNACT?', null, r.cb);
      s.feed(resp.substring(0, cut));
      expect(r.get()).toBeNull();
      s.feed(resp.substring(cut));
      expect(r.get()).toEqual({ err: null, lines: ['+CNACT: 0,1,"10.1.2.3"', '+CNACT: 1,0,"0.0.0.0"'] });
    }
  });

  it('parses a long mixed stream delivered in 32-byte chunks (and 1-byte chunks)', () => {
    for (const size of [32, 1, 7]) {
      const { at, s } = setup();
      const urcs: string[] = [];
      at.urc('+QIURC:', (l) => urcs.push(l));
      const results: Result[] = [];
      for (let i = 0; i < 5; i++) {
        const r = capture();
        at.cmd(`AT+X${i}`, { resp: '+X' }, (e, l) => {
          r.cb(e, l);
          results.push(r.get());
        });
      }
      let stream = '';
      for (let i = 0; i < 5; i++) stream += `\r\n+X${i}: ${'v'.repeat(i * 20)}\r\n\r\n+QIURC: "recv",${i}\r\n\r\nOK\r\n`;
      s.feed(stream, size);
      expect(results.map((x) => x!.lines[0])).toEqual([0, 1, 2, 3, 4].map((i) => `+X${i}: ${'v'.repeat(i * 20)}`.trim()));
      expect(urcs).toEqual([0, 1, 2, 3, 4].map((i) => `+QIURC: "recv",${i}`));
    }
  });

  it('routes URCs interleaved with a response to their handlers, not into the response', () => {
    const { at, s } = setup();
    const urcs: string[] = [];
    at.urc('+CREG:', (l) => urcs.push(l));
    const r = capture();
    at.cmd('AT+CGDCONT?', null, r.cb);
    s.feed('\r\n+CGDCONT: 1,"IP","apn"\r\n\r\n+CREG: 5\r\n+CGDCONT: 2,"IP","x"\r\n\r\nOK\r\n', 32);
    expect(r.get()).toEqual({ err: null, lines: ['+CGDCONT: 1,"IP","apn"', '+CGDCONT: 2,"IP","x"'] });
    expect(urcs).toEqual(['+CREG: 5']);
  });

  it('a resp prefix wins over a URC handler for the command\'s own lines', () => {
    const { at, s } = setup();
    const urcs: string[] = [];
    at.urc('+CPIN:', (l) => urcs.push(l));
    const r = capture();
    at.cmd('AT+CPIN?', { resp: '+CPIN:' }, r.cb);
    s.feed('\r\n+CPIN: READY\r\n\r\nOK\r\n');
    expect(r.get()).toEqual({ err: null, lines: ['+CPIN: READY'] });
    expect(urcs).toEqual([]);
  });

  it('drops garbage when idle and bounds a partial line without newline', () => {
    const { at, s } = setup();
    s.feed('\xff\xfe garbage\r\n\x00\x01\x02');
    s.feed('x'.repeat(5000));
    const r = capture();
    at.cmd('AT', null, r.cb);
    s.feed('\r\nOK\r\n');
    expect(r.get()).toEqual({ err: null, lines: [] });
  });

  it('queues commands and runs them one at a time, in order', () => {
    const { at, s } = setup();
    const order: string[] = [];
    at.cmd('AT+A', null, () => order.push('A'));
    at.cmd('AT+B', null, () => order.push('B'));
    expect(s.text).toBe('AT+A\r');
    s.feed('\r\nOK\r\n');
    expect(s.text).toBe('AT+A\rAT+B\r');
    s.feed('\r\nOK\r\n');
    expect(order).toEqual(['A', 'B']);
    expect(at.pending()).toBe(0);
  });

  it('a callback that throws does not stall the queue', () => {
    const { at, s } = setup();
    at.cmd('AT+A', null, () => {
      throw new Error('user bug');
    });
    const r = capture();
    at.cmd('AT+B', null, r.cb);
    expect(() => s.feed('\r\nOK\r\n')).toThrow('user bug');
    expect(s.text).toBe('AT+A\rAT+B\r');
    s.feed('\r\nOK\r\n');
    expect(r.get()!.err).toBeNull();
  });

  it('refuses commands beyond queueMax with busy', () => {
    const { at } = setup({ queueMax: 2 });
    const errs: (string | null)[] = [];
    expect(at.cmd('AT', null, (e) => errs.push(e))).toBe(true);
    expect(at.cmd('AT', null, (e) => errs.push(e))).toBe(true);
    expect(at.cmd('AT', null, (e) => errs.push(e))).toBe(false);
    expect(errs).toEqual(['busy']);
  });
});

describe('AtEngine results, timeouts, retries', () => {
  it('reports ERROR, +CME ERROR and +CMS ERROR', () => {
    for (const fin of ['ERROR', '+CME ERROR: 50', '+CMS ERROR: 321']) {
      const { at, s } = setup();
      const r = capture();
      at.cmd('AT+X', null, r.cb);
      s.feed(`\r\n${fin}\r\n`);
      expect(r.get()!.err).toBe(fin);
    }
  });

  it('retries after ERROR and succeeds', () => {
    const { at, s, clock } = setup({ retryDelay: 50 });
    const r = capture();
    at.cmd('AT+X', { retries: 2 }, r.cb);
    s.feed('\r\nERROR\r\n');
    expect(s.text).toBe('AT+X\r');
    clock.advance(50);
    expect(s.text).toBe('AT+X\rAT+X\r');
    s.feed('\r\nOK\r\n');
    expect(r.get()).toEqual({ err: null, lines: [] });
  });

  it('times out, retries, then fails with timeout; the next command waits retryDelay', () => {
    const { at, s, clock } = setup({ timeout: 1000, retryDelay: 100 });
    const r = capture();
    at.cmd('AT+X', { retries: 1 }, r.cb);
    const r2 = capture();
    at.cmd('AT+Y', null, r2.cb);
    clock.advance(999);
    expect(r.get()).toBeNull();
    clock.advance(1);
    clock.advance(100);
    expect(s.text).toBe('AT+X\rAT+X\r');
    clock.advance(1000);
    expect(r.get()!.err).toBe('timeout');
    expect(s.text).toBe('AT+X\rAT+X\r');
    clock.advance(100);
    expect(s.text).toBe('AT+X\rAT+X\rAT+Y\r');
    s.feed('\r\nOK\r\n');
    expect(r2.get()!.err).toBeNull();
  });

  it('uses a per-command timeout', () => {
    const { at, clock } = setup({ timeout: 1000 });
    const r = capture();
    at.cmd('AT+QIACT=1', { timeout: 150000 }, r.cb);
    clock.advance(149999);
    expect(r.get()).toBeNull();
    clock.advance(1);
    expect(r.get()!.err).toBe('timeout');
  });

  it('custom final result: OK becomes intermediate, fail prefix is an error', () => {
    const { at, s } = setup();
    const r = capture();
    at.cmd('AT+QIOPEN=1,0,"UDP SERVICE","127.0.0.1",0,3030,0', { fin: '+QIOPEN:' }, r.cb);
    s.feed('\r\nOK\r\n');
    expect(r.get()).toBeNull();
    s.feed('\r\n+QIOPEN: 0,0\r\n');
    expect(r.get()).toEqual({ err: null, lines: ['OK', '+QIOPEN: 0,0'] });
    const r2 = capture();
    at.cmd('AT+QISEND=0,1', { fin: 'SEND OK', fail: 'SEND FAIL', data: 'x' }, r2.cb);
    s.feed('\r\n> ');
    s.feed('\r\nSEND FAIL\r\n');
    expect(r2.get()!.err).toBe('SEND FAIL');
  });

  it('watched error prefixes end a command (ESP-AT busy p...)', () => {
    const { at, s } = setup();
    at.watch('err', 'busy ');
    const r = capture();
    at.cmd('AT+CIPSEND=5', null, r.cb);
    s.feed('\r\nbusy p...\r\n');
    expect(r.get()!.err).toBe('busy p...');
  });
});

describe('AtEngine prompt and binary data', () => {
  it('writes the payload only after the > prompt, byte-exact, whether the prompt ends a chunk or a line', () => {
    const payload = new Uint8Array(256).map((_, i) => i);
    const cases: [string, string | undefined][] = [['\r\n> ', undefined], ['\r\n>', undefined], ['\r\n> \r\n', undefined], ['\r\nOK\r\n\r\n>', 'SEND OK']];
    for (const [prompt, fin] of cases) {
      const { at, s } = setup();
      const r = capture();
      at.cmd('AT+CASEND=0,256', { data: payload, fin }, r.cb);
      expect(s.written.length).toBe(1);
      s.feed(prompt.charAt(0));
      s.feed(prompt.substring(1));
      expect(s.written.length).toBe(2);
      expect(s.written[1]).toBe(payload);
      s.feed(fin ? `\r\n${fin}\r\n` : '\r\nOK\r\n');
      expect(r.get()!.err).toBeNull();
    }
  });

  it('does not send the payload twice if the prompt is followed by more text', () => {
    const { at, s } = setup();
    const r = capture();
    at.cmd('AT+CIPSEND=1', { data: 'Z', fin: 'SEND OK' }, r.cb);
    s.feed('\r\nOK\r\n\r\n> ');
    s.feed('\r\nRecv 1 bytes\r\n\r\nSEND OK\r\n');
    expect(s.text).toBe('AT+CIPSEND=1\rZ');
    expect(r.get()).toEqual({ err: null, lines: ['OK', 'Recv 1 bytes', 'SEND OK'] });
  });

  it('+IPD: binary payload with every byte value and protocol lookalikes, across 32-byte chunks', () => {
    for (const size of [32, 1, 5, 1000]) {
      const { s, got } = ipdEngine();
      const stream = `\r\n+IPD,${NASTY.length},"10.0.0.1",51820:${NASTY}\r\n+IPD,3:abc+IPD,2:\r\n`;
      s.feed(stream, size);
      expect(got).toEqual([
        { data: NASTY, header: `+IPD,${NASTY.length},"10.0.0.1",51820` },
        { data: 'abc', header: '+IPD,3' },
        { data: '\r\n', header: '+IPD,2' },
      ]);
    }
  });

  it('the Espruino copy path (E.toUint8Array) gives the same bytes', () => {
    const g = globalThis as { E?: { toUint8Array(s: string): Uint8Array } };
    g.E = { toUint8Array: (str: string) => new Uint8Array(Buffer.from(str, 'latin1')) };
    try {
      const { s, got } = ipdEngine();
      s.feed(`\r\n+IPD,${NASTY.length}:${NASTY}+IPD,1:\n`, 32);
      expect(got.map((x) => x.data)).toEqual([NASTY, '\n']);
    } finally {
      delete g.E;
    }
  });

  it('+IPD in the middle of a command response does not disturb the command', () => {
    const { at, s, got } = ipdEngine();
    const r = capture();
    at.cmd('AT+CIPSEND=4,"1.2.3.4",5', { data: 'WXYZ', fin: 'SEND OK' }, r.cb);
    s.feed('\r\nOK\r\n\r\n+IPD,4:OK\r\n\r\n>', 3);
    expect(s.text).toBe('AT+CIPSEND=4,"1.2.3.4",5\rWXYZ');
    s.feed('\r\nRecv 4 bytes\r\n+IPD,6:SEND O\r\nSEND OK\r\n', 3);
    expect(got.map((g) => g.data)).toEqual(['OK\r\n', 'SEND O']);
    expect(r.get()).toEqual({ err: null, lines: ['OK', 'Recv 4 bytes', 'SEND OK'] });
  });

  it('header terminated by the line end (+QIRD) and by a comma (+CARECV), zero length included', () => {
    const { at, s } = setup();
    const got: string[] = [];
    at.raw('+QIRD: ', '\n', (h) => parseInt(h.substring(7), 10), (b, n) => got.push(Buffer.from(b.subarray(0, n)).toString('latin1')));
    at.raw('+CARECV: ', ',', (h) => parseInt(h.substring(9), 10), (b, n) => got.push(Buffer.from(b.subarray(0, n)).toString('latin1')));
    const r = capture();
    at.cmd('AT+QIRD=0', { resp: '+QIRD:' }, r.cb);
    s.feed(`\r\n+QIRD: ${NASTY.length},"1.2.3.4",9\r\n${NASTY}\r\n\r\nOK\r\n`, 32);
    expect(r.get()).toEqual({ err: null, lines: [] });
    const r2 = capture();
    at.cmd('AT+CARECV=0,1460', { resp: '+CARECV:' }, r2.cb);
    s.feed(`\r\n+CARECV: ${NASTY.length},${NASTY}\r\n\r\nOK\r\n`, 32);
    const r3 = capture();
    at.cmd('AT+QIRD=0', { resp: '+QIRD:' }, r3.cb);
    s.feed('\r\n+QIRD: 0\r\n\r\nOK\r\n');
    const r4 = capture();
    at.cmd('AT+CARECV=0,1460', { resp: '+CARECV:' }, r4.cb);
    s.feed('\r\n+CARECV: 0\r\n\r\nOK\r\n');
    expect(got).toEqual([NASTY, NASTY, '']);
    expect(r4.get()).toEqual({ err: null, lines: ['+CARECV: 0'] });
  });

  it('a ":" inside a quoted IPv6 address is not the end of the header', () => {
    const { at, s } = setup();
    const got: string[] = [];
    at.raw(
      '+IPD,',
      ':',
      (h) => ((h.split('"').length - 1) & 1 ? -1 : parseInt(h.substring(5), 10)),
      (b, n, h) => got.push(h + '|' + Buffer.from(b.subarray(0, n)).toString('latin1')),
    );
    s.feed('\r\n+IPD,3,"fe80::1",51820:a:b\r\n');
    expect(got).toEqual(['+IPD,3,"fe80::1",51820|a:b']);
  });

  it('never hands out a half-received payload: it times out and parsing resumes', () => {
    const { at, s, clock, got, events } = ipdEngine();
    s.feed('\r\n+IPD,100:only twenty bytes....');
    clock.advance(2999);
    expect(got).toEqual([]);
    clock.advance(1);
    expect(events).toEqual(['lost:+IPD,100']);
    const r = capture();
    at.cmd('AT', null, r.cb);
    s.feed('\r\nOK\r\n');
    expect(r.get()!.err).toBeNull();
    expect(got).toEqual([]);
    s.feed('+IPD,2:ok');
    expect(got.map((g) => g.data)).toEqual(['ok']);
  });

  it('a payload larger than the buffer is consumed and dropped', () => {
    const { s, got } = ipdEngine(16);
    s.feed('\r\n+IPD,20:01234567890123456789\r\n+IPD,3:abc');
    expect(got.map((g) => g.data)).toEqual(['abc']);
  });
});

describe('AtEngine restart and network events', () => {
  it('a boot line fails the command in flight and the queue with reset, and emits reset', () => {
    const { at, s, events } = setup();
    at.watch('boot', 'RDY');
    const r1 = capture();
    const r2 = capture();
    at.cmd('AT+CAOPEN=0,0,"UDP","1.2.3.4",5', null, r1.cb);
    at.cmd('AT+CASEND=0,1', { data: 'x' }, r2.cb);
    s.feed('\r\nRDY\r\n', 32);
    expect(r1.get()!.err).toBe('reset');
    expect(r2.get()!.err).toBe('reset');
    expect(events).toEqual(['reset:RDY']);
    expect(s.text).toBe('AT+CAOPEN=0,0,"UDP","1.2.3.4",5\r');
    const r3 = capture();
    at.cmd('AT', null, r3.cb);
    s.feed('\r\nOK\r\n');
    expect(r3.get()!.err).toBeNull();
  });

  it('a boot line in the middle of a binary payload is payload, not a restart', () => {
    const { s, got, events } = ipdEngine();
    s.feed('\r\n+IPD,9:\r\nRDY\r\n\r\n');
    expect(events).toEqual([]);
    expect(got.map((g) => g.data)).toEqual(['\r\nRDY\r\n\r\n']);
  });

  it('emits down and up for watched lines, also during a command, and still runs URC handlers', () => {
    const { at, s, events } = setup();
    at.watch('down', '+QIURC: "pdpdeact"');
    at.watch('up', 'WIFI GOT IP');
    const urcs: string[] = [];
    at.urc('+QIURC:', (l) => urcs.push(l));
    const r = capture();
    at.cmd('AT+QIRD=0', null, r.cb);
    s.feed('\r\n+QIURC: "pdpdeact",1\r\n\r\nERROR\r\n\r\nWIFI GOT IP\r\n');
    expect(events).toEqual(['down:+QIURC: "pdpdeact",1', 'up:WIFI GOT IP']);
    expect(urcs).toEqual(['+QIURC: "pdpdeact",1']);
    expect(r.get()!.err).toBe('ERROR');
  });

  it('close fails pending commands and ignores later input', () => {
    const { at, s } = setup();
    const r = capture();
    at.cmd('AT', null, r.cb);
    at.close();
    expect(r.get()!.err).toBe('closed');
    s.feed('\r\nOK\r\n');
    const r2 = capture();
    expect(at.cmd('AT', null, r2.cb)).toBe(false);
    expect(r2.get()!.err).toBe('closed');
  });

  it('leaves no timers behind after normal operation', () => {
    const { at, s, clock } = setup();
    at.cmd('AT', null, () => {});
    s.feed('\r\nOK\r\n');
    expect(clock.pending).toBe(0);
  });
});
