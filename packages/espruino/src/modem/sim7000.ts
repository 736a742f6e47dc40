/**
 * UDP over the SIM7000 series' TCP/IP toolkit (the CIPSTART/CIPSEND family it shares with the
 * SIM800/SIM900): one connected UDP socket in single-connection mode.
 *
 * Sources: SIMCom "SIM7000 Series AT Command Manual" V1.03 (2018-05-08), ch. 8 "AT Commands for
 * TCPIP Application Toolkit" — §8.2.3 AT+CIPSEND read for this driver (p. 125-126); the other
 * sections of ch. 8 were not readable here, so their forms are taken from the same chapter of the
 * SIM800 (whose toolkit the SIM7000 carries over, same numbering): "SIM800 Series AT Command Manual"
 * V1.09 (2015-08-03) §8.2.1 AT+CIPMUX, §8.2.2 AT+CIPSTART, §8.2.6 AT+CIPCLOSE, §8.2.7 AT+CIPSHUT,
 * §8.2.9 AT+CSTT, §8.2.10 AT+CIICR, §8.2.11 AT+CIFSR, §8.2.12 AT+CIPSTATUS, §8.2.15 AT+CIPHEAD,
 * §8.2.26 AT+CIPRXGET. The "SIM7000 Series TCPIP Application Note" was not found.
 *
 * Bearer: AT+CIPSHUT (state IP INITIAL), AT+CIPMUX=0, AT+CSTT="<apn>" (IP START), AT+CIICR
 * (IP GPRSACT), AT+CIFSR (the local address; IP STATUS). Socket: AT+CIPSTART="UDP","<ip>",<port>
 * → OK, CONNECT OK. Send: AT+CIPSEND=<len> → ">" → exactly <len> bytes → SEND OK.
 *
 * Receive: the manual-receive mode AT+CIPRXGET=1 (set before the connection): `+CIPRXGET: 1`
 * announces data, AT+CIPRXGET=2,1460 returns `+CIPRXGET: 2,<n>,<left>` CR LF and <n> bytes (see
 * simbase.ts). Firmware that refuses AT+CIPRXGET=1 pushes datagrams instead; AT+CIPHEAD=1
 * makes each arrive as `+IPD,<len>:<bytes>`, which is understood in either mode.
 *
 * Network loss: `+PDP: DEACT` (the manual then asks for AT+CIPSHUT) or `CLOSED`; recovery reads
 * AT+CIPSTATUS and redoes the bearer only when it is gone.
 *
 * Unverified: the SIM7000 spelling of every ch. 8 command but AT+CIPSEND; that <len> bytes after
 * the prompt are taken literally (0x1A/0x1B included) — the manual's Ctrl-Z/ESC rules are for the
 * execution form AT+CIPSEND without a length; which CIPRXGET number is the byte count (the
 * manual: `2,<reqlength>,<cnflength>`; TinyGSM reads the first as the count and the second as what
 * is left, and so does this driver); `AT+CIFSR;E0` (two commands on one line, manual §1.4.4,
 * used by TinyGSM) to get an OK after the bare address line.
 *
 * Device code (Espruino).
 */
import type { AtEngine } from '../at.js';
import { SIMCOM_MAX } from './simbase.js';
import { UdpModem } from './udp.js';
import type { ModemCallback, ModemOptions } from './udp.js';

/** Largest datagram (AT+CIPRXGET <reqlength> 1-1460; AT+CIPSEND? reports the send limit). */
export const SIM7000_MAX = SIMCOM_MAX;

/** SIM7000-series UDP driver (dialect 'sim7000'; the connected-socket logic is in UdpModem.send). */
export class Sim7000Udp extends UdpModem {
  constructor(at: AtEngine, opts?: ModemOptions) {
    super(at, opts);
    this.cx = 1;
    this.so = 0;
    // Boot: RDY (at a fixed baud rate only), +CFUN: 1, +CPIN: READY, SMS Ready.
    at.watch('boot', 'RDY');
    at.watch('boot', '+CPIN: READY');
    at.watch('boot', 'SMS Ready');
    at.watch('down', '+PDP: DEACT');
    at.watch('down', 'CLOSED');
    // Manual receive (simbase.ts): tags for UdpModem.ev ('r': data announced; 'd': a datagram).
    this.rcmd = 'AT+CIPRXGET=2,' + SIMCOM_MAX;
    at.urc('+CIPRXGET: 1', 'r');
    at.raw('+CIPRXGET: 2,', '\n', 0, 'd');
    // Pushed data (AT+CIPHEAD=1, single connection): +IPD,<data length>:<data>.
    at.raw('+IPD,', ':', 0, 'd');
  }

