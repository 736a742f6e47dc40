/**
 * UDP over SIMCom's "CA" application TCP/UDP command family as the SIM7070G/SIM7080G/SIM7090G
 * spell it. Source: SIMCom "SIM7070_SIM7080_SIM7090 Series_AT Command Manual" V1.0x — ch. "AT
 * Commands for TCP/UDP Application" (§12.2: AT+CACID, +CAOPEN, +CASEND, +CARECV, +CASTATE,
 * +CACLOSE) and AT+CNACT/AT+CNCFG ("APP network"); and the companion "SIM7070_SIM7080_SIM7090
 * Series_TCPIP_Application Note".
 *
 * Not here: the older CIPSTART/CIPSEND family (SIM7000: sim7000.ts), SIM7600's NETOPEN/CIPOPEN
 * (sim7600.ts), and the SIM7000's own CA variant, which spells the commands differently
 * (AT+CNACT=<mode>,<apn> without a context index, AT+CAOPEN=<cid>,<server>,<port>, a
 * `+CASEND: <cid>,<result>,<len>` result after the data — as TinyGSM's SIM7000SSL driver uses them).
 *
 * The socket is a connected UDP socket (one remote at a time): a datagram to another remote
 * reopens it. Receiving uses the manual-read mode (CAOPEN without <recv_mode>, the form every
 * firmware accepts): the modem says "+CADATAIND: <cid>" (some firmware: `+CAURC: "recv",<cid>`),
 * then AT+CARECV returns one datagram per call. Push mode (`+CAURC: "recv",<cid>,<len>…` followed
 * by the bytes) is understood too, should a firmware use it.
 *
 * Device code (Espruino).
 */
import type { AtEngine } from '../at.js';
import { SIMCOM_MAX } from './simbase.js';
import { UdpModem } from './udp.js';
import type { ModemCallback, ModemOptions } from './udp.js';

/** Largest datagram AT+CASEND/AT+CARECV take (manual: <datalen> 1-1460, <readlen> 1-1460). */
export { SIMCOM_MAX };

/** SIM7080-family UDP driver (the connected-socket logic is in UdpModem.send). */
export class SimcomUdp extends UdpModem {
  constructor(at: AtEngine, opts?: ModemOptions) {
    super(at, opts);
    this.cx = 1;
    this.so = 0;
    this.rcmd = 'AT+CARECV=0,' + SIMCOM_MAX;
    // RDY only comes at a fixed baud rate; "+CPIN: READY"/"SMS Ready" follow every boot (and CFUN=1).
    at.watch('boot', 'RDY');
    at.watch('boot', '+CPIN: READY');
    at.watch('boot', 'SMS Ready');
    // "+APP PDP: <pdpidx>,DEACTIVE|ACTIVE" (AT+CNACT URC); "+CASTATE: <cid>,0": socket closed.
    at.watch('down', '+APP PDP: 0,DEACTIVE');
    at.watch('down', '+CASTATE: 0,0');
    at.watch('up', '+APP PDP: 0,ACTIVE');
    // Tags for UdpModem.ev ('r': data announced; 'd': a datagram).
    at.urc('+CADATAIND:', 'r');
    at.urc('+CAURC: "recv"', 'r');
    // AT+CARECV=<cid>,<readlen> → "+CARECV: <recvlen>,<data>" (binary, exactly recvlen bytes).
    at.raw('+CARECV: ', ',', 0, 'd');
    // Push mode: +CAURC: "recv",<cid>,<len>[,<ip>,<port>]<CR><LF><data>.
    at.raw('+CAURC: "recv",', '\n', 1, 'd');
  }

  override start(cb: ModemCallback, mode: number): void {
    const self = this;
    const at = this.at;
    const nt = this.o.netTimeout || 60000;
    // Steps 0-6 bring the PDP context up, 10-11 (re)open socket 0 to rh:rport, 20 tears it down.
    let step = mode === 2 ? 20 : mode === 1 ? 10 : 0;
    let polls = 0;
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
          if (self.o.apn) {
            // AT+CNCFG=<pdpidx>,<ip_type>,<APN>: ip_type 1 = IPv4.
            at.cmd('AT+CNCFG=0,1,"' + self.o.apn + '"', null, next);
            return;
          }
          next(null, []);
          return;
        case 3:
          if (err) break;
          // AT+CNACT? → +CNACT: <pdpidx>,<statusx>,<address> per context.
          at.cmd('AT+CNACT?', { resp: '+CNACT:' }, next);
          return;
        case 4: {
          if (err) break;
          for (let i = 0; i < lines.length; i++) {
            const f = lines[i]!.substring(8).split(',');
            if (lines[i]!.substring(0, 8) === '+CNACT: ' && parseInt(f[0]!, 10) === 0 && parseInt(f[1]!, 10) === 1 && f.length > 2) {
              // Context 0 is active.
              self.ip = f[2]!.trim().split('"').join('');
              step = 6;
              next(null, []);
              return;
            }
          }
          if (polls === 0) {
            // AT+CNACT=<pdpidx>,<action>: 1 = activate; OK, then URC "+APP PDP: 0,ACTIVE".
            at.cmd('AT+CNACT=0,1', { timeout: nt }, next);
            return;
          }
          if (polls > 30) {
            err = 'nopdp';
            break;
          }
          step = 5;
          setTimeout(function (): void { next(null, []); }, 1000);
          return;
        }
        case 5:
          // After the activation (or a wait): query again; an ERROR (already active) is fine.
          polls++;
          step = 4;
          at.cmd('AT+CNACT?', { resp: '+CNACT:' }, next);
          return;
        case 6:
          if (!self.rh) {
            // No remote yet: the socket opens at the first send.
            cb(null);
            return;
          }
          step = 10;
          next(null, []);
          return;
        case 10:
          // (Re)open socket 0 to rh:rport. AT+CACLOSE=<cid>: ERROR when it was not open, which is fine.
          self.so = 1;
          at.cmd('AT+CACLOSE=0', null, next);
          return;
        case 11:
          // AT+CAOPEN=<cid>,<pdp_index>,<conn_type>,<server>,<port> → +CAOPEN: <cid>,<result> (0 = ok), OK.
          at.cmd('AT+CAOPEN=0,0,"UDP","' + self.rh + '",' + self.rport, { timeout: nt, resp: '+CAOPEN:' }, next);
          return;
        case 12:
          if (!err) {
            err = 'CAOPEN';
            for (let i = 0; i < lines.length; i++) {
              if (lines[i]!.substring(0, 8) === '+CAOPEN:') err = lines[i]!.split(',')[1] === '0' ? null : lines[i]!;
            }
          }
          self.so = err ? 0 : 2;
          break;
        case 20:
          self.so = 0;
          self.rs = 0;
          at.cmd('AT+CACLOSE=0', null, next);
          return;
        case 21:
          cb(null);
          return;
      }
      cb(err);
    }
    next(null, []);
  }

  /** AT+CASEND=<cid>,<datalen> → ">" → exactly datalen bytes → OK. */
  override tx(data: Uint8Array, host: string, port: number, cb: ModemCallback): void {
    this.at.cmd(
      'AT+CASEND=0,' + data.length,
      { data: data, retries: (this.o.sendTries || 2) - 1, timeout: this.o.timeout || 5000 },
      cb,
    );
  }
}
