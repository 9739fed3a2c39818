import { InstanceHost } from '../../src/runtime/instance-host.ts';
import { IpProto } from '../../src/packet/ipv4.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';

export function udpFrame(dstPort: number, flow = 0): Uint8Array {
  return buildFrame({ proto: IpProto.UDP, srcIp: 0xc6120100 + flow, dstIp: 0xc6130001, srcPort: 10000 + flow, dstPort, payloadLength: 18 });
}

/** Delivers `frames` on eth0 and counts what leaves eth1, yielding to the event loop each round. */
export async function forward(host: InstanceHost, frames: readonly Uint8Array[], timeoutMs = 5000): Promise<number> {
  const ids = new Uint32Array(64);
  const out = new Uint32Array(256);
  let sent = 0;
  let got = 0;
  const deadline = performance.now() + timeoutMs;
  while (host.state === 'running' && got < frames.length && performance.now() < deadline) {
    if (sent < frames.length) {
      const want = Math.min(ids.length, frames.length - sent, host.eth0.rxRoom());
      const n = host.pool.allocBatch(ids, want);
      for (let i = 0; i < n; i++) host.pool.copyIn(ids[i], frames[sent + i], 0, frames[sent + i].length);
      host.eth0.deliverRx(ids, n);
      sent += n;
    }
    const k = host.eth1.pollTx(out, out.length);
    if (k > 0) {
      got += k;
      host.pool.freeBatch(out, k);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return got;
}
