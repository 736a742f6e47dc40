// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * SIM7600-style modem: AT+NETOPEN/NETOPEN?/NETCLOSE (OK, then `+NETOPEN: 0` / `+NETCLOSE: 0`),
 * AT+IPADDR, AT+CIPOPEN=0,"UDP",,,<lport> (OK, then `+CIPOPEN: 0,0`; an unconnected socket that
 * takes datagrams from anyone), AT+CIPSEND=0,<len>,"<ip>",<port> (`>`, data, OK,
 * `+CIPSEND: 0,<len>,<len>`), AT+CIPCLOSE=0 (OK, `+CIPCLOSE: 0,0`; `+CIPCLOSE: 0,4`, ERROR when
 * not open), AT+CIPRXGET=1/2/4 (`+CIPRXGET: 1,0` once until drained; `+CIPRXGET: 2,0,<n>,<left>`
 * CR LF <n bytes>), or pushed `RECV FROM:<ip>:<port>` / `+IPD<len>` / bytes (AT+CIPSRIP,
 * AT+CIPHEAD; the only mode with `rxget: false`). Network loss: `+CIPEVENT: NETWORK CLOSED
 * UNEXPECTEDLY`; errors as `+IP ERROR: <text>` then ERROR.
 */
import type { Datagram, ModemEmulatorOptions } from './modem.js';
import { ModemEmulator } from './modem.js';

export interface Sim7600EmulatorOptions extends ModemEmulatorOptions {
  /** Whether AT+CIPRXGET exists (true); without it data is pushed. */
  rxget?: boolean;
}

export class Sim7600Emulator extends ModemEmulator {
  readonly dialect = 'sim7600';
  private net = false;
  private sockOpen = false;
  private manual = false;
  private srip = true;
  private head = true;
  private rxq: Datagram[] = [];
  private notified = false;
  private readonly rxget: boolean;

  constructor(opts: Sim7600EmulatorOptions = {}) {
    super(opts);
    this.rxget = opts.rxget ?? true;
  }

  private ipError(text: string): void {
    this.respond(`+IP ERROR: ${text}`, 'ERROR');
  }

