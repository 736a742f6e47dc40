/**
 * UDP over Espressif's ESP-AT firmware (ESP32 family, ESP8266 with ESP-AT or the older NonOS AT
 * firmware). Source: Espressif "ESP-AT User Guide" (release v2.2.0.0), "TCP/IP AT Commands":
 * AT+CIPMUX, AT+CIPDINFO, AT+CIFSR, AT+CIPSTART ("Establish UDP Transmission"), AT+CIPSEND,
 * AT+CIPCLOSE, and "+IPD" in "AT Messages"; Espressif "ESP8266 AT Instruction Set" for the
 * NonOS firmware (same forms). Wi-Fi is joined beforehand (AT+CWJAP, auto-reconnect on).
 *
 * One UDP link in single-connection mode, <UDP mode> 2 (the peer may change) and every send
 * addressed explicitly (AT+CIPSEND=<len>,"<ip>",<port>), so it talks to any remote. Received
 * datagrams arrive unasked as `+IPD,<len>,"<ip>",<port>:<data>` (AT+CIPDINFO=1; the NonOS firmware
 * leaves the IP unquoted): the engine's binary mode takes exactly <len> bytes, so a datagram is
 * handed out whole or not at all (EspruinoDocs' ESP8266 module hands out partial ones).
 *
 * Device code (Espruino).
 */
import type { AtEngine } from '../at.js';
import { UdpModem, unquote } from './udp.js';
import type { ModemCallback, ModemOptions } from './udp.js';

/** Largest datagram AT+CIPSEND takes (<length> max 2048; one UDP datagram must fit the Wi-Fi MTU anyway). */
export const ESPAT_MAX = 2048;

/** Counts the double quotes in `s`. */
function quotes(s: string): number {
  let n = 0;
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) n++;
  return n;
}

/** ESP-AT UDP driver. */
export class EspAtUdp extends UdpModem {
  declare linked: boolean;
  declare linking: boolean;

  constructor(at: AtEngine, opts?: ModemOptions) {
    super(at, opts);
    const self = this;
    this.linked = false;
    this.linking = false;
    // Boot message; the ROM's 74880-baud log before it reads as garbage at our rate.
    at.watch('boot', 'ready');
    at.watch('down', 'WIFI DISCONNECT');
    at.watch('down', 'CLOSED');
    at.watch('up', 'WIFI GOT IP');
    // "busy p..." / "busy s...": the command was refused while another was being processed.
    at.watch('err', 'busy ');
    // +IPD,<len>[,<remote IP>,<remote port>]:<data> — the ':' that ends the header is outside quotes
    // (an IPv6 address contains ':').
    at.raw(
      '+IPD,',
      ':',
      function (h: string): number { return quotes(h) & 1 ? -1 : parseInt(h.substring(5), 10); },
      function (buf: Uint8Array, len: number, h: string): void {
        const f = h.split(',');
        const host = f.length > 3 ? unquote(f[2]!) : self.rh;
        self.deliver(buf, len, host, f.length > 3 ? parseInt(f[3]!, 10) : self.rport);
      },
    );
  }

  override start(cb: ModemCallback): void {
    const self = this;
    const at = this.at;
    let step = 0;
    this.linked = false;
    function next(err: string | null, lines: string[]): void {
      switch (step++) {
        case 0:
          at.cmd('AT', { timeout: 500, retries: 10 }, next);
          return;
        case 1:
          if (err) break;
          at.cmd('ATE0', null, next);
          return;
        case 2:
          if (err) break;
          // Drop a link left over from before (ERROR when there is none).
          at.cmd('AT+CIPCLOSE', null, next);
          return;
        case 3:
          // AT+CIPMUX=0: single connection (only changeable with no link open).
          at.cmd('AT+CIPMUX=0', null, next);
          return;
        case 4:
          if (err) break;
          // AT+CIPDINFO=1: +IPD carries the remote IP and port.
          at.cmd('AT+CIPDINFO=1', null, next);
          return;
        case 5:
          if (err) break;
          // AT+CIFSR → +CIFSR:STAIP,"<ip>" (+CIFSR:STAMAC,…); 0.0.0.0 until Wi-Fi has an address.
          at.cmd('AT+CIFSR', { resp: '+CIFSR:' }, next);
          return;
        case 6: {
          if (err) break;
          let ip = '';
          for (let i = 0; i < lines.length; i++) {
            if (lines[i]!.substring(0, 13) === '+CIFSR:STAIP,') ip = unquote(lines[i]!.substring(13));
          }
          if (!ip || ip === '0.0.0.0') {
            err = 'nowifi';
            break;
          }
          self.ip = ip;
          if (!self.rh) {
            cb(null);
            return;
          }
          self.link(cb);
          return;
        }
      }
      cb(err);
    }
    next(null, []);
  }

  /** AT+CIPSTART="UDP",<remote IP>,<remote port>,<UDP local port>,<UDP mode> → CONNECT, OK. */
  link(cb: ModemCallback): void {
    const self = this;
    this.linking = true;
    this.at.cmd(
      'AT+CIPSTART="UDP","' + this.rh + '",' + this.rport + ',' + (this.o.lport || 51820) + ',2',
      { timeout: this.o.netTimeout || 10000 },
      function (err: string | null, lines: string[]): void {
        // "ALREADY CONNECTED" then ERROR: the link is there.
        if (err && lines.indexOf('ALREADY CONNECTED') >= 0) err = null;
        self.linked = !err;
        self.linking = false;
        cb(err);
      },
    );
  }

  override stop(cb: ModemCallback): void {
    this.linked = false;
    this.linking = false;
    this.at.cmd('AT+CIPCLOSE', null, function (): void { cb(null); });
  }

  override tx(data: Uint8Array, host: string, port: number, cb: ModemCallback): void {
    const self = this;
    if (data.length > ESPAT_MAX) {
      cb('size');
      return;
    }
    if (!this.linked) {
      if (this.linking) {
        cb('busy');
        return;
      }
      this.rh = host;
      this.rport = port;
      this.link(function (err: string | null): void {
        if (err) cb(err);
        else self.cipsend(data, host, port, cb);
      });
      return;
    }
    this.cipsend(data, host, port, cb);
  }

  /** AT+CIPSEND=<length>,<remote IP>,<remote port> → OK, ">" → data → "Recv N bytes", SEND OK. */
  cipsend(data: Uint8Array, host: string, port: number, cb: ModemCallback): void {
    this.at.cmd(
      'AT+CIPSEND=' + data.length + ',"' + host + '",' + port,
      { data: data, fin: 'SEND OK', fail: 'SEND FAIL', retries: (this.o.sendTries || 2) - 1, timeout: this.o.timeout || 5000 },
      function (err: string | null): void { cb(err); },
    );
  }
}
