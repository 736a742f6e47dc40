// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * SIM7080G-style modem: AT+CNCFG/AT+CNACT (app network), AT+CAOPEN/CASEND/CARECV/CACLOSE (TCP/UDP
 * application, connected UDP socket, manual-read mode). Responses follow the SIM7070/SIM7080/
 * SIM7090 Series AT Command Manual: `+CNACT: <pdpidx>,<statusx>,"<address>"`, `+CAOPEN: <cid>,<result>`,
 * `>` then OK for CASEND, `+CARECV: <len>,<data>` (one datagram per read), URCs `+CADATAIND: <cid>`
 * (or `+CAURC: "recv",<cid>` with `recvUrc: 'caurc'`), `+APP PDP: 0,ACTIVE|DEACTIVE`,
 * `+CASTATE: <cid>,0`.
 */
import type { Datagram, ModemEmulatorOptions } from './modem.js';
import { ModemEmulator } from './modem.js';

export interface SimcomEmulatorOptions extends ModemEmulatorOptions {
  /** Data-arrival URC style: '+CADATAIND: 0' (default) or '+CAURC: "recv",0'. */
  recvUrc?: 'cadataind' | 'caurc';
}

export class SimcomEmulator extends ModemEmulator {
  readonly dialect = 'simcom';
  private pdp = false;
  private sockOpen = false;
  private rxq: Datagram[] = [];
  private notified = false;
  private readonly urcStyle: 'cadataind' | 'caurc';

  constructor(opts: SimcomEmulatorOptions = {}) {
    super(opts);
    this.urcStyle = opts.recvUrc ?? 'cadataind';
  }

  protected handle(line: string): boolean {
    let m: RegExpMatchArray | null;
    if (line === 'AT+CNACT?') {
      const lines = [`+CNACT: 0,${this.pdp ? 1 : 0},"${this.pdp ? this.ip : '0.0.0.0'}"`];
      for (let i = 1; i < 4; i++) lines.push(`+CNACT: ${i},0,"0.0.0.0"`);
      this.respond(...lines, 'OK');
    } else if (line.startsWith('AT+CNCFG=')) {
      this.ok();
    } else if ((m = /^AT\+CNACT=0,([01])$/.exec(line))) {
      if (m[1] === '1') {
        if (this.pdp) {
          this.error();
          return true;
        }
        this.pdp = true;
        this.ok();
        this.later(5, () => this.urc('+APP PDP: 0,ACTIVE'));
      } else {
        this.closeSock();
        this.pdp = false;
        this.ok();
        this.urc('+APP PDP: 0,DEACTIVE');
      }
    } else if (line === 'AT+CACLOSE=0') {
      if (!this.sockOpen) this.error();
      else {
        this.closeSock();
        this.ok();
      }
    } else if ((m = /^AT\+CAOPEN=0,0,"UDP","([^"]+)",(\d+)$/.exec(line))) {
      if (!this.pdp) this.respond('+CAOPEN: 0,21', 'OK'); // 21: network not active
      else if (this.sockOpen) this.respond('+CAOPEN: 0,4', 'OK'); // 4: parameter invalid (cid in use)
      else {
        const host = m[1]!;
        const port = +m[2]!;
        this.hold();
        this.openUdp((err) => {
          if (err) this.respond('+CAOPEN: 0,1', 'OK');
          else {
            this.udpPeer = { host, port };
            this.sockOpen = true;
            this.rxq = [];
            this.notified = false;
            this.respond('+CAOPEN: 0,0', 'OK');
          }
          this.done();
        });
      }
    } else if ((m = /^AT\+CASEND=0,(\d+)(,\d+)?$/.exec(line))) {
      const n = +m[1]!;
      if (!this.sockOpen || n < 1 || n > 1460) this.error();
      else {
        this.hold();
        this.expectData('\r\n> ', n, (data) => {
          this.sendUdp(data, this.udpPeer!.host, this.udpPeer!.port);
          this.ok();
          this.done();
        });
      }
    } else if ((m = /^AT\+CARECV=0,(\d+)$/.exec(line))) {
      const max = +m[1]!;
      if (!this.sockOpen || max < 1 || max > 1460) this.error();
      else {
        const d = this.rxq.shift();
        if (!d) {
          this.notified = false;
          this.respond('+CARECV: 0', 'OK');
        } else {
          const data = d.data.subarray(0, max);
          this.out(Buffer.concat([Buffer.from(`\r\n+CARECV: ${data.length},`, 'latin1'), data, Buffer.from('\r\n', 'latin1')]));
          this.out(this.takeInjected());
          this.out('\r\nOK\r\n');
          if (!this.rxq.length) this.notified = false;
        }
      }
    } else if (line === 'AT+CASTATE?') {
      this.respond(...(this.sockOpen ? ['+CASTATE: 0,1'] : []), 'OK');
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
      this.urc(this.urcStyle === 'caurc' ? '+CAURC: "recv",0' : '+CADATAIND: 0');
    }
  }

  /** The bearer drops: socket closed, `+CASTATE: 0,0` and `+APP PDP: 0,DEACTIVE`; CNACT=0,1 gives a new address. */
  reattach(): void {
    const had = this.sockOpen;
    this.closeSock();
    this.pdp = false;
    this.ip = this.nextIp();
    if (had) this.urc('+CASTATE: 0,0');
    this.urc('+APP PDP: 0,DEACTIVE');
  }

  protected resetState(): void {
    this.closeSock();
    this.pdp = false;
    this.ip = this.nextIp();
  }

  protected bootMessages(): void {
    this.out('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n');
  }
}
