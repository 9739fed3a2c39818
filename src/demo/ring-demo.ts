/**
 * `npm start`: the foundation demo. The `pass-through` function is built into a sealed
 * image (or found in the image store) and booted in a worker isolate. Generated frames (a
 * few of them malformed on purpose) enter the packet pool once, travel over a virtio-net
 * split virtqueue into the instance, leave it on the other device's transmit queue, and
 * are counted. Prints progress, then what happened: rates, drops by reason, copies, and
 * the pool's leak check.
 *
 * Usage: `npm start -- [--packets N]` (default 2,000,000).
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { PacketPool } from '../pool/packet-pool.ts';
import { VirtioNetDevice } from '../virtio/virtio-net-device.ts';
import { BuiltinCounter } from '../pipeline/compiled-pipeline.ts';
import { buildImage } from '../image/image-builder.ts';
import type { InstanceWorkerData } from '../runtime/instance-main.ts';
import { buildFrame } from '../traffic/frame-builder.ts';
import { IpProto } from '../packet/ipv4.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { deviceEnd } from '../virtio/virtio-net-device-end.ts';

const HOST = 1;
const INSTANCE = 2;
const BATCH = 256;
const FLOWS = 1024;

function argPackets(): number {
  const i = process.argv.indexOf('--packets');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 2_000_000;
  if (!Number.isInteger(n) || n <= 0 || n > 1e9) {
    console.error('--packets takes a whole number from 1 to 1e9');
    process.exit(2);
  }
  return n;
}

/** Frame templates: 64-byte UDP and TCP frames of FLOWS flows, plus two kinds of malformed frame. */
function templates(): { good: Uint8Array[]; badChecksum: Uint8Array; truncated: Uint8Array } {
  const good: Uint8Array[] = [];
  for (let f = 0; f < FLOWS; f++) {
    const proto = f % 2 === 0 ? IpProto.UDP : IpProto.TCP;
    good.push(
      buildFrame({ proto, srcIp: 0xc6120100 + f, dstIp: 0xc6130001, srcPort: 10000 + f, dstPort: 80, payloadLength: proto === IpProto.UDP ? 18 : 6 }),
    );
  }
  const badChecksum = good[0].slice();
  badChecksum[14 + 10] ^= 0xff;
  const truncated = good[1].slice(0, 30);
  return { good, badChecksum, truncated };
}

