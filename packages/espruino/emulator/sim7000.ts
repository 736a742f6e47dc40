// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * SIM7000-style modem, TCP/IP toolkit in single-connection mode (the SIM800 family's commands):
 * the connection state machine of AT+CIPSTATUS (IP INITIAL → CSTT → IP START → CIICR → IP GPRSACT
 * → CIFSR → IP STATUS → CIPSTART → CONNECT OK → CIPCLOSE → IP CLOSE; PDP DEACT after a network
 * loss, until AT+CIPSHUT), commands refused outside their states as the manual says (CIPMUX and
 * CIPRXGET=1 only before a connection), AT+CIPSTART="UDP" (a connected socket: only datagrams
 * from the remote are taken), AT+CIPSEND=<len> (`> `, data, SEND OK), AT+CIPRXGET=1/2/4 with
 * `+CIPRXGET: 1` announced once until the buffer is drained and `+CIPRXGET: 2,<n>,<left>` (the
 * first number being the bytes that follow, as modules behave), or pushed `+IPD,<len>:<data>`
 * with `rxget: false` (firmware without CIPRXGET); URCs `+PDP: DEACT`, `CLOSED`.
 */
import type { Datagram, ModemEmulatorOptions } from './modem.js';
import { ModemEmulator } from './modem.js';

export interface Sim7000EmulatorOptions extends ModemEmulatorOptions {
  /** Whether AT+CIPRXGET exists (true); without it data is pushed. */
  rxget?: boolean;
}

type State = 'IP INITIAL' | 'IP START' | 'IP GPRSACT' | 'IP STATUS' | 'CONNECT OK' | 'IP CLOSE' | 'PDP DEACT';

export class Sim7000Emulator extends ModemEmulator {
  readonly dialect = 'sim7000';
  private state: State = 'IP INITIAL';
  private manual = false;
  private head = false;
  private rxq: Datagram[] = [];
  private notified = false;
  private readonly rxget: boolean;

  constructor(opts: Sim7000EmulatorOptions = {}) {
    super(opts);
    this.rxget = opts.rxget ?? true;
  }

  private get active(): boolean {
    return this.state === 'IP GPRSACT' || this.state === 'IP STATUS' || this.state === 'CONNECT OK' || this.state === 'IP CLOSE';
  }

