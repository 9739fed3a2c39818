import { parseIpv4 } from '../../../src/packet/ipv4.ts';
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
