/**
 * UDP over the SIM7500/SIM7600 series' TCP/IP commands (NETOPEN/CIPOPEN; the SIM7800 and the
 * A7600 family spell them the same way): one unconnected UDP socket, link 0, bound to a local
 * port, that sends to any remote and receives from any.
 *
 * Sources: SIMCom "SIM7500_SIM7600 Series AT Command Manual" V2.00 (2020-08-06), chapter "AT
 * Commands for TCP/IP" (AT+NETOPEN, AT+NETCLOSE, AT+IPADDR, AT+CIPOPEN, AT+CIPSEND, AT+CIPRXGET,
 * AT+CIPCLOSE, AT+CIPMODE, AT+CIPHEAD, AT+CIPSRIP, and the +CIPEVENT/+IPCLOSE URCs), and the
 * "SIM7500_SIM7600_SIM7800 Series TCPIP AT Command Manual" V1.00 (2018-10-12) / "SIM7X00 Series
 * TCPIP Application Note". Only their titles and tables of contents could be read here: every
 * command form below is taken from public drivers that follow them (TinyGSM TinyGsmClientSIM7600.h,
 * RT-Thread at_socket_sim76xx.c, Zephyr's SIM7022 driver) and vendor example logs, and is
 * unverified against the manual's own text.
 *
 * Bearer: [AT+CGDCONT=1,"IP","<apn>"], AT+CIPMODE=0 (non-transparent), AT+NETOPEN → OK, then
 * `+NETOPEN: 0`; AT+IPADDR → `+IPADDR: <ip>`. Socket: AT+CIPOPEN=0,"UDP",,,<local port> → OK,
 * then `+CIPOPEN: 0,0`. Send: AT+CIPSEND=0,<len>,"<ip>",<port> → ">" → exactly <len> bytes → OK,
 * then `+CIPSEND: 0,<requested>,<sent>`.
 *
 * Receive: the manual-receive mode AT+CIPRXGET=1: `+CIPRXGET: 1,0` announces data,
 * AT+CIPRXGET=2,0,1460 returns `+CIPRXGET: 2,0,<n>,<left>` CR LF and <n> bytes (simbase.ts).
 * Its reply names no sender, so datagrams are handed out as coming from the last
 * destination sent to (or the configured remote) — right for a device talking to one WireGuard
 * peer. Firmware that refuses AT+CIPRXGET=1 pushes datagrams: with AT+CIPSRIP=1 and AT+CIPHEAD=1
 * each comes as `RECV FROM:<ip>:<port>` CR LF `+IPD<len>` CR LF <bytes>, with its real sender.
 *
 * Network loss: `+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY` (then AT+NETCLOSE before NETOPEN again)
 * or `+IPCLOSE: 0,<reason>` (the socket closed).
 *
 * Device code (Espruino).
 */
import type { AtEngine } from '../at.js';
import { SIMCOM_MAX } from './simbase.js';
import { UdpModem } from './udp.js';
import type { ModemCallback, ModemOptions } from './udp.js';

/** Largest datagram: AT+CIPRXGET reads at most 1460 bytes (the send limit, 1500, is not used). */
export const SIM7600_MAX = SIMCOM_MAX;

/** SIM7500/SIM7600-series UDP driver (dialect 'sim7600'). */
export class Sim7600Udp extends UdpModem {
  constructor(at: AtEngine, opts?: ModemOptions) {
    super(at, opts);
    // Boot: RDY, +CPIN: READY, SMS DONE, PB DONE.
    at.watch('boot', 'RDY');
    at.watch('boot', '+CPIN: READY');
    at.watch('boot', 'SMS DONE');
    at.watch('down', '+CIPEVENT:');
    at.watch('down', '+IPCLOSE: 0,');
    // Tags for UdpModem.ev: 'n' the network closed (AT+NETCLOSE before opening it again).
    at.urc('+CIPEVENT:', 'n');
    // Manual receive (simbase.ts): 'r' data announced; 'd' a datagram.
    this.rcmd = 'AT+CIPRXGET=2,0,' + SIMCOM_MAX;
    at.urc('+CIPRXGET: 1,0', 'r');
    at.raw('+CIPRXGET: 2,', '\n', 1, 'd');
    // Push mode: "RECV FROM:<ip>:<port>" (AT+CIPSRIP=1, tag 'f': the sender), then "+IPD<len>" on its own line, then the bytes.
    at.urc('RECV FROM:', 'f');
    at.raw('+IPD', '\n', 0, 'd');
  }

