/**
 * What the SIMCom drivers share: the connected-socket bookkeeping of the dialects whose UDP socket
 * talks to one remote (SIM7070/SIM7080/SIM7090 "CA" commands, SIM7000 AT+CIPSTART), and the
 * manual-receive mode AT+CIPRXGET of the TCP/IP-toolkit family (SIM7000, SIM7600).
 *
 * Device code (Espruino).
 */
import type { AtEngine } from '../at.js';
import { UdpModem } from './udp.js';
import type { ModemCallback, ModemOptions } from './udp.js';

/**
 * Largest datagram the SIMCom send/read commands take: AT+CASEND <datalen> and AT+CARECV
 * <readlen> 1-1460 (SIM7070_SIM7080_SIM7090 AT Command Manual), AT+CIPRXGET <reqlength> 1-1460
 * (SIM800 Series AT Command Manual V1.09 §8.2.26, the TCP/IP toolkit the SIM7000 inherits).
 */
export const SIMCOM_MAX = 1460;

/**
 * A driver whose socket is connected to one remote (`rh:rport`, from the options or the first
 * destination): a datagram to another remote reopens the socket (a new socket, so a new NAT
 * mapping: 'reattach'). Subclasses implement `sock` (open to rh:rport, setting `open0`) and `put`
 * (send on the open socket), plus start/stop.
 */
export abstract class ConnectedUdpModem extends UdpModem {
  /** Socket open to rh:rport; being opened. */
  declare open0: boolean;
  declare opening: boolean;

  constructor(at: AtEngine, opts?: ModemOptions) {
    super(at, opts);
    this.open0 = false;
    this.opening = false;
  }

  /** Opens the socket to rh:rport (sets open0/opening). */
  abstract sock(cb: ModemCallback): void;

  /** Sends one datagram on the open socket. */
  abstract put(data: Uint8Array, cb: ModemCallback): void;

  override tx(data: Uint8Array, host: string, port: number, cb: ModemCallback): void {
    const self = this;
    if (data.length > SIMCOM_MAX) {
      cb('size');
      return;
    }
    if (host !== this.rh || port !== this.rport) {
      // A connected socket: a new remote means a new socket (and a new NAT mapping).
      const first = !this.rh;
      this.rh = host;
      this.rport = port;
      if (!first) {
        // Restart the socket on purpose: no 'down', but 'reattach' when back.
        if (this.st === 2) {
          this.st = 3;
          this.retry(0);
        }
        cb('reopen');
        return;
      }
    }
    if (!this.open0) {
      // One open at a time: a datagram sent meanwhile is dropped (WireGuard retransmits).
      if (this.opening) {
        cb('busy');
        return;
      }
      this.sock(function (err: string | null): void {
        if (err) cb(err);
        else self.put(data, cb);
      });
      return;
    }
    this.put(data, cb);
  }
}

/**
 * Manual receive (AT+CIPRXGET=1): the modem buffers datagrams and announces them with `urc`
 * (`+CIPRXGET: 1` on the SIM7000, `+CIPRXGET: 1,<link>` on the SIM7600) — once, until the buffer
 * has been drained; `m.read()` then fetches them with `cmd` (AT+CIPRXGET=2,…), whose reply is
 * `+CIPRXGET: 2,[<link>,]<read length>,<length left>` CR LF, then exactly <read length> bytes.
 * `k` is the index of <read length> among the comma-separated header fields (1 without a link
 * number, 2 with). Reads repeat while the modem says bytes are left (`got`), and once more if a
 * URC came during a read (`again`, see UdpModem.read). Datagrams go to `rh:rport`: the replies
 * carry no sender (on a connected socket it is the remote; see the SIM7600 driver otherwise).
 *
 * One read is taken to be one datagram (each is at most SIMCOM_MAX bytes and we ask for that
 * much); the manuals do not say how a UDP socket's buffer is cut into reads — unverified.
 */
export function cipRxget(m: UdpModem, urc: string, k: number, cmd: string): void {
  m.rcmd = cmd;
  m.rresp = '+CIPRXGET: 2';
  m.at.urc(urc, function (): void { m.read(); });
  m.at.raw(
    '+CIPRXGET: 2,',
    '\n',
    function (h: string): number {
      const f = h.split(',');
      // Observed (TinyGSM's SIM7000/SIM800 code) and documented for the SIM7600: the second
      // number is what is left in the buffer (the SIM800/SIM7000 manual calls it <cnflength>).
      // Taken from the header, so a payload the engine drops (too big, or cut short) does not
      // stop the reads while the modem still holds data it will not announce again.
      m.got = parseInt(f[k + 1]!, 10) > 0;
      return parseInt(f[k]!, 10);
    },
    function (buf: Uint8Array, len: number): void { m.deliver(buf, len, m.rh, m.rport); },
  );
}
