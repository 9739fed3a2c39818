import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../../src/image/image-builder.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { ChainDataPlane } from '../../../src/dataplane/chain-data-plane.ts';
import { GeneratorPort } from '../../../src/dataplane/ports/generator-port.ts';
import { parseIpv6 } from '../../../src/packet/ipv6-address.ts';
import { nat } from '../../../functions/nat/pipeline.ts';
import { requestReplyEnds } from '../../support/tcp-ports.ts';
import { frame, frame6 } from '../../unit/packet/frame-fixtures.ts';
import { ip } from './nat-harness.ts';
import { groups, parsed } from './nat64-frames.ts';

// NAT64 in an instance of its own over the pool and virtio rings: the frames that shrink
// (IPv6 → IPv4) and grow into the headroom (IPv4 → IPv6) leave with their new start and
// length, every checksum right, nothing copied between the ends and no buffer leaked.
const FLOWS = 64;
const SERVER6 = '64:ff9b::198.18.0.9';
const client = (c: number) => `2001:db8:1::${(c + 1).toString(16)}`;

describe('nat64 through a data plane', () => {
  let chain: ChainDataPlane;
  beforeAll(async () => {
    const store = ImageStore.open(join(tmpdir(), 'nfvkit-dataplane-test-images'));
    const image = await buildImage(nat, { snat: { addresses: '198.18.100.1', ports: '20000-20999' }, nat64: {} }, { store });
    chain = await ChainDataPlane.boot([image], { queueSize: 64 });
  }, 30_000);
  afterAll(async () => {
    if (chain !== undefined) await chain.shutdown().catch(() => undefined);
  });

  it('carries IPv6 SYNs out as IPv4 and the IPv4 SYN-ACKs back as IPv6, with no leak', async () => {
    const syns = Array.from({ length: FLOWS }, (_, c) =>
      frame6({ src: groups(client(c)), dst: groups(SERVER6), proto: 6, srcPort: 40000 + c, dstPort: 80, tcpFlags: 0x02, payloadLength: c }),
    );
    const { inside, outside, insideSink, outsideSink, outsideSource } = requestReplyEnds(syns);

    expect(await chain.runUntil(inside, outside, () => outsideSink.frames + chain.dropped() >= FLOWS, 10_000)).toBe(true);
    expect(chain.dropsByReason()).toEqual({});
    const replies: Uint8Array[] = [];
    for (const f of outsideSink.captured) {
      const p = parsed(f);
      expect(p.L.ethertype).toBe(0x0800);
      expect(p.checksumsOk).toBe(true);
      expect([p.src4, p.dst4, p.dport]).toEqual([ip('198.18.100.1'), ip('198.18.0.9'), 80]);
      expect(f.length).toBe(syns[p.L.payloadLength].length - 20);
      replies.push(frame({ srcIp: ip('198.18.0.9'), dstIp: p.src4, proto: 6, srcPort: 80, dstPort: p.sport, tcpFlags: 0x12, payloadLength: p.L.payloadLength }));
    }

    outsideSource.gen = new GeneratorPort(replies);
    expect(await chain.runUntil(inside, outside, () => insideSink.frames + chain.dropped() >= FLOWS, 10_000)).toBe(true);
    expect(chain.dropsByReason()).toEqual({});
    const seen = new Set<number>();
    for (const f of insideSink.captured) {
      const p = parsed(f);
      expect(p.L.ethertype).toBe(0x86dd);
      expect(p.checksumsOk).toBe(true);
      expect(p.src6).toEqual([...(parseIpv6(SERVER6) ?? [])]);
      const c = p.dport - 40000;
      expect(p.dst6).toEqual([...(parseIpv6(client(c)) ?? [])]);
      expect(p.L.payloadLength).toBe(c);
      seen.add(c);
    }
    expect(seen.size).toBe(FLOWS);

    expect(chain.traffic).toEqual({ enteredInside: FLOWS, enteredOutside: FLOWS, leftInside: FLOWS, leftOutside: FLOWS });
    expect(chain.pool.stats().ownershipErrors).toBe(0);
    const report = await chain.shutdown();
    expect(report.received).toEqual({ 'nat-0': 2 * FLOWS });
    expect(report.leaks).toEqual([]);
  }, 20_000);
});