  override start(cb: ModemCallback, mode: number): void {
    const self = this;
    const at = this.at;
    const nt = this.o.netTimeout || 60000;
    // Steps 0-11 bring the bearer up, 20-21 open the socket to rh:rport, 30 tears it down.
    let step = mode === 2 ? 30 : mode === 1 ? 20 : 0;
    if (mode === 0) this.so = 0;
    function next(err: string | null, lines: string[]): void {
      switch (step++) {
        case 0:
          // Autobaud sync: the first ATs after power-up may be lost.
          at.cmd('AT', { timeout: 500, retries: 10 }, next);
          return;
        case 1:
          if (err) break;
          at.cmd('ATE0', null, next);
          return;
        case 2:
          if (err) break;
          if (!self.ever) {
            // First open: start from IP INITIAL so the settings below take.
            step = 4;
            next(null, []);
            return;
          }
          // AT+CIPSTATUS → OK, then "STATE: <state>" (single connection).
          at.cmd('AT+CIPSTATUS', { fin: 'STATE:' }, next);
          return;
        case 3: {
          // States in which the PDP context is up: IP GPRSACT, IP STATUS, …CONNECTING, CONNECT OK, IP CLOSE, …CLOSED.
          const st = err ? '' : lines[lines.length - 1]!;
          if (st.indexOf('GPRSACT') >= 0 || st.indexOf('IP STATUS') >= 0 || st.indexOf('CONNECT') >= 0 || st.indexOf('CLOS') >= 0) {
            // The PDP context survived (a new remote, a closed socket): only the socket is redone.
            step = 10;
          }
          next(null, []);
          return;
        }
        case 4:
          // AT+CIPSHUT → SHUT OK: back to IP INITIAL (also required after +PDP: DEACT). Up to 65 s.
          at.cmd('AT+CIPSHUT', { fin: 'SHUT OK', timeout: 65000 }, next);
          return;
        case 5:
          // AT+CIPMUX=0: single connection (only in IP INITIAL).
          at.cmd('AT+CIPMUX=0', null, next);
          return;
        case 6:
          if (err) break;
          // AT+CIPHEAD=1: pushed data gets a "+IPD,<len>:" header (unused in manual mode).
          at.cmd('AT+CIPHEAD=1', null, next);
          return;
        case 7:
          // AT+CIPRXGET=1: manual receive; must be set before the connection. ERROR: data is pushed.
          at.cmd('AT+CIPRXGET=1', null, next);
          return;
        case 8:
          // AT+CSTT=<apn>,<user name>,<password> (IP INITIAL → IP START); bare AT+CSTT: the default APN.
          at.cmd(self.o.apn ? 'AT+CSTT="' + self.o.apn + '","",""' : 'AT+CSTT', null, next);
          return;
        case 9:
          if (err) break;
          // AT+CIICR: activate the PDP context (→ IP GPRSACT). Up to 85 s.
          at.cmd('AT+CIICR', { timeout: nt }, next);
          return;
        case 10:
          if (err) break;
          // AT+CIFSR answers the bare address without OK; ";E0" adds one (→ IP STATUS).
          at.cmd('AT+CIFSR;E0', null, next);
          return;
        case 11: {
          if (err) break;
          let ip = '';
          for (let i = 0; i < lines.length; i++) if (lines[i]!.split('.').length === 4) ip = lines[i]!;
          if (!ip) {
            err = 'noip';
            break;
          }
          self.ip = ip;
          if (!self.rh) {
            // No remote yet: the socket opens at the first send.
            cb(null);
            return;
          }
          step = 20;
          next(null, []);
          return;
        }
        case 20:
          // AT+CIPSTART="UDP","<ip>",<port> → OK, then CONNECT OK (or CONNECT FAIL); up to 75 s (TinyGSM).
          self.so = 1;
          at.cmd('AT+CIPSTART="UDP","' + self.rh + '",' + self.rport, { timeout: nt, fin: 'CONNECT OK', fail: 'CONNECT FAIL' }, next);
          return;
        case 21:
          self.so = err ? 0 : 2;
          break;
        case 30:
          self.so = 0;
          self.rs = 0;
          // AT+CIPCLOSE → CLOSE OK (ERROR when nothing is connected, which is fine).
          at.cmd('AT+CIPCLOSE', { fin: 'CLOSE OK' }, next);
          return;
        case 31:
          cb(null);
          return;
      }
      cb(err);
    }
    next(null, []);
  }

  /** AT+CIPSEND=<length> → ">" → exactly <length> bytes → SEND OK / SEND FAIL (AT+CIPQSEND=0, the default). */
  override tx(data: Uint8Array, host: string, port: number, cb: ModemCallback): void {
    this.at.cmd(
      'AT+CIPSEND=' + data.length,
      { data: data, fin: 'SEND OK', fail: 'SEND FAIL', retries: (this.o.sendTries || 2) - 1, timeout: this.o.timeout || 5000 },
      cb,
    );
  }
}
