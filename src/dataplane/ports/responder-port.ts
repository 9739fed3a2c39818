import { writeTcpChecksum } from '../../packet/checksum.ts';
import { writeTcpChecksumIpv6 } from '../../packet/checksum-ipv6.ts';
import { EtherType } from '../../packet/ethernet.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';

const SYN = 0x02;
const ACK = 0x10;
const RST = 0x04;
const FIN = 0x01;

/**
 * Simulated servers at the outside end (the embedded default's "web servers"): every TCP
 * SYN that leaves the chain is turned, in its own buffer, into the server's SYN-ACK (MACs,
 * addresses and ports swapped, seq 0, ack = seq + 1) and sent back into the chain, so the
 * stateful functions see real handshakes; a FIN gets a FIN-ACK the same way. IPv4 and IPv6
 * (TCP right after the fixed header; a packet with extension headers is not answered).
 * Everything else is counted and freed. No allocation per frame.
 *
 * @example
 * ```ts
 * const servers = new ResponderPort();
 * await dataPlane.runUntil(generator, servers, () => servers.synAcks >= flows);
 * ```
 */
export class ResponderPort implements ChainPort {
  /** SYN-ACKs and FIN-ACKs sent back. */
  synAcks = 0;
  finAcks = 0;
  /** Frames that left the chain here (all kinds). */
  frames = 0;
  bytes = 0;
  private readonly queue: Uint32Array;
  private head = 0;
  private count = 0;
  private readonly freeIds = new Uint32Array(256);

  /** @param capacity replies waiting to re-enter the chain; beyond it frames are freed unanswered. */
  constructor(capacity = 4096) {
    this.queue = new Uint32Array(capacity);
  }

  fill(_pool: PoolHandle, ids: Uint32Array, max: number): number {
    const n = max < this.count ? max : this.count;
    const q = this.queue;
    for (let i = 0; i < n; i++) {
      ids[i] = q[this.head];
      this.head = this.head + 1 === q.length ? 0 : this.head + 1;
    }
    this.count -= n;
    return n;
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    const view = pool.view;
    const meta = pool.meta;
    let f = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const off = pool.dataOffset(id);
      const len = meta.length[id];
      this.frames++;
      this.bytes += len;
      if (this.count < this.queue.length && this.answer(view, off, len)) {
        const q = this.queue;
        q[(this.head + this.count) % q.length] = id;
        this.count++;
      } else {
        this.freeIds[f++] = id;
      }
    }
    if (f > 0) pool.freeBatch(this.freeIds, f);
  }

  /** Rewrites a SYN or FIN into the server's answer in place; false for any other frame. */
  private answer(view: DataView, off: number, len: number): boolean {
    if (len < 54) return false;
    const ethertype = view.getUint16(off + 12);
    const l3 = off + 14;
    // Per family: where the TCP header starts, its length with payload, where the addresses are.
    let l4: number;
    let tcpLength: number;
    let addrAt: number;
    let addrBytes: number;
    if (ethertype === EtherType.IPV4) {
      const ihl = (view.getUint8(l3) & 0x0f) << 2;
      if (view.getUint8(l3 + 9) !== 6 || ihl < 20) return false;
      l4 = l3 + ihl;
      tcpLength = view.getUint16(l3 + 2) - ihl;
      addrAt = l3 + 12;
      addrBytes = 4;
    } else if (ethertype === EtherType.IPV6) {
      if (view.getUint8(l3 + 6) !== 6) return false;
      l4 = l3 + 40;
      tcpLength = view.getUint16(l3 + 4);
      addrAt = l3 + 8;
      addrBytes = 16;
    } else {
      return false;
    }
    if (l4 + 20 > off + len || tcpLength < 20 || l4 + tcpLength > off + len) return false;
    const flags = view.getUint8(l4 + 13);
    if ((flags & RST) !== 0) return false;
    let reply: number;
    if ((flags & (SYN | ACK)) === SYN) reply = SYN | ACK;
    else if ((flags & FIN) !== 0) reply = FIN | ACK;
    else return false;
    swapBytes(view, off, off + 6, 6);
    swapBytes(view, addrAt, addrAt + addrBytes, addrBytes);
    const ports = view.getUint32(l4);
    view.setUint32(l4, (ports << 16) | (ports >>> 16));
    const seq = view.getUint32(l4 + 4);
    const payload = tcpLength - ((view.getUint8(l4 + 12) >>> 4) << 2);
    view.setUint32(l4 + 4, reply === (SYN | ACK) ? 0 : 1);
    view.setUint32(l4 + 8, (seq + payload + 1) >>> 0);
    view.setUint8(l4 + 13, reply);
    if (addrBytes === 4) writeTcpChecksum(view, l3, l4, tcpLength);
    else writeTcpChecksumIpv6(view, l3, l4, tcpLength);
    if (reply === (SYN | ACK)) this.synAcks++;
    else this.finAcks++;
    return true;
  }
}

/** Swaps the `n` bytes at `a` with the `n` bytes at `b` (non-overlapping). */
function swapBytes(view: DataView, a: number, b: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = view.getUint8(a + i);
    view.setUint8(a + i, view.getUint8(b + i));
    view.setUint8(b + i, x);
  }
}
