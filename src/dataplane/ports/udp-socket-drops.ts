import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';

/**
 * The kernel's drop count for the UDP socket bound to `address:port` in this network
 * namespace: the `drops` column of `/proc/net/udp` (datagrams the kernel discarded because
 * the socket's receive buffer was full, the per-socket share of `RcvbufErrors`). Returns
 * `undefined` when the socket is not listed or the file cannot be read (not Linux).
 * Reads a file: for stats, never per packet.
 *
 * @example
 * ```ts
 * readUdpSocketDrops('198.19.4.1', 4789); // 0 while the chain keeps up
 * ```
 */
export function readUdpSocketDrops(address: string, port: number, procNetUdp?: string): number | undefined {
  let text = procNetUdp;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/udp', 'utf8');
    } catch {
      return undefined;
    }
  }
  const want = `${procAddressHex(address)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13 || fields[1] !== want) continue;
    const drops = Number(fields[fields.length - 1]);
    return Number.isFinite(drops) ? drops : undefined;
  }
  return undefined;
}

/** `RcvbufErrors` of the `Udp:` lines of `/proc/net/snmp` (whole namespace), or `undefined`. */
export function readUdpRcvbufErrors(procNetSnmp?: string): number | undefined {
  let text = procNetSnmp;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/snmp', 'utf8');
    } catch {
      return undefined;
    }
  }
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return undefined;
  const names = lines[0].trim().split(/\s+/);
  const values = lines[1].trim().split(/\s+/);
  const i = names.indexOf('RcvbufErrors');
  return i < 0 ? undefined : Number(values[i]);
}

/** An IPv4 address as `/proc/net/udp` prints it: the 32-bit word in host byte order, hex. */
function procAddressHex(address: string): string {
  const b = address.split('.').map((x) => Number(x));
  const bytes = endianness() === 'LE' ? [b[3], b[2], b[1], b[0]] : b;
  return bytes.map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join('');
}