  protected handle(line: string): boolean {
    let m: RegExpMatchArray | null;
    if (/^AT\+CGDCONT=1,"IP","[^"]*"$/.test(line)) {
      this.ok();
    } else if ((m = /^AT\+CIPMODE=([01])$/.exec(line))) {
      if (this.net || m[1] !== '0') this.error();
      else this.ok();
    } else if ((m = /^AT\+CIPSRIP=([01])$/.exec(line))) {
      this.srip = m[1] === '1';
      this.ok();
    } else if ((m = /^AT\+CIPHEAD=([01])$/.exec(line))) {
      this.head = m[1] === '1';
      this.ok();
    } else if ((m = /^AT\+CIPRXGET=([0-4])(?:,0(?:,(\d+))?)?$/.exec(line))) {
      this.cipRxget(+m[1]!, m[2] === undefined ? 1460 : +m[2]);
    } else if (line === 'AT+NETOPEN?') {
      this.respond(`+NETOPEN: ${this.net ? 1 : 0}`, 'OK');
    } else if (line === 'AT+NETOPEN') {
      if (this.net) this.ipError('Network is already opened');
      else {
        this.ok();
        this.hold();
        this.later(5, () => {
          this.net = true;
          this.urc('+NETOPEN: 0');
          this.done();
        });
      }
    } else if (line === 'AT+NETCLOSE') {
      if (!this.net) this.ipError('Network not opened');
      else {
        this.closeSock();
        this.net = false;
        this.ok();
        this.urc('+NETCLOSE: 0');
      }
    } else if (line === 'AT+IPADDR') {
      if (!this.net) this.ipError('Network not opened');
      else this.respond(`+IPADDR: ${this.ip}`, 'OK');
    } else if ((m = /^AT\+CIPOPEN=0,"UDP",,,(\d+)$/.exec(line))) {
      if (!this.net) this.respond('+CIPOPEN: 0,2', 'ERROR'); // 2: network not opened
      else if (this.sockOpen) this.respond('+CIPOPEN: 0,4', 'ERROR'); // 4: operation not supported (link in use)
      else {
        this.ok();
        this.hold();
        this.openUdp((err) => {
          if (err) this.urc('+CIPOPEN: 0,6'); // 6: failed to bind socket
          else {
            this.sockOpen = true;
            this.rxq = [];
            this.notified = false;
            this.urc('+CIPOPEN: 0,0');
          }
          this.done();
        });
      }
    } else if (line === 'AT+CIPCLOSE=0') {
      if (!this.sockOpen) this.respond('+CIPCLOSE: 0,4', 'ERROR');
      else {
        this.closeSock();
        this.ok();
        this.urc('+CIPCLOSE: 0,0');
      }
    } else if ((m = /^AT\+CIPSEND=0,(\d+),"([^"]+)",(\d+)$/.exec(line))) {
      const n = +m[1]!;
      const host = m[2]!;
      const port = +m[3]!;
      if (!this.sockOpen || n < 1 || n > 1500) this.error();
      else {
        this.hold();
        // The prompt: '>' on a new line, nothing after it.
        this.expectData('\r\n>', n, (data) => {
          this.sendUdp(data, host, port);
          this.respond('OK');
          this.urc(`+CIPSEND: 0,${n},${n}`);
          this.done();
        });
      }
    } else return false;
    return true;
  }

  private cipRxget(mode: number, len: number): void {
    if (!this.rxget) {
      this.error();
      return;
    }
    if (mode === 0 || mode === 1) {
      this.manual = mode === 1;
      this.ok();
      return;
    }
    if (!this.sockOpen || !this.manual) {
      this.error();
      return;
    }
    const left = (): number => this.rxq.reduce((a, d) => a + d.data.length, 0);
    if (mode === 4) {
      this.respond(`+CIPRXGET: 4,0,${left()}`, 'OK');
      return;
    }
    if (mode !== 2 || len < 1 || len > 1500) {
      this.error();
      return;
    }
    const d = this.rxq.shift();
    if (!d) {
      this.notified = false;
      this.respond('+CIPRXGET: 2,0,0,0', 'OK');
      return;
    }
    const data = d.data.subarray(0, len);
    this.out(Buffer.concat([Buffer.from(`\r\n+CIPRXGET: 2,0,${data.length},${left()}\r\n`, 'latin1'), data, Buffer.from('\r\n', 'latin1')]));
    this.out(this.takeInjected());
    this.out('\r\nOK\r\n');
    if (!this.rxq.length) this.notified = false;
  }

  private closeSock(): void {
    this.sockOpen = false;
    this.rxq = [];
    this.notified = false;
    this.closeUdp();
  }

  protected received(d: Datagram): void {
    if (!this.sockOpen) return;
    if (!this.manual) {
      let head = this.srip ? `\r\nRECV FROM:${d.host}:${d.port}` : '';
      head += this.head ? `\r\n+IPD${d.data.length}\r\n` : '\r\n';
      this.out(Buffer.concat([Buffer.from(head, 'latin1'), d.data]));
      return;
    }
    if (this.rxq.length >= 16) return;
    this.rxq.push(d);
    if (!this.notified) {
      this.notified = true;
      this.urc('+CIPRXGET: 1,0');
    }
  }

  /** The network drops: the socket closes, `+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY`; NETOPEN again gives a new address. */
  reattach(): void {
    this.closeSock();
    this.net = false;
    this.ip = this.nextIp();
    this.urc('+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY');
  }

  protected resetState(): void {
    this.closeSock();
    this.net = false;
    this.manual = false;
    this.srip = true;
    this.head = true;
    this.ip = this.nextIp();
  }

  protected bootMessages(): void {
    this.out('\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n');
  }
}
