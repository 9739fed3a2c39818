import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { ChainDataPlane } from '../../src/dataplane/chain-data-plane.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { PcapInPort, PcapOutPort } from '../../src/dataplane/ports/pcap-port.ts';
import { openCapture } from '../../src/pcap/open-capture.ts';
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

describe('chain data plane ports', () => {
  it('replays a pcap through two pass-through hops into a pcap that holds the same frames in order', async () => {
    const image = await buildImage(passThrough, {}, { store: store() });
    const chain = await ChainDataPlane.boot([image, image], { queueSize: 64 });
    try {
      const input = frames(500);
      const w = new PcapWriter();
      input.forEach((f, i) => w.write(f, 1_700_000_000 + i, 0));
      const src = new PcapInPort(w.bytes().slice());
      const out = new PcapOutPort();
      expect(await chain.runUntil(src, out, () => src.done && out.frames + chain.dropped() >= src.sent, 10_000)).toBe(true);
      expect(src.sent).toBe(500);
      expect(chain.dropped()).toBe(0);
      const reader = openCapture(out.writer.bytes().slice());
      const got = [...reader].map((r) => r.data.slice());
      expect(got).toEqual(input);
      const stats = chain.pool.stats();
      expect(stats.copiesIn).toBe(500);
      expect(stats.copiesOut).toBe(500);
    } finally {
      const report = await chain.shutdown();
      expect(report.leaks).toEqual([]);
    }
  }, 20_000);

  it('back-pressures instead of dropping when far more frames are offered than the rings and FIFOs hold', async () => {
    const image = await buildImage(passThrough, {}, { store: store() });
    const chain = await ChainDataPlane.boot([image, image, image], { queueSize: 32, fifoSize: 16 });
    try {
      const gen = new GeneratorPort(frames(64), { total: 20_000 });
      const sink = new SinkPort();
      expect(await chain.runUntil(gen, sink, () => gen.done && sink.frames + chain.dropped() >= gen.sent, 15_000)).toBe(true);
      expect(sink.frames).toBe(20_000);
      expect(chain.dropsByReason()).toEqual({});
      expect(chain.pool.stats().copiesIn).toBe(20_000);
      expect(chain.pool.stats().copiesOut).toBe(0);
    } finally {
      const report = await chain.shutdown();
      expect(report.received).toEqual({ 'pass-through-0-0': 20_000, 'pass-through-1-0': 20_000, 'pass-through-2-0': 20_000 });
      expect(report.leaks).toEqual([]);
    }
  }, 20_000);
});