  override start(cb: ModemCallback, mode: number): void {
    const self = this;
    const at = this.at;
    const nt = this.o.netTimeout || 60000;
    // Steps 0-12 open, 20-22 tear down (mode 1, the socket alone, is not used: the socket is unconnected).
    let step = mode === 2 ? 20 : 0;
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
          if (self.o.apn) {
            // AT+CGDCONT=<cid>,<PDP_type>,<APN>: context 1 carries the TCP/IP stack by default.
            at.cmd('AT+CGDCONT=1,"IP","' + self.o.apn + '"', null, next);
            return;
          }
          next(null, []);
          return;
        case 3:
          // AT+CIPMODE=0: non-transparent (command) mode; ERROR once the network is open, which is fine.
          at.cmd('AT+CIPMODE=0', null, next);
          return;
        case 4:
          // AT+CIPRXGET=1: manual receive. ERROR: data will be pushed, so ask for its sender and length.
          at.cmd('AT+CIPRXGET=1', null, next);
          return;
        case 5:
          if (!err) {
            step = 7;
            next(null, []);
            return;
          }
          at.cmd('AT+CIPSRIP=1', null, next);
          return;
        case 6:
          at.cmd('AT+CIPHEAD=1', null, next);
          return;
        case 7:
          // AT+NETOPEN? → +NETOPEN: <net_state> (1: open).
          at.cmd('AT+NETOPEN?', { resp: '+NETOPEN:' }, next);
          return;
        case 8:
          if (err) break;
          for (let i = 0; i < lines.length; i++) {
            // "+NETOPEN: 1" (some firmware: "+NETOPEN: 1,0"): already open.
            if (lines[i]!.substring(0, 11) === '+NETOPEN: 1') {
              next(null, []);
              return;
            }
          }
          // AT+NETOPEN → OK, then +NETOPEN: <err> (0: success).
          at.cmd('AT+NETOPEN', { timeout: nt, fin: '+NETOPEN: 0', fail: '+NETOPEN:' }, next);
          return;
        case 9:
          if (err) break;
          // AT+IPADDR → +IPADDR: <ip>.
          at.cmd('AT+IPADDR', { resp: '+IPADDR:' }, next);
          return;
        case 10: {
          if (err) break;
          let ip = '';
          for (let i = 0; i < lines.length; i++) if (lines[i]!.substring(0, 8) === '+IPADDR:') ip = lines[i]!.substring(8).trim();
          if (!ip) {
            err = 'noip';
            break;
          }
          self.ip = ip;
          // A socket left open (a restart of the host only) would make CIPOPEN fail: close it
          // (→ OK, +CIPCLOSE: 0,0; or +CIPCLOSE: 0,<err>, ERROR when it was not open).
          at.cmd('AT+CIPCLOSE=0', { fin: '+CIPCLOSE: 0,0' }, next);
          return;
        }
        case 11:
          // AT+CIPOPEN=<link_num>,"UDP",,,<localPort> → OK, then +CIPOPEN: <link_num>,<err> (0: success).
          at.cmd('AT+CIPOPEN=0,"UDP",,,' + (self.o.lport || 51820), { timeout: nt, fin: '+CIPOPEN: 0,0' }, next);
          return;
        case 12:
          if (err) break;
          cb(null);
          return;
        case 20:
          self.rs = 0;
          at.cmd('AT+CIPCLOSE=0', { fin: '+CIPCLOSE: 0,0' }, next);
          return;
        case 21:
          if (self.nl) {
            // After +CIPEVENT the stack must be released before AT+NETOPEN works again (TinyGSM does the same).
            self.nl = 0;
            at.cmd('AT+NETCLOSE', { fin: '+NETCLOSE: 0', timeout: nt }, next);
            return;
          }
          cb(null);
          return;
        case 22:
          cb(null);
          return;
      }
      cb(err);
    }
    next(null, []);
  }

  override tx(data: Uint8Array, host: string, port: number, cb: ModemCallback): void {
    // Manual-mode reads carry no sender: attribute them to whom we talk to.
    this.rh = host;
    this.rport = port;
    // AT+CIPSEND=<link_num>,<length>,<serverIP>,<serverPort> → ">" → data → OK, +CIPSEND: <link_num>,<reqSendLength>,<cnfSendLength>.
    this.at.cmd(
      'AT+CIPSEND=0,' + data.length + ',"' + host + '",' + port,
      { data: data, fin: '+CIPSEND:', retries: (this.o.sendTries || 2) - 1, timeout: this.o.timeout || 5000 },
      function (err: string | null, lines: string[]): void {
        if (!err) {
          // <cnfSendLength> -1: the link is gone; less than requested: not sent whole.
          const l = lines[lines.length - 1]!;
          if (parseInt(l.substring(l.lastIndexOf(',') + 1), 10) !== data.length) err = l;
        }
        cb(err);
      },
    );
  }
}
