/**
 * What the SIMCom drivers share. The connected-socket bookkeeping of the dialects whose UDP socket
 * talks to one remote (SIM7070/SIM7080/SIM7090 "CA" commands, SIM7000 AT+CIPSTART) is in
 * UdpModem.send (`cx` 1): a datagram to another remote reopens the socket (a new socket, so a new
 * NAT mapping: 'reattach').
 *
 * Manual receive (AT+CIPRXGET=1, the TCP/IP-toolkit family: SIM7000, SIM7600): the modem buffers
 * datagrams and announces them (`+CIPRXGET: 1` on the SIM7000, `+CIPRXGET: 1,<link>` on the
 * SIM7600) — once, until the buffer has been drained; the driver registers that URC with tag 'r',
 * so UdpModem.ev fetches them with `rcmd` (AT+CIPRXGET=2,…), whose reply is
 * `+CIPRXGET: 2,[<link>,]<read length>,<length left>` CR LF, then exactly <read length> bytes
 * (registered with `raw('+CIPRXGET: 2,', '\n', <index of read length>, 'd')`). Reads repeat while
 * the modem says bytes are left — the second number: observed in TinyGSM's SIM7000/SIM800 code
 * and documented for the SIM7600 (the SIM800/SIM7000 manual calls it <cnflength>) — and once more
 * if a URC came during a read. Datagrams go to `rh:rport`: the replies carry no sender (on a
 * connected socket it is the remote; see the SIM7600 driver otherwise).
 *
 * One read is taken to be one datagram (each is at most SIMCOM_MAX bytes and we ask for that
 * much); the manuals do not say how a UDP socket's buffer is cut into reads — unverified.
 *
 * Device code (Espruino).
 */

/**
 * Largest datagram the SIMCom send/read commands take: AT+CASEND <datalen> and AT+CARECV
 * <readlen> 1-1460 (SIM7070_SIM7080_SIM7090 AT Command Manual), AT+CIPRXGET <reqlength> 1-1460
 * (SIM800 Series AT Command Manual V1.09 §8.2.26, the TCP/IP toolkit the SIM7000 inherits).
 */
export const SIMCOM_MAX = 1460;
