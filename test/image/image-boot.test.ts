import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { IpProto } from '../../src/packet/ipv4.ts';
import { BuiltinCounter } from '../../src/pipeline/compiled-pipeline.ts';
import { TcpFlag } from '../../src/packet/tcp.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { bootImage, type BootedImage } from './boot-image.ts';

const root = mkdtempSync(join(tmpdir(), 'nfvkit-image-boot-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CLIENT = 0x0a000000; // 10.0.0.0
const SERVER = 0xc6120001; // 198.18.0.1

interface Sent {
  side: 0 | 1;
  frame: Uint8Array;
}

/** Delivers frames on their side, collects what leaves on each side, until all are accounted for. */
function run(img: BootedImage, frames: readonly Sent[]): { out: [Uint8Array[], Uint8Array[]] } {
  const { pool, counters } = img;
  const hosts = [img.host0, img.host1];
  const out: [Uint8Array[], Uint8Array[]] = [[], []];
  const ids = new Uint32Array(64);
  const got = new Uint32Array(256);
  const droppedBefore = counters[BuiltinCounter.DROPPED_PACKETS];
  let next = 0;
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    for (let side = 0; side < 2; side++) {
      const n = hosts[side].pollTx(got, got.length);
      for (let i = 0; i < n; i++) {
        const bytes = new Uint8Array(pool.meta.length[got[i]]);
        pool.copyOut(got[i], bytes, 0);
        out[side].push(bytes);
      }
      if (n > 0) pool.freeBatch(got, n);
    }
    if (next < frames.length) {
      const side = frames[next].side;
      let want = 0;
      while (next + want < frames.length && frames[next + want].side === side && want < ids.length) want++;
      want = Math.min(want, hosts[side].rxRoom());
      const n = pool.allocBatch(ids, want);
      for (let i = 0; i < n; i++) pool.copyIn(ids[i], frames[next + i].frame, 0, frames[next + i].frame.length);
      expect(hosts[side].deliverRx(ids, n)).toBe(n);
      next += n;
    } else if (out[0].length + out[1].length + counters[BuiltinCounter.DROPPED_PACKETS] - droppedBefore >= frames.length) break;
  }
  return { out };
}

function counter(img: BootedImage, names: readonly string[], name: string): number {
  const slot = names.indexOf(name);
  expect(slot, name).toBeGreaterThanOrEqual(0);
  return img.counters[slot];
}

describe('a built image booted in a plain Worker', () => {
  it('runs the firewall between eth0 and eth1 with the right verdicts and counters, and stops without a leak', async () => {
    const store = ImageStore.open(join(root, 'store'));
    const built = await buildImage(firewall, { defaultPolicy: 'drop', rules: [{ action: 'allow', proto: 'tcp', dport: 80 }] }, { store });
    const img = await bootImage(built.imagePath, built.manifest);
    expect(built.manifest.build.minify).toBe(true);
    expect(img.ready).toMatchObject({ type: 'ready', name: 'firewall', counters: built.manifest.counters.length, startup: { prepared: false } });
    const startup = img.ready.startup!;
    expect(startup.pipelineMs).toBeGreaterThan(0);
    expect(startup.readyAt - startup.startedAt).toBeCloseTo(startup.attachMs + startup.pipelineMs + startup.refillMs + startup.sandboxMs, 6);
    const names = built.manifest.counters.map((c) => c.name);

    const syn: Sent[] = [];
    const udp: Sent[] = [];
    const bad: Sent[] = [];
    const synAck: Sent[] = [];
    const unsolicited: Sent[] = [];
    for (let f = 0; f < 200; f++) {
      syn.push({ side: 0, frame: buildFrame({ proto: IpProto.TCP, srcIp: CLIENT + 1 + f, dstIp: SERVER, srcPort: 20000 + f, dstPort: 80, tcpFlags: TcpFlag.SYN }) });
      if (f < 100) udp.push({ side: 0, frame: buildFrame({ proto: IpProto.UDP, srcIp: CLIENT + 1 + f, dstIp: SERVER, srcPort: 30000 + f, dstPort: 53, payloadLength: 20 }) });
      if (f < 20) {
        const broken = buildFrame({ proto: IpProto.UDP, srcIp: CLIENT + 1, dstIp: SERVER, srcPort: 40000 + f, dstPort: 80 });
        broken[14 + 10] ^= 0xff;
        bad.push({ side: 0, frame: broken });
      }
      if (f < 50) {
        synAck.push({
          side: 1,
          frame: buildFrame({ proto: IpProto.TCP, srcIp: SERVER, dstIp: CLIENT + 1 + f, srcPort: 80, dstPort: 20000 + f, tcpFlags: TcpFlag.SYN | TcpFlag.ACK, seq: 5000, ack: 1001 }),
        });
        unsolicited.push({ side: 1, frame: buildFrame({ proto: IpProto.TCP, srcIp: SERVER, dstIp: CLIENT + 1 + f, srcPort: 80, dstPort: 22, tcpFlags: TcpFlag.SYN }) });
      }
    }
    const first = run(img, [...syn, ...udp, ...bad]);
    const second = run(img, [...synAck, ...unsolicited]);
    const stopped = await img.stop();

    expect(first.out[1]).toEqual(syn.map((s) => s.frame));
    expect(first.out[0]).toEqual([]);
    expect(second.out[0]).toEqual(synAck.map((s) => s.frame));
    expect(second.out[1]).toEqual([]);
    expect(counter(img, names, 'rx_inside_packets')).toBe(320);
    expect(counter(img, names, 'rx_outside_packets')).toBe(100);
    expect(counter(img, names, 'tx_outside_packets')).toBe(200);
    expect(counter(img, names, 'tx_inside_packets')).toBe(50);
    expect(counter(img, names, 'default_policy')).toBe(150);
    expect(counter(img, names, 'ipv4_bad_checksum')).toBe(20);
    expect(counter(img, names, 'dropped_packets')).toBe(170);
    expect(counter(img, names, 'ct_established')).toBe(50);
    expect(stopped).toEqual({ received: 420, exitCode: 0 });
    expect(img.pool.leakCheck()).toEqual([]);
  });

  it('boots a readable (not minified) pass-through image inside its memory limit and forwards in both directions', async () => {
    const store = ImageStore.open(join(root, 'store'));
    const built = await buildImage(passThrough, {}, { store, minify: false });
    expect(built.manifest.memoryMiB).toBe(16);
    const img = await bootImage(built.imagePath, built.manifest);
    const frames: Sent[] = [];
    for (let i = 0; i < 300; i++) {
      frames.push({ side: (i % 3 === 0 ? 1 : 0) as 0 | 1, frame: buildFrame({ proto: IpProto.UDP, srcIp: CLIENT + i, dstIp: SERVER, srcPort: 1000 + i, dstPort: 9, payloadLength: i % 64 }) });
    }
    const { out } = run(img, frames);
    const stopped = await img.stop();
    expect(out[1]).toEqual(frames.filter((f) => f.side === 0).map((f) => f.frame));
    expect(out[0]).toEqual(frames.filter((f) => f.side === 1).map((f) => f.frame));
    expect(img.counters[BuiltinCounter.DROPPED_PACKETS]).toBe(0);
    expect(stopped).toEqual({ received: 300, exitCode: 0 });
    expect(img.pool.leakCheck()).toEqual([]);
    expect(img.bootMs).toBeGreaterThan(0);
  });

  it('imported in process, an image only exports its pipeline', async () => {
    const built = await buildImage(passThrough, {}, { store: ImageStore.open(join(root, 'store')) });
    const mod = (await import(pathToFileURL(built.imagePath).href)) as { createPipeline: unknown; COUNTERS: unknown; FUNCTION_NAME: unknown };
    expect(mod.FUNCTION_NAME).toBe('pass-through');
    expect(mod.COUNTERS).toEqual(built.manifest.counters.map(({ name, element, drop }) => ({ name, element, drop })));
    expect(built.manifest.counters.every((c) => c.help.length > 0)).toBe(true);
    const text = readFileSync(built.imagePath, 'utf8');
    for (const c of built.manifest.counters) expect(text, c.name).not.toContain(c.help);
    expect(typeof mod.createPipeline).toBe('function');
  });
});
