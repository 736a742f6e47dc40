// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * ESP-AT-style Wi-Fi module (station already joined): AT+CIPMUX, AT+CIPDINFO, AT+CIFSR,
 * AT+CIPSTART="UDP",… (CONNECT, OK), AT+CIPSEND=<len>[,"<ip>",<port>] (OK, `>`, data,
 * "Recv <n> bytes", SEND OK), AT+CIPCLOSE (CLOSED, OK), and unsolicited
 * `+IPD,<len>,"<ip>",<port>:<data>` (`+IPD,<len>:<data>` without CIPDINFO; NonOS firmware style
 * with the IP unquoted when `ipdQuoted: false`). Wi-Fi events: WIFI DISCONNECT / WIFI CONNECTED /
 * WIFI GOT IP. Boot: ROM noise, then "ready".
 */
import type { Datagram, ModemEmulatorOptions } from './modem.js';
import { ModemEmulator } from './modem.js';

export interface EspAtEmulatorOptions extends ModemEmulatorOptions {
  /** Quote the IP in +IPD (ESP-AT 2.x: true, default) or not (ESP8266 NonOS AT). */
  ipdQuoted?: boolean;
  /** How long Wi-Fi stays down on a re-attach, ms (30). */
  rejoinMs?: number;
}

export class EspAtEmulator extends ModemEmulator {
  readonly dialect = 'espat';
  private wifi = true;
  private linked = false;
  private dinfo = false;
  private remote = { host: '', port: 0 };
  private readonly quoted: boolean;
  private readonly rejoinMs: number;

  constructor(opts: EspAtEmulatorOptions = {}) {
    super(opts);
    this.quoted = opts.ipdQuoted ?? true;
    this.rejoinMs = opts.rejoinMs ?? 30;
    this.ip = '192.168.4.2';
  }

  protected handle(line: string): boolean {
    let m: RegExpMatchArray | null;
    if (/^AT\+CIPMUX=[01]$/.test(line)) {
      if (this.linked && line !== 'AT+CIPMUX=0') this.error();
      else this.ok();
    } else if ((m = /^AT\+CIPDINFO=([01])$/.exec(line))) {
      this.dinfo = m[1] === '1';
      this.ok();
    } else if (line === 'AT+CIFSR') {
      this.respond(`+CIFSR:STAIP,"${this.wifi ? this.ip : '0.0.0.0'}"`, '+CIFSR:STAMAC,"24:0a:c4:00:00:01"', 'OK');
    } else if ((m = /^AT\+CIPSTART="UDP","([^"]+)",(\d+)(?:,(\d+)(?:,([012]))?)?$/.exec(line))) {
      if (!this.wifi) this.error();
      else if (this.linked) this.respond('ALREADY CONNECTED', 'ERROR');
      else {
        this.remote = { host: m[1]!, port: +m[2]! };
        this.hold();
        this.openUdp((err) => {
          if (err) this.error();
          else {
            this.linked = true;
            this.respond('CONNECT', 'OK');
          }
          this.done();
        });
      }
    } else if (line === 'AT+CIPCLOSE') {
      if (!this.linked) this.error();
      else {
        this.unlink();
        this.respond('CLOSED', 'OK');
      }
    } else if ((m = /^AT\+CIPSEND=(\d+)(?:,"([^"]+)",(\d+))?$/.exec(line))) {
      const n = +m[1]!;
      if (!this.linked || n < 1 || n > 2048) this.error();
      else {
        const host = m[2] ?? this.remote.host;
        const port = m[3] ? +m[3] : this.remote.port;
        this.hold();
        this.respond('OK');
        this.expectData('\r\n>', n, (data) => {
          this.sendUdp(data, host, port);
          this.respond(`Recv ${n} bytes`, 'SEND OK');
          this.done();
        });
      }
    } else return false;
    return true;
  }

  private unlink(): void {
    this.linked = false;
    this.closeUdp();
  }

  protected received(d: Datagram): void {
    if (!this.linked) return;
    // <UDP mode> 2: the remote follows the last sender.
    this.remote = { host: d.host, port: d.port };
    const ip = this.quoted ? `"${d.host}"` : d.host;
    const head = this.dinfo ? `\r\n+IPD,${d.data.length},${ip},${d.port}:` : `\r\n+IPD,${d.data.length}:`;
    this.out(Buffer.concat([Buffer.from(head, 'latin1'), d.data]));
  }

  /** Wi-Fi drops (link closed) and rejoins with a new address after `rejoinMs`. */
  reattach(): void {
    const had = this.linked;
    this.unlink();
    this.wifi = false;
    this.urc('WIFI DISCONNECT');
    if (had) this.urc('CLOSED');
    this.later(this.rejoinMs, () => {
      this.ip = `192.168.4.${Number(this.ip.split('.')[3]) + 1}`;
      this.wifi = true;
      this.urc('WIFI CONNECTED');
      this.urc('WIFI GOT IP');
    });
  }

  protected resetState(): void {
    this.unlink();
    this.dinfo = false;
    this.wifi = true;
  }

  protected bootMessages(): void {
    // What the 74880-baud ROM log looks like at 115200, then the AT firmware's banner.
    this.out(Buffer.from([0xf8, 0x00, 0x0e, 0x7f, 0xc0, 0x13, 0x92, 0x0a, 0x3e, 0xff, 0x2b, 0x49, 0x50, 0x44]));
    this.out('\r\nready\r\n');
    this.later(10, () => {
      this.urc('WIFI CONNECTED');
      this.urc('WIFI GOT IP');
    });
  }
}
