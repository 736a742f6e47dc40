/**
 * UDP over Quectel's TCP/IP AT commands (BG95/BG77/BG600L, BG96, EG91/EC2x use the same set).
 * Source: Quectel "BG95&BG77&BG600L Series TCP/IP Application Note" V1.1 (2021-03-29), §2.3.1
 * AT+QICSGP, §2.3.2 AT+QIACT, §2.3.3 AT+QIDEACT, §2.3.4 AT+QIOPEN, §2.3.5 AT+QICLOSE, §2.3.7
 * AT+QISEND, §2.3.8 AT+QIRD, §2.4 URCs (+QIURC: "closed"/"recv"/"pdpdeact"); the same commands
 * are in the "BG96 TCP/IP Application Note" §2.2.
 *
 * One "UDP SERVICE" socket (connectID 0, context 1) in buffer access mode: it sends to any remote
 * (AT+QISEND=0,<len>,"<ip>",<port>) and receives from any; `+QIURC: "recv",0` announces data,
 * each AT+QIRD=0 returns one datagram with its sender, and the modem announces nothing new until
 * the buffer is drained, so reads repeat until `+QIRD: 0`.
 *
 * Device code (Espruino).
 */
import type { AtEngine } from '../at.js';
import { UdpModem } from './udp.js';
import type { ModemCallback, ModemOptions } from './udp.js';

/** Largest datagram AT+QISEND takes (<send_length> 0-1460). */
export const QUECTEL_MAX = 1460;

/** BG95/BG96/EG91-family UDP driver. */
export class QuectelUdp extends UdpModem {
  constructor(at: AtEngine, opts?: ModemOptions) {
    super(at, opts);
    this.mx = QUECTEL_MAX;
    this.rcmd = 'AT+QIRD=0';
    // Boot: "RDY", then "+CFUN: 1", "+CPIN: READY", "+QIND: SMS DONE", "APP RDY" (BG95).
    at.watch('boot', 'RDY');
    at.watch('down', '+QIURC: "pdpdeact"');
    at.watch('down', '+QIURC: "closed"');
    // Tags for UdpModem.ev: 'n' the context was lost (deactivate it before activating again), 'r' data.
    at.urc('+QIURC: "pdpdeact"', 'n');
    at.urc('+QIURC: "recv"', 'r');
    // AT+QIRD=0 → "+QIRD: <len>,<remoteIP>,<remote_port><CR><LF><data>" then OK; "+QIRD: 0" when empty.
    at.raw('+QIRD: ', '\n', 0, 'd');
  }

  override start(cb: ModemCallback, mode: number): void {
    const self = this;
    const at = this.at;
    const nt = this.o.netTimeout || 60000;
    // Steps 0-7 open, 10-12 tear down (mode 1, the socket alone, is not used: the socket is unconnected).
    let step = mode === 2 ? 10 : 0;
    let act = 0;
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
            // AT+QICSGP=<contextID>,<context_type>,<APN>,<username>,<password>,<authentication>: type 1 = IPv4.
            at.cmd('AT+QICSGP=1,1,"' + self.o.apn + '","","",1', null, next);
            return;
          }
          next(null, []);
          return;
        case 3:
          if (err) break;
          // AT+QIACT? → +QIACT: <contextID>,<context_state>,<context_type>,<IP_address>
          at.cmd('AT+QIACT?', { resp: '+QIACT:' }, next);
          return;
        case 4:
          if (err) break;
          for (let i = 0; i < lines.length; i++) {
            const f = lines[i]!.substring(7).split(',');
            if (lines[i]!.substring(0, 7) === '+QIACT:' && parseInt(f[0]!, 10) === 1 && parseInt(f[1]!, 10) === 1 && f.length > 3) {
              // Context 1 is active.
              self.ip = f[3]!.trim().split('"').join('');
              next(null, []);
              return;
            }
          }
          if (act) {
            err = 'nopdp';
            break;
          }
          // AT+QIACT=<contextID>: up to 150 s; then query again.
          act = 1;
          step = 3;
          at.cmd('AT+QIACT=1', { timeout: nt }, next);
          return;
        case 5:
          // A socket left open (e.g. by a restart of the host only) would make QIOPEN fail with 563.
          at.cmd('AT+QICLOSE=0', null, next);
          return;
        case 6:
          // AT+QIOPEN=<contextID>,<connectID>,"UDP SERVICE","127.0.0.1",0,<local_port>,<access_mode 0 = buffer>:
          // OK, then "+QIOPEN: <connectID>,<err>" (0 = success), suggested wait 150 s.
          at.cmd(
            'AT+QIOPEN=1,0,"UDP SERVICE","127.0.0.1",0,' + (self.o.lport || 51820) + ',0',
            { timeout: nt, fin: '+QIOPEN:' },
            next,
          );
          return;
        case 7:
          if (!err) {
            const r = lines[lines.length - 1]!.split(',')[1];
            if (r === undefined || parseInt(r, 10) !== 0) err = lines[lines.length - 1]!;
          }
          if (err) break;
          cb(null);
          return;
        case 10:
          self.rs = 0;
          at.cmd('AT+QICLOSE=0', null, next);
          return;
        case 11:
          if (self.nl) {
            // After "pdpdeact" the manual asks for AT+QIDEACT before the context is activated again.
            self.nl = 0;
            at.cmd('AT+QIDEACT=1', { timeout: 40000 }, next);
            return;
          }
          cb(null);
          return;
        case 12:
          cb(null);
          return;
      }
      cb(err);
    }
    next(null, []);
  }

  /** AT+QISEND=<connectID>,<send_length>,<remoteIP>,<remote_port> → ">" → data → SEND OK / SEND FAIL / ERROR. */
  override tx(data: Uint8Array, host: string, port: number, cb: ModemCallback): void {
    this.at.cmd(
      'AT+QISEND=0,' + data.length + ',"' + host + '",' + port,
      { data: data, fin: 'SEND OK', fail: 'SEND FAIL', retries: (this.o.sendTries || 2) - 1, timeout: this.o.timeout || 5000 },
      cb,
    );
  }
}
