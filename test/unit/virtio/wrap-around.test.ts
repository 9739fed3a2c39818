import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SplitRing } from '../../../src/virtio/split-ring.ts';
import { VirtqueueDevice } from '../../../src/virtio/virtqueue-device.ts';
import { VirtqueueDriver } from '../../../src/virtio/virtqueue-driver.ts';

function drive(size: number, total: number, batches: number[], chainEvery: number) {
  const ring = SplitRing.create(size);
  const dv = new DataView(ring.sab);
  const drv = new VirtqueueDriver(ring);
  const dev = new VirtqueueDevice(ring);
  const heads = new Uint32Array(size);
  const addrs = new Float64Array(size);
  const lens = new Uint32Array(size);
  const chainAddrs = new Float64Array(4);
  const chainLens = new Uint32Array(4);
  const chainFlags = new Uint16Array(4);
  const tokens = new Uint32Array(size);
  const outLens = new Uint32Array(size);
  let sent = 0;
  let received = 0;
  let errors = 0;
  let idxChecks = 0;
  let b = 0;
  while (received < total) {
    const want = Math.min(batches[b++ % batches.length], total - sent);
    for (let i = 0; i < want; i++) {
      const ok =
        chainEvery > 0 && sent % chainEvery === 0
          ? drv.stageChain([sent * 4, sent * 4 + 1], [12, sent & 0xffff], 2, 1, sent)
          : drv.stage(sent * 4, sent & 0xffff, false, sent);
      if (!ok) break;
      sent++;
    }
    drv.publish();
    if (Atomics.load(ring.u16, ring.availIdxH) !== (sent & 0xffff)) errors++;
    const n = dev.pop(heads, addrs, lens, batches[b % batches.length]);
    for (let i = 0; i < n; i++) {
      const seq = received + i;
      if (addrs[i] !== seq * 4) errors++;
      const len = dev.readChain(heads[i], chainAddrs, chainLens, chainFlags, 4);
      if (chainEvery > 0 && seq % chainEvery === 0) {
        if (len !== 2 || chainAddrs[1] !== seq * 4 + 1 || chainLens[1] !== (seq & 0xffff) || chainFlags[1] !== 2) errors++;
      } else if (len !== 1 || chainLens[0] !== (seq & 0xffff)) errors++;
      lens[i] = seq & 0xffff;
    }
    dev.pushBatch(heads, lens, n);
    const r = drv.reclaim(tokens, outLens, size);
    for (let i = 0; i < r; i++) {
      if (tokens[i] !== received || outLens[i] !== (received & 0xffff)) errors++;
      received++;
    }
    if (dv.getUint16(ring.layout.usedIdxOffset, true) !== (received & 0xffff)) errors++;
    idxChecks++;
  }
  return { received, errors, idxChecks, free: drv.freeDescriptors, inFlight: drv.chainsInFlight, held: dev.chainsHeld };
}

describe('free-running 16-bit indices', () => {
  for (const size of [1, 4, 256]) {
    it(`queue of ${size}: indices pass 65535 several times with order kept`, () => {
      const total = 4 * 65536 + 1234;
      const r = drive(size, total, [1, 3, size, 7, 2 * size], 0);
      expect(r).toMatchObject({ received: total, errors: 0, free: size, inFlight: 0, held: 0 });
      expect(r.idxChecks).toBeGreaterThan(total / Math.max(2 * size, 7));
    });
  }

  it('chains mixed in keep their parts and order across wraps', () => {
    const total = 3 * 65536 + 17;
    expect(drive(16, total, [5, 16, 1, 9], 3)).toMatchObject({ received: total, errors: 0, free: 16, inFlight: 0 });
  });

  it('any batch pattern delivers everything in order (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 8, 64),
        fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 5 }),
        (size, batches, chainEvery) => {
          const r = drive(size < 2 && chainEvery > 0 ? 2 : size, 70_000, batches, chainEvery);
          return r.received === 70_000 && r.errors === 0 && r.inFlight === 0;
        },
      ),
      { numRuns: 15 },
    );
  });
});
