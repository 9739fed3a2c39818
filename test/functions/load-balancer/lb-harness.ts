import { parseIpv4 } from '../../../src/packet/ipv4.ts';
import { formatIpv6, parseIpv6 } from '../../../src/packet/ipv6-address.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { verifyIcmpv6Checksum, verifyTcpChecksumIpv6, verifyUdpChecksumIpv6 } from '../../../src/packet/checksum-ipv6.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { verifyIcmpChecksum, verifyIpv4HeaderChecksum, verifyTcpChecksum, verifyUdpChecksum } from '../../../src/packet/checksum.ts';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import type { CompiledPipeline } from '../../../src/pipeline/compiled-pipeline.ts';
import { loadPipeline } from '../../../src/pipeline/load-pipeline.ts';
import { PacketBatch, MAX_BATCH } from '../../../src/pipeline/packet-batch.ts';
import { Verdict } from '../../../src/pipeline/verdict.ts';
import { writeFrame, type FrameSpec } from '../../../src/traffic/frame-builder.ts';
import { loadBalancer } from '../../../functions/load-balancer/pipeline.ts';
import type { LoadBalancerConfigInput } from '../../../functions/load-balancer/config.ts';

export const STRIDE = 2176;

export function ip(text: string): number {
  const a = parseIpv4(text);
  if (a === undefined) throw new Error(`bad address ${text}`);
  return a;
}

export interface Sent {
  side: number;
  frame: FrameSpec | Uint8Array;
}

export interface Result {
  verdict: number;
  /** Drop counter name, or '' when not dropped. */
  reason: string;
  bytes: Uint8Array;
}

export interface Lb {
  compiled: CompiledPipeline;
  counters: Float64Array;
  counter(name: string): number;
  send(packets: readonly Sent[], now: number): Result[];
}

export async function startLb(config: LoadBalancerConfigInput, extra: Record<string, unknown> = {}): Promise<Lb> {
  const compiled = compilePipeline(loadBalancer, config);
  const counters = new Float64Array(compiled.counters.length);
  const rt = { counters, ...extra };
  const p = await loadPipeline(compiled, rt);
  const mem = new DataView(new ArrayBuffer(MAX_BATCH * STRIDE));
  const bytes = new Uint8Array(mem.buffer);
  const batch = new PacketBatch(mem);
  const slot = (name: string) => {
    const i = compiled.counters.findIndex((c) => c.name === name);
    if (i < 0) throw new Error(`no counter ${name}`);
    return i;
  };
  return {
    compiled,
    counters,
    counter: (name) => counters[slot(name)],
    send(packets, now) {
      const out: Result[] = [];
      for (let start = 0; start < packets.length; start += MAX_BATCH) {
        const chunk = packets.slice(start, start + MAX_BATCH);
        batch.clear();
        chunk.forEach((pk, i) => {
          const off = i * STRIDE;
          let len: number;
          if (pk.frame instanceof Uint8Array) {
            bytes.set(pk.frame, off);
            len = pk.frame.length;
          } else len = writeFrame(mem, off, pk.frame);
          batch.push(i, off, len, pk.side);
        });
        p.processBatch(batch, now);
        chunk.forEach((_, i) => {
          const v = batch.verdicts[i];
          out.push({
            verdict: v,
            reason: v === Verdict.DROP ? compiled.counters[batch.reasons[i]].name : '',
            bytes: bytes.slice(batch.offsets[i], batch.offsets[i] + batch.lengths[i]),
          });
        });
      }
      return out;
    },
  };
}

export interface Decoded {
  proto: number;
  src: number;
  dst: number;
  sport: number;
  dport: number;
  flags: number;
}

const layout = new FrameLayout();

export function decode(bytes: Uint8Array): Decoded {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (parseFrame(view, 0, bytes.length, layout) !== 0) throw new Error('frame does not parse');
  const l3 = layout.l3Offset;
  const l4 = layout.l4Offset;
  const proto = layout.ipProto;
  return {
    proto,
    src: view.getUint32(l3 + 12),
    dst: view.getUint32(l3 + 16),
    sport: proto === 6 || proto === 17 ? view.getUint16(l4) : 0,
    dport: proto === 6 || proto === 17 ? view.getUint16(l4 + 2) : 0,
    flags: proto === 6 ? view.getUint8(l4 + 13) : 0,
  };
}

/** Full recomputation of the IPv4 header checksum and the L4 checksum. */
export function checksumsOk(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (parseFrame(view, 0, bytes.length, layout) !== 0) return false;
  const l3 = layout.l3Offset;
  const l4 = layout.l4Offset;
  if (!verifyIpv4HeaderChecksum(view, l3)) return false;
  if (layout.ipProto === 6) return verifyTcpChecksum(view, l3, l4, layout.l4Length);
  if (layout.ipProto === 17) return verifyUdpChecksum(view, l3, l4, layout.l4Length);
  if (layout.ipProto === 1) return verifyIcmpChecksum(view, l4, layout.l4Length);
  return true;
}

/** The eight 16-bit groups of an IPv6 address (for `Ipv6FrameSpec.src`/`dst`). */
export function groups6(text: string): number[] {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad IPv6 address ${text}`);
  return a.flatMap((w) => [w >>> 16, w & 0xffff]);
}

/** An IPv6 frame to send (`frame6` of the packet fixtures). */
export function v6(spec: Ipv6FrameSpec): Uint8Array {
  const view = new DataView(new ArrayBuffer(4096));
  return new Uint8Array(view.buffer, 0, buildIpv6Frame(view, 0, spec)).slice();
}

export interface Decoded6 {
  proto: number;
  /** Addresses as RFC 5952 text. */
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
}

/** The IPv6 5-tuple of a frame (throws unless it parses as IPv6). */
export function decode6(bytes: Uint8Array): Decoded6 {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (parseFrame(view, 0, bytes.length, layout) !== 0 || layout.ethertype !== 0x86dd) throw new Error('not an IPv6 frame that parses');
  const l3 = layout.l3Offset;
  const l4 = layout.l4Offset;
  const proto = layout.ipProto;
  const word = (at: number) => view.getUint32(at);
  const addr = (at: number) => formatIpv6([word(at), word(at + 4), word(at + 8), word(at + 12)]);
  const ports = proto === 6 || proto === 17;
  return {
    proto,
    src: addr(l3 + 8),
    dst: addr(l3 + 24),
    sport: ports ? view.getUint16(l4) : 0,
    dport: ports ? view.getUint16(l4 + 2) : 0,
    flags: proto === 6 ? view.getUint8(l4 + 13) : 0,
  };
}

/** Full recomputation of the IPv6 upper-layer checksum (TCP, UDP, ICMPv6; mandatory over IPv6). */
export function checksumsOk6(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (parseFrame(view, 0, bytes.length, layout) !== 0 || layout.ethertype !== 0x86dd) return false;
  const { l3Offset: l3, l4Offset: l4, l4Length: n } = layout;
  if (layout.ipProto === 6) return verifyTcpChecksumIpv6(view, l3, l4, n);
  if (layout.ipProto === 17) return verifyUdpChecksumIpv6(view, l3, l4, n);
  if (layout.ipProto === 58) return verifyIcmpv6Checksum(view, l3, l4, n);
  return true;
}
