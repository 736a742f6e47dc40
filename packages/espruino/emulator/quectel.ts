// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * BG95/BG96-style modem: AT+QICSGP/QIACT/QIDEACT, AT+QIOPEN "UDP SERVICE" in buffer access mode,
 * AT+QISEND=<id>,<len>,"<ip>",<port> (`>`, data, SEND OK), AT+QIRD=<id> (`+QIRD: <len>,"<ip>",<port>`
 * <CR><LF><data>, one datagram per read), AT+QICLOSE; URCs `+QIOPEN: <id>,<err>`,
 * `+QIURC: "recv",<id>` (once until the buffer is drained), `+QIURC: "pdpdeact",<ctx>` — as in the
 * BG95&BG77&BG600L Series TCP/IP Application Note.
 */
import type { Datagram, ModemEmulatorOptions } from './modem.js';
import { ModemEmulator } from './modem.js';

export class QuectelEmulator extends ModemEmulator {
  readonly dialect = 'quectel';
  private active = false;
  private sockOpen = false;
  private rxq: Datagram[] = [];
  private notified = false;

  constructor(opts: ModemEmulatorOptions = {}) {
    super(opts);
  }

  protected handle(line: string): boolean {
    let m: RegExpMatchArray | null;
    if (line.startsWith('AT+QICSGP=')) this.ok();
    else if (line === 'AT+QIACT?') {
      this.respond(...(this.active ? [`+QIACT: 1,1,1,"${this.ip}"`] : []), 'OK');
    } else if (line === 'AT+QIACT=1') {
      if (this.active) this.error();
      else {
        this.hold();
        this.later(5, () => {
          this.active = true;
          this.ok();
          this.done();
        });
      }
    } else if (line === 'AT+QIDEACT=1') {
      this.closeSock();
      this.active = false;
      this.ok();
    } else if ((m = /^AT\+QIOPEN=1,0,"UDP SERVICE","127\.0\.0\.1",0,(\d+),0$/.exec(line))) {
      this.ok();
      if (!this.active) this.urc('+QIOPEN: 0,561'); // 561: open PDP context failed
      else if (this.sockOpen) this.urc('+QIOPEN: 0,563'); // 563: socket identity has been used
      else {
        this.hold();
        this.openUdp((err) => {
          if (err) this.urc('+QIOPEN: 0,565');
          else {
            this.sockOpen = true;
            this.rxq = [];
            this.notified = false;
            this.urc('+QIOPEN: 0,0');
          }
          this.done();
        });
      }
    } else if (line === 'AT+QICLOSE=0') {
      this.closeSock();
      this.ok();
    } else if ((m = /^AT\+QISEND=0,(\d+),"([^"]+)",(\d+)$/.exec(line))) {
      const n = +m[1]!;
      const host = m[2]!;
      const port = +m[3]!;
      if (!this.sockOpen || n < 1 || n > 1460) this.error();
      else {
        this.hold();
        this.expectData('\r\n> ', n, (data) => {
          this.sendUdp(data, host, port);
          this.respond('SEND OK');
          this.done();
        });
      }
    } else if (/^AT\+QIRD=0(,\d+)?$/.test(line)) {
      if (!this.sockOpen) this.error();
      else {
        const d = this.rxq.shift();
        if (!d) {
          this.notified = false;
          this.respond('+QIRD: 0', 'OK');
        } else {
          this.out(Buffer.concat([
            Buffer.from(`\r\n+QIRD: ${d.data.length},"${d.host}",${d.port}\r\n`, 'latin1'),
            d.data,
            Buffer.from('\r\n', 'latin1'),
          ]));
          this.out(this.takeInjected());
          this.out('\r\nOK\r\n');
        }
      }
    } else return false;
    return true;
  }

  private closeSock(): void {
    this.sockOpen = false;
    this.rxq = [];
    this.notified = false;
    this.closeUdp();
  }

  protected received(d: Datagram): void {
    if (!this.sockOpen || this.rxq.length >= 16) return;
    this.rxq.push(d);
    if (!this.notified) {
      this.notified = true;
      this.urc('+QIURC: "recv",0');
    }
  }

  /** PDP context deactivated by the network: `+QIURC: "pdpdeact",1`; the next QIACT gives a new address. */
  reattach(): void {
    this.closeSock();
    this.active = false;
    this.ip = this.nextIp();
    this.urc('+QIURC: "pdpdeact",1');
  }

  protected resetState(): void {
    this.closeSock();
    this.active = false;
    this.ip = this.nextIp();
  }

  protected bootMessages(): void {
    this.out('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n\r\nAPP RDY\r\n');
  }
}
