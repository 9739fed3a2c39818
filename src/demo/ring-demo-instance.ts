/**
 * Worker side of the ring demo: one instance running a compiled pipeline between two
 * virtio-net devices (eth0 inside, eth1 outside) over the shared packet pool.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PacketPool } from '../pool/packet-pool.ts';
import { VirtioNetDevice } from '../virtio/virtio-net-device.ts';
import { importPipelineModule } from '../pipeline/load-pipeline.ts';
import type { CompiledPipeline } from '../pipeline/compiled-pipeline.ts';
import { InstanceLoop } from '../runtime/instance-loop.ts';

interface DemoInstanceData {
  poolSab: SharedArrayBuffer;
  eth0Sab: SharedArrayBuffer;
  eth1Sab: SharedArrayBuffer;
  countersSab: SharedArrayBuffer;
  stopSab: SharedArrayBuffer;
  owner: number;
  compiled: CompiledPipeline;
}

const data = workerData as DemoInstanceData;
const pool = PacketPool.attach(data.poolSab, { owner: data.owner });
const eth0 = VirtioNetDevice.attach(data.eth0Sab).driverEnd(pool);
const eth1 = VirtioNetDevice.attach(data.eth1Sab).driverEnd(pool);
const module = await importPipelineModule(data.compiled);
const pipeline = module.createPipeline({ counters: new Float64Array(data.countersSab) });
const loop = new InstanceLoop(pool, [eth0, eth1], pipeline);

eth0.refillRx();
eth1.refillRx();
parentPort!.postMessage({ type: 'ready' });
loop.run(new Int32Array(data.stopSab), () => performance.now());

// Shutdown: stop refilling, let the host hand back the posted receive buffers, free them.
eth0.close();
eth1.close();
parentPort!.postMessage({ type: 'closing' });
const deadline = performance.now() + 2000;
const scratch = new Uint32Array(256);
while ((eth0.rxq.chainsInFlight > 0 || eth1.rxq.chainsInFlight > 0) && performance.now() < deadline) {
  for (const dev of [eth0, eth1]) {
    const n = dev.receive(scratch, scratch.length);
    if (n > 0) pool.freeBatch(scratch, n);
  }
}
eth0.reclaimTx();
eth1.reclaimTx();
parentPort!.postMessage({ type: 'stopped', received: loop.received, batches: loop.batches });