  protected handle(line: string): boolean {
    let m: RegExpMatchArray | null;
    if (line === 'AT+CIPSTATUS') {
      this.respond('OK', `STATE: ${this.state}`);
    } else if (line === 'AT+CIPSHUT') {
      this.closeSock();
      this.state = 'IP INITIAL';
      this.respond('SHUT OK');
    } else if ((m = /^AT\+CIPMUX=([01])$/.exec(line))) {
      if (this.state !== 'IP INITIAL' || m[1] !== '0') this.error();
      else this.ok();
    } else if ((m = /^AT\+CIPHEAD=([01])$/.exec(line))) {
      this.head = m[1] === '1';
      this.ok();
    } else if ((m = /^AT\+CIPRXGET=([0-4])(?:,(\d+))?$/.exec(line))) {
      this.cipRxget(+m[1]!, m[2] === undefined ? 0 : +m[2]);
    } else if (line === 'AT+CSTT' || /^AT\+CSTT="[^"]*"(?:,"[^"]*"){0,2}$/.test(line)) {
      if (this.state !== 'IP INITIAL') this.error();
      else {
        this.state = 'IP START';
        this.ok();
      }
    } else if (line === 'AT+CIICR') {
      if (this.state !== 'IP START') this.error();
      else {
        this.hold();
        this.later(5, () => {
          this.state = 'IP GPRSACT';
          this.ok();
          this.done();
        });
      }
    } else if (line === 'AT+CIFSR' || line === 'AT+CIFSR;E0') {
      // The bare address, no OK; ";E0" runs ATE0 after it (one OK).
      if (!this.active) this.error();
      else {
        if (this.state === 'IP GPRSACT') this.state = 'IP STATUS';
        this.respond(this.ip);
        if (line.endsWith(';E0')) {
          this.echo = false;
          this.ok();
        }
      }
    } else if ((m = /^AT\+CIPSTART="UDP","([^"]+)",(\d+)$/.exec(line))) {
      if (this.state === 'CONNECT OK') this.respond('ERROR', 'ALREADY CONNECT');
      else if (this.state !== 'IP STATUS' && this.state !== 'IP CLOSE') this.error();
      else {
        const host = m[1]!;
        const port = +m[2]!;
        this.ok();
        this.hold();
        this.openUdp((err) => {
          if (err) this.urc('CONNECT FAIL');
          else {
            this.udpPeer = { host, port };
            this.state = 'CONNECT OK';
            this.rxq = [];
            this.notified = false;
            this.urc('CONNECT OK');
          }
          this.done();
        });
      }
    } else if (line === 'AT+CIPCLOSE' || line === 'AT+CIPCLOSE=0' || line === 'AT+CIPCLOSE=1') {
      if (this.state !== 'CONNECT OK') this.error();
      else {
        this.closeSock();
        this.state = 'IP CLOSE';
        this.respond('CLOSE OK');
      }
    } else if ((m = /^AT\+CIPSEND=(\d+)$/.exec(line))) {
      const n = +m[1]!;
      if (this.state !== 'CONNECT OK' || n < 1 || n > 1460) this.error();
      else {
        this.hold();
        this.expectData('\r\n> ', n, (data) => {
          this.sendUdp(data, this.udpPeer!.host, this.udpPeer!.port);
          this.respond('SEND OK');
          this.done();
        });
      }
    } else if (line === 'AT+CIPSEND?') {
      this.respond('+CIPSEND: 1460', 'OK');
    } else return false;
    return true;
  }

  private cipRxget(mode: number, len: number): void {
    if (!this.rxget) {
      this.error();
      return;
    }
    if (mode === 0 || mode === 1) {
      // Only before a connection (manual: "must be set to 1 before connection").
      if (this.state === 'CONNECT OK') this.error();
      else {
        this.manual = mode === 1;
        this.ok();
      }
      return;
    }
    if (!this.manual || this.state !== 'CONNECT OK') {
      this.error();
      return;
    }
    if (mode === 4) {
      this.respond(`+CIPRXGET: 4,${this.rxq.reduce((a, d) => a + d.data.length, 0)}`, 'OK');
      return;
    }
    if (mode !== 2 || len < 1 || len > 1460) {
      this.error();
      return;
    }
    const d = this.rxq.shift();
    if (!d) {
      this.notified = false;
      this.respond('+CIPRXGET: 2,0,0', 'OK');
      return;
    }
    // One datagram per read; the rest of a longer one is dropped (as a UDP socket's recv would).
    const data = d.data.subarray(0, len);
    const left = this.rxq.reduce((a, x) => a + x.data.length, 0);
    this.out(Buffer.concat([Buffer.from(`\r\n+CIPRXGET: 2,${data.length},${left}\r\n`, 'latin1'), data, Buffer.from('\r\n', 'latin1')]));
    this.out(this.takeInjected());
    this.out('\r\nOK\r\n');
    if (!this.rxq.length) this.notified = false;
  }

  private closeSock(): void {
    this.rxq = [];
    this.notified = false;
    this.closeUdp();
  }

  protected received(d: Datagram): void {
    if (this.state !== 'CONNECT OK') return;
    if (!this.manual) {
      // Pushed; without AT+CIPHEAD=1 the bytes come bare (a host cannot find their end).
      const head = this.head ? `\r\n+IPD,${d.data.length}:` : '';
      this.out(Buffer.concat([Buffer.from(head, 'latin1'), d.data]));
      return;
    }
    if (this.rxq.length >= 16) return;
    this.rxq.push(d);
    if (!this.notified) {
      this.notified = true;
      this.urc('+CIPRXGET: 1');
    }
  }

  /** The network deactivates the PDP context: `CLOSED` (if connected), `+PDP: DEACT`; AT+CIPSHUT … AT+CIICR gives a new address. */
  reattach(): void {
    const had = this.state === 'CONNECT OK';
    this.closeSock();
    this.ip = this.nextIp();
    if (this.active || this.state === 'IP START') {
      this.state = 'PDP DEACT';
      if (had) this.urc('CLOSED');
      this.urc('+PDP: DEACT');
    }
  }

  protected resetState(): void {
    this.closeSock();
    this.state = 'IP INITIAL';
    this.manual = false;
    this.head = false;
    this.ip = this.nextIp();
  }

  protected bootMessages(): void {
    this.out('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n');
  }
}
