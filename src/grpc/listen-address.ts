/**
 * The controller's listen address: `host:port`, `[ipv6]:port` or `unix:/path`, and whether
 * it is reachable only from this machine (loopback or a Unix socket). The server refuses a
 * non-loopback address unless TLS or a token protects it.
 *
 * @example
 * ```ts
 * parseListenAddress('127.0.0.1:0');   // { host: '127.0.0.1', port: 0, loopback: true, unix: false }
 * parseListenAddress('0.0.0.0:50051'); // { …, loopback: false }
 * ```
 */
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../errors/catalog.ts';

/** A parsed listen address. */
export interface ListenAddress {
  /** Host without brackets (`::1`), or the socket path for `unix:`. */
  readonly host: string;
  /** Port, 0 for "any free port"; 0 for Unix sockets. */
  readonly port: number;
  /** Only reachable from this machine. */
  readonly loopback: boolean;
  readonly unix: boolean;
}

/** True for `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped 127.x. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) {
    if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice(7));
    const groups = expandIPv6(h);
    return groups !== undefined && groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
  }
  return false;
}

function expandIPv6(h: string): number[] | undefined {
  const [head, tail] = h.includes('::') ? h.split('::') : [h, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  if (right.some((g) => g.includes('.')) || left.some((g) => g.includes('.'))) return undefined;
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...new Array<string>(fill).fill('0'), ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 ? groups : undefined;
}

/** Parses `host:port`, `[v6]:port` or `unix:path`; throws `InvalidArgumentError` on anything else. */
export function parseListenAddress(address: string): ListenAddress {
  if (address.startsWith('unix:')) {
    const path = address.slice(5).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new InvalidArgumentError(`listen address '${address}' has no socket path`);
    return { host: path, port: 0, loopback: true, unix: true };
  }
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0 || address[close + 1] !== ':') throw new InvalidArgumentError(`listen address '${address}' is not [ipv6]:port`);
    host = address.slice(1, close);
    portText = address.slice(close + 2);
  } else {
    const colon = address.lastIndexOf(':');
    if (colon < 0 || address.indexOf(':') !== colon) {
      throw new InvalidArgumentError(`listen address '${address}' is not host:port (write IPv6 hosts as [::1]:port)`);
    }
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new InvalidArgumentError(`listen address '${address}' has no valid port (0..65535)`);
  return { host, port, loopback: isLoopbackHost(host), unix: false };
}

/** `host:port` for reporting, with brackets around IPv6 hosts. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