async function main(): Promise<void> {
  const total = argPackets();
  const image = await buildImage(passThrough, {});
  const manifest = image.manifest;
  const pool = PacketPool.create({ bufferCount: 8192, owner: HOST });
  const eth0 = VirtioNetDevice.create({ queueSize: 256, driverOwner: INSTANCE, deviceOwner: HOST });
  const eth1 = VirtioNetDevice.create({ queueSize: 256, driverOwner: INSTANCE, deviceOwner: HOST });
  const countersSab = new SharedArrayBuffer(manifest.counters.length * 8);
  const counters = new Float64Array(countersSab);
  const stopSab = new SharedArrayBuffer(4);
  const stop = new Int32Array(stopSab);

  console.log(`nfvkit ring demo: ${total.toLocaleString('en')} packets, pool of ${pool.bufferCount} × ${pool.stride} B buffers, queues of 256`);
  console.log(`image ${manifest.name} ${manifest.id.slice(0, 12)}: ${(manifest.size / 1024).toFixed(1)} KiB, ${manifest.modules.length} modules, ${manifest.memoryMiB} MiB (${image.cache === 'hit' ? 'from the image store' : `built in ${image.ms.toFixed(0)} ms`})`);
  const bootStart = performance.now();
  const workerData: InstanceWorkerData = { poolSab: pool.sab, eth0Sab: eth0.sab, eth1Sab: eth1.sab, countersSab, stopSab, owner: INSTANCE };
  const worker = new Worker(image.imagePath, { workerData, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: manifest.memoryMiB } });
  const messages: Array<{ type: string; received?: number }> = [];
  const waitFor = async (type: string): Promise<{ type: string; received?: number }> => {
    for (;;) {
      const found = messages.find((m) => m.type === type);
      if (found) return found;
      const [m] = (await once(worker, 'message')) as [{ type: string }];
      messages.push(m);
    }
  };
  worker.on('error', (err) => {
    console.error('instance failed:', err);
    process.exit(1);
  });
  await waitFor('ready');
  console.log(`instance booted from the image and attached in ${(performance.now() - bootStart).toFixed(1)} ms`);

  const host0 = deviceEnd(eth0, pool);
  const host1 = deviceEnd(eth1, pool);
  const { good, badChecksum, truncated } = templates();
  const ids = new Uint32Array(BATCH);
  const out = new Uint32Array(256);
  let sent = 0;
  let forwarded = 0;
  let rejectedAtRx = 0;
  const drainTx = (): void => {
    for (const host of [host1, host0]) {
      const n = host.pollTx(out, out.length);
      if (n > 0) {
        forwarded += n;
        pool.freeBatch(out, n);
      }
    }
  };

  const start = performance.now();
  let lastReport = start;
  while (sent < total) {
    const room = host0.rxRoom();
    if (room === 0) {
      drainTx(); // the instance has not reposted receive buffers yet: back-pressure, not loss
      continue;
    }
    const want = Math.min(BATCH, room, total - sent);
    const got = pool.allocBatch(ids, want);
    for (let i = 0; i < got; i++) {
      const seq = sent + i;
      const frame = seq % 1000 === 999 ? badChecksum : seq % 1000 === 500 ? truncated : good[seq % FLOWS];
      pool.copyIn(ids[i], frame, 0, frame.length);
    }
    const delivered = host0.deliverRx(ids, got);
    rejectedAtRx += got - delivered;
    sent += got;
    drainTx();
    const now = performance.now();
    if (now - lastReport > 500) {
      lastReport = now;
      const secs = (now - start) / 1000;
      console.log(`  … ${sent.toLocaleString('en')} sent, ${forwarded.toLocaleString('en')} forwarded, ${counters[BuiltinCounter.DROPPED_PACKETS]} dropped, ${(sent / secs / 1e6).toFixed(2)} Mpps`);
    }
  }
  const settleBy = performance.now() + 3000;
  while (forwarded + counters[BuiltinCounter.DROPPED_PACKETS] + rejectedAtRx < sent && performance.now() < settleBy) drainTx();
  const seconds = (performance.now() - start) / 1000;

  Atomics.store(stop, 0, 1);
  await waitFor('closing');
  host0.returnRx();
  host1.returnRx();
  const stopped = await waitFor('stopped');
  drainTx();
  await worker.terminate();

  const stats = pool.stats();
  const leaks = pool.leakCheck();
  console.log('\nresult');
  console.log(`  sent into the pool       ${sent.toLocaleString('en')} (one copy in each: ${stats.copiesIn.toLocaleString('en')} copies)`);
  console.log(`  received by the instance ${stopped.received?.toLocaleString('en')}`);
  console.log(`  forwarded out eth1       ${forwarded.toLocaleString('en')}`);
  console.log(`  dropped by the pipeline  ${counters[BuiltinCounter.DROPPED_PACKETS].toLocaleString('en')}`);
  for (let slot = 0; slot < manifest.counters.length; slot++) {
    const c = manifest.counters[slot];
    if (c.drop && counters[slot] > 0) console.log(`      ${c.name.padEnd(28)} ${counters[slot].toLocaleString('en')}`);
  }
  console.log(`  refused at the RX ring   ${rejectedAtRx.toLocaleString('en')}`);
  console.log(`  copies between host and instance: ${stats.copiesIn - sent + stats.copiesOut} (descriptors moved, bytes stayed)`);
  console.log(`  throughput               ${(sent / seconds / 1e6).toFixed(2)} Mpps end to end (${seconds.toFixed(2)} s, host + instance on 2 threads)`);
  console.log(`  pool leak check          ${leaks.length === 0 ? 'every buffer back in the pool' : `${leaks.length} buffers held: ${JSON.stringify(leaks.slice(0, 5))}`}`);
  const accounted = forwarded + counters[BuiltinCounter.DROPPED_PACKETS] + rejectedAtRx === sent;
  if (!accounted || leaks.length > 0) {
    console.error('demo FAILED: packets unaccounted for or buffers leaked');
    process.exit(1);
  }
}

await main();
