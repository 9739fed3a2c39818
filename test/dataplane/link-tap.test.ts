import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { ChainDataPlane } from '../../src/dataplane/chain-data-plane.ts';
import { PcapInPort, PcapOutPort } from '../../src/dataplane/ports/pcap-port.ts';
import { CaptureQueue } from '../../src/capture/capture-queue.ts';
import { LinkTap } from '../../src/capture/link-tap.ts';
import { compileFilter } from '../../src/capture/packet-filter.ts';
import { PcapWriter } from '../../src/pcap/pcap-writer.ts';
import { IpProto } from '../../src/packet/ipv4.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';

const store = (): ImageStore => ImageStore.open(join(tmpdir(), 'nfvkit-dataplane-test-images'));

function frames(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) =>
    buildFrame({ proto: i % 2 === 0 ? IpProto.UDP : IpProto.TCP, srcIp: 0xc6120100 + i, dstIp: 0xc6130001, srcPort: 10000 + i, dstPort: 80, payloadLength: (i * 7) % 300 }),
  );
}

function source(input: readonly Uint8Array[]): PcapInPort {
  const w = new PcapWriter();
  input.forEach((f, i) => w.write(f, 1_700_000_000 + i, 0));
  return new PcapInPort(w.bytes().slice());
}

function drain(q: CaptureQueue): Uint8Array[] {
  const out: Uint8Array[] = [];
  while (q.count > 0) {
    out.push(q.frame().slice());
    q.pop();
  }
  return out;
}

describe('link taps', () => {
  it('copy the frames crossing a link that pass the filter, up to the limit, before they move on', async () => {
    const image = await buildImage(passThrough, {}, { store: store() });
    const chain = await ChainDataPlane.boot([image, image], { queueSize: 64, instanceMode: 'worker' });
    try {
      const input = frames(400);
      const udp = new LinkTap(compileFilter('udp'), new CaptureQueue());
      const limited = new LinkTap(compileFilter('tcp and portrange 10001-10100'), new CaptureQueue(), { limit: 10, snaplen: 40 });
      chain.attachTap(1, udp);
      chain.attachTap(1, limited);
      const src = source(input);
      const out = new PcapOutPort();
      expect(await chain.runUntil(src, out, () => src.done && out.frames >= src.sent, 10_000)).toBe(true);
      expect(out.frames).toBe(400);
      expect(udp.seen).toBe(400);
      expect(drain(udp.queue)).toEqual(input.filter((_, i) => i % 2 === 0));
      expect(udp.queue.dropped).toBe(0);
      expect(limited.matched).toBe(10);
      expect(limited.done).toBe(true);
      expect(drain(limited.queue)).toEqual(input.filter((_, i) => i % 2 === 1).slice(0, 10).map((f) => f.subarray(0, 40)));

      chain.detachTap(1, udp);
      chain.detachTap(1, limited);
      const again = source(frames(50));
      const out2 = new PcapOutPort();
      expect(await chain.runUntil(again, out2, () => again.done && out2.frames >= again.sent, 10_000)).toBe(true);
      expect(udp.seen).toBe(400);
      expect(udp.queue.count).toBe(0);
    } finally {
      const report = await chain.shutdown();
      expect(report.leaks).toEqual([]);
    }
  }, 20_000);

  it('count what the reader has no room for as drops and never hold the chain back', async () => {
    const image = await buildImage(passThrough, {}, { store: store() });
    const chain = await ChainDataPlane.boot([image], { queueSize: 64, instanceMode: 'worker' });
    try {
      const tap = new LinkTap(compileFilter(''), new CaptureQueue(4096, 16));
      chain.attachTap(0, tap);
      const src = source(frames(300));
      const out = new PcapOutPort();
      expect(await chain.runUntil(src, out, () => src.done && out.frames >= src.sent, 10_000)).toBe(true);
      expect(out.frames).toBe(300);
      expect(tap.matched).toBe(300);
      expect(tap.queue.count).toBeGreaterThan(0);
      expect(tap.queue.count + tap.queue.dropped).toBe(300);
      expect(tap.queue.dropped).toBeGreaterThan(200);
    } finally {
      await chain.shutdown();
    }
  }, 20_000);

  it('refuses a link the chain does not have', async () => {
    const chain = ChainDataPlane.create(['a'], { bufferCount: 64, instanceMode: 'worker' });
    try {
      expect(() => chain.attachTap(2, new LinkTap(compileFilter(''), new CaptureQueue()))).toThrow(/no link 2: the chain has links 0..1/);
    } finally {
      await chain.shutdown();
    }
  });
});
