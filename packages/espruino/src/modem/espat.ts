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
import { UdpModem } from './udp.js';
import type { ModemCallback, ModemOptions } from './udp.js';

/** Largest datagram AT+CIPSEND takes (<length> max 2048; one UDP datagram must fit the Wi-Fi MTU anyway). */
export const ESPAT_MAX = 2048;

/** ESP-AT UDP driver (the link logic is in UdpModem.send, `cx` 2). */
export class EspAtUdp extends UdpModem {
  constructor(at: AtEngine, opts?: ModemOptions) {
    super(at, opts);
    this.mx = ESPAT_MAX;
    this.cx = 2;
    this.so = 0;
    // Boot message; the ROM's 74880-baud log before it reads as garbage at our rate.
    at.watch('boot', 'ready');
    at.watch('down', 'WIFI DISCONNECT');
    at.watch('down', 'CLOSED');
    at.watch('up', 'WIFI GOT IP');
    // "busy p..." / "busy s...": the command was refused while another was being processed.
    at.watch('err', 'busy ');
    // +IPD,<len>[,<remote IP>,<remote port>]:<data> (tag 'd' for UdpModem.ev) — the ':' that ends
    // the header is outside quotes (an IPv6 address contains ':'), which the engine checks.
    at.raw('+IPD,', ':', 0, 'd');
  }

  override start(cb: ModemCallback, mode: number): void {
    const self = this;
    const at = this.at;
    // Steps 0-6 open, 10-11 open the link to rh:rport, 20 tear down.
    let step = mode === 2 ? 20 : mode === 1 ? 10 : 0;
    if (mode === 0) this.so = 0;
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
            if (lines[i]!.substring(0, 13) === '+CIFSR:STAIP,') ip = lines[i]!.substring(13).split('"').join('');
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
          step = 10;
          next(null, []);
          return;
        }
        case 10:
          // AT+CIPSTART="UDP",<remote IP>,<remote port>,<UDP local port>,<UDP mode> → CONNECT, OK.
          self.so = 1;
          at.cmd(
            'AT+CIPSTART="UDP","' + self.rh + '",' + self.rport + ',' + (self.o.lport || 51820) + ',2',
            { timeout: self.o.netTimeout || 10000 },
            next,
          );
          return;
        case 11:
          // "ALREADY CONNECTED" then ERROR: the link is there.
          if (err && lines.indexOf('ALREADY CONNECTED') >= 0) err = null;
          self.so = err ? 0 : 2;
          break;
        case 20:
          self.so = 0;
          at.cmd('AT+CIPCLOSE', null, next);
          return;
        case 21:
          cb(null);
          return;
      }
      cb(err);
    }
    next(null, []);
  }

  /** AT+CIPSEND=<length>,<remote IP>,<remote port> → OK, ">" → data → "Recv N bytes", SEND OK. */
  override tx(data: Uint8Array, host: string, port: number, cb: ModemCallback): void {
    this.at.cmd(
      'AT+CIPSEND=' + data.length + ',"' + host + '",' + port,
      { data: data, fin: 'SEND OK', fail: 'SEND FAIL', retries: (this.o.sendTries || 2) - 1, timeout: this.o.timeout || 5000 },
      cb,
    );
  }
}
