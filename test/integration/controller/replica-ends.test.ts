import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeChainText } from '../../../src/cli/commands/describe.ts';
import type { ControllerEvent } from '../../../src/controller/controller-api.ts';
import type { Controller } from '../../../src/controller/controller.ts';
import type { ControllerClient } from '../../../src/grpc/controller-client.ts';
import { LocalPortCounter } from '../../../src/dataplane/ports/local-ports.ts';
import { ReplicaEnds } from '../../../src/controller/replica-ends.ts';
import { ProcessIsolate } from '../../../src/runtime/process-isolate.ts';
import { IngressWord } from '../../../src/trace/ingress-trace-layout.ts';
import type { PacketTraceView } from '../../../src/trace/trace-session.ts';
import { startControllerHarness, type ControllerHarness } from '../../support/controller-harness.ts';

const FLOWS = 64;

function spec(egress = 'responder'): string {
  return `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: edge }
spec:
  ingress: { type: generator, flows: ${FLOWS}, protocol: tcp, clients: 198.18.1.0/24, service: "198.18.2.100:80", rate: 20000 }
  egress: { type: ${egress} }
  classifier: { protocols: [tcp], destinations: [198.18.2.100/32] }
  placement: fused
  functions:
    - name: fw
      function: firewall
      config:
        defaultPolicy: drop
        stateful: true
        rules:
          - { name: web, action: allow, side: inside, proto: tcp, dst: 198.18.2.100, dport: 80 }
      scaling: { min: 1, max: 2, drainTimeoutSeconds: 5 }
    - name: nat
      function: nat
      config: { snat: { addresses: 198.18.3.1/32 } }
      scaling: { min: 1, max: 2 }
`;
}

/** A traced packet of this chain: entered at the replica's clients port, through fw then nat, out of the replica's responder. */
function checkTraced(p: PacketTraceView, replicas: readonly string[]): void {
  expect(p.entered).toBe('inside');
  expect(p.packet).toMatch(/^tcp 198\.18\.1\.\d+:\d+ > 198\.18\.2\.100:80 \[[A-Z.]+\] len \d+$/);
  expect(p.functions.map((f) => f.function)).toEqual(['fw', 'nat']);
  const [fw, nat] = p.functions;
  expect(fw.instance).toBe(nat.instance);
  expect(replicas).toContain(fw.instance);
  expect(fw.arrived).toBe('inside');
  const filter = fw.steps.at(-1)!;
  expect(filter).toMatchObject({ element: 'firewall', verdict: 'outside', dropReason: '' });
  // A SYN passes the rule; the flow's later segments pass conntrack.
  expect(filter.notes).toHaveLength(1);
  expect(filter.notes[0]).toMatch(/^(rule 0 \(web\): allow|conntrack established: passed without rules)$/);
  expect(nat.packet).toMatch(/^tcp 198\.18\.1\.\d+:\d+ > 198\.18\.2\.100:80 /);
  const mapping = nat.steps.at(-1)!;
  expect(mapping).toMatchObject({ verdict: 'outside', dropReason: '' });
  expect(mapping.rewrites[0]).toMatch(/^ip\.src 198\.18\.1\.\d+ -> 198\.18\.3\.1$/);
  expect(p.lost).toBe(0);
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('controller: a fused chain with in-memory ends runs them in its replicas', () => {
  let h: ControllerHarness;
  let controller: Controller;
  let rpc: ControllerClient;
  const events: ControllerEvent[] = [];

  beforeAll(async () => {
    h = await startControllerHarness('replica-ends', { sampleIntervalMs: 100 });
    ({ controller, rpc } = h);
    controller.subscribe((e) => events.push(e), 0);
  });
  afterAll(() => h?.close());

  it('carries frames both ways with no frame through the host, moves shards 1 → 2 → 1 and through a rolling update accounting for every flow, and deletes with nothing leaked', async () => {
    const { chain } = await controller.apply(spec(), 'edge.yaml');
    expect(chain.placement).toBe('fused');
    expect(chain.ends?.where).toBe('replicas');
    expect(chain.ends?.reason).toMatch(/generator → responder/);
    const runtime = controller.chain('edge');
    const ends = runtime.replicaEnds;
    if (!(ends instanceof ReplicaEnds)) throw new Error('generator → responder ends run as ReplicaEnds');
    const figure = (slot: number) => ends.figure(slot);

    // Every flow opened with a handshake, data both ways, nothing through the host.
    await until(() => figure(LocalPortCounter.SYN_ACKS) >= FLOWS && figure(LocalPortCounter.OUTSIDE_OUT) > 1000, 20_000);
    expect(figure(LocalPortCounter.FLOWS_OPENED)).toBe(FLOWS);
    expect(figure(LocalPortCounter.INSIDE_OUT)).toBeGreaterThanOrEqual(FLOWS);
    expect(runtime.dataPlane.traffic).toEqual({ enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0 });
    // Capture watches frames cross the host: refused, saying why.
    expect(() => controller.openCapture('edge', { side: 'inside' })).toThrow(/runs its ends in its replicas .*no frame crosses the host to capture/);
    // Trace: the replica's own clients port marks the packet as it enters; the host reads the replica's trace area.
    const replicaIds = () => runtime.dataPlane.stage('fused').live.map((i) => `edge/${i.id}`);
    const traced: PacketTraceView[] = [];
    for await (const p of rpc.trace('edge', { count: 1, filter: 'tcp and dst port 80', timeoutMs: 8000 })) traced.push(p);
    expect(traced).toHaveLength(1);
    expect(traced[0].seq).toBe(1);
    checkTraced(traced[0], replicaIds());
    const traffic = controller.chainTraffic('edge');
    expect(traffic.enteredInside).toBeGreaterThan(1000);
    expect(traffic.enteredOutside).toBeGreaterThanOrEqual(FLOWS);
    // Status and rates are still per function, from each part's counter block.
    await until(() => {
      const rates = controller.sampleStats();
      return ['fw', 'nat'].every((fn) => rates.some((r) => r.function === fn && r.rxPps > 0));
    }, 10_000);
    expect(runtime.functionCounter('fw', 'rx_inside_packets')).toBeGreaterThan(1000);
    expect(runtime.functionCounter('nat', 'rx_outside_packets')).toBeGreaterThanOrEqual(FLOWS);

    // 1 → 2: half the shards move; the first replica closes their flows, the second opens them anew.
    await controller.scaleFunction('edge', 'fw', 2);
    await until(() => controller.listInstances('edge').filter((i) => i.state === 'ready').length === 2, 30_000);
    const moved = ends.shards / 2;
    const flowsIn = (shards: number[]) => Array.from({ length: FLOWS }, (_, f) => f % ends.shards).filter((s) => shards.includes(s)).length;
    const movedFlows = flowsIn(Array.from({ length: moved }, (_, k) => ends.shards - moved + k));
    await until(() => figure(LocalPortCounter.FLOWS_MOVED_IN) === movedFlows && figure(LocalPortCounter.FLOWS_CLOSING) === 0 && figure(LocalPortCounter.FLOWS_OPEN) === FLOWS, 20_000);
    expect(figure(LocalPortCounter.FLOWS_MOVED_OUT)).toBe(movedFlows);
    expect(ends.moves).toBe(moved);
    const perReplica = runtime.dataPlane.stage('fused').live.map((i) => i.portCounters![LocalPortCounter.SHARDS_HELD]);
    expect(perReplica).toEqual([moved, moved]);
    const second = runtime.dataPlane.stage('fused').live.map((i) => i.portCounters![LocalPortCounter.INSIDE_IN]);
    await until(() => runtime.dataPlane.stage('fused').live.every((i, k) => i.portCounters![LocalPortCounter.INSIDE_IN] > second[k] + 100), 10_000);
    // A trace's count holds across the replicas: exactly that many packets marked in all, each traced through both functions.
    for (const count of [1, 5]) {
      const session = controller.openTrace('edge', { count, filter: 'dst host 198.18.2.100 and tcp', timeoutMs: 8000 });
      const got: PacketTraceView[] = [];
      await until(() => {
        got.push(...session.poll());
        return session.finished;
      }, 10_000);
      expect(got.map((p) => p.seq)).toEqual(Array.from({ length: count }, (_, k) => k + 1));
      for (const p of got) checkTraced(p, replicaIds());
      // Both replicas kept marking while the session ran; none claimed a seq past the count.
      expect(Atomics.load(new Int32Array(ends.traceBlock), IngressWord.CLAIMED) & 0xffff).toBe(count);
      expect(Atomics.load(new Int32Array(ends.traceBlock), IngressWord.SESSION)).toBe(0);
    }

    // 2 → 1: the leaving replica gives its shards back before it is drained.
    await controller.scaleFunction('edge', 'fw', 1);
    await until(() => controller.listInstances('edge').length === 1, 30_000);
    // The leaver's flows (those of its 30 shards: 30 or 34 flows, as the replica left holds shards 0-29 or 30-59) open anew on the one left.
    const settled = () => figure(LocalPortCounter.FLOWS_MOVED_IN) === figure(LocalPortCounter.FLOWS_MOVED_OUT) && figure(LocalPortCounter.FLOWS_MOVED_OUT) > movedFlows && figure(LocalPortCounter.FLOWS_OPEN) === FLOWS && figure(LocalPortCounter.FLOWS_CLOSING) === 0;
    await until(settled, 20_000);
    const movedAll = figure(LocalPortCounter.FLOWS_MOVED_OUT);
    expect([movedFlows + flowsIn(Array.from({ length: moved }, (_, k) => k)), 2 * movedFlows]).toContain(movedAll);
    expect(ends.moves).toBe(2 * moved);
    expect(figure(LocalPortCounter.CLOSE_TIMEOUTS)).toBe(0);
    expect(figure(LocalPortCounter.OPEN_TIMEOUTS)).toBe(0);
    expect(figure(LocalPortCounter.BLOCK_REJECTED)).toBe(0);
    expect(ends.handoffTimeouts).toBe(0);
    // Every flow accounted: opened = open now + closed, and every moved flow closed by its FIN-ACK.
    expect(figure(LocalPortCounter.FLOWS_OPENED)).toBe(FLOWS + movedAll);
    expect(figure(LocalPortCounter.FLOWS_CLOSED)).toBe(movedAll);
    expect(figure(LocalPortCounter.FIN_ACKS)).toBe(movedAll);

    // A rolling update (a firewall rule more): the new image's replica boots, the old one hands its flows over before it drains.
    const image = controller.getChain('edge').functions[0].imageId;
    const updated = await controller.apply(spec().replace("dport: 80 }", "dport: 80 }\n          - { name: tls, action: allow, side: inside, proto: tcp, dst: 198.18.2.100, dport: 443 }"), 'edge.yaml');
    expect(updated.chain.functions[0].imageId).not.toBe(image);
    await until(() => controller.listInstances('edge').every((i) => i.imageId !== image) && figure(LocalPortCounter.FLOWS_OPEN) === FLOWS && figure(LocalPortCounter.FLOWS_CLOSING) === 0, 30_000);
    expect(figure(LocalPortCounter.FLOWS_MOVED_OUT)).toBe(movedAll + FLOWS);
    expect(figure(LocalPortCounter.FLOWS_MOVED_IN)).toBe(movedAll + FLOWS);
    expect(figure(LocalPortCounter.CLOSE_TIMEOUTS)).toBe(0);
    expect(ends.handoffTimeouts).toBe(0);
    expect(runtime.dataPlane.dropped()).toBe(0);
    const rolled = movedAll + FLOWS;

    const status = controller.getChain('edge');
    expect(status.ends?.figures).toMatchObject({ 'inside.flowsMovedOut': rolled, 'inside.flowsMovedIn': rolled, 'inside.shards': ends.shards, 'outside.finAcks': rolled });
    // The same over gRPC (what `nfvkit describe` reads).
    const remote = await rpc.getChain('edge');
    expect(remote.ends).toEqual({ where: 'replicas', reason: status.ends!.reason, figures: expect.objectContaining({ 'inside.flowsMovedOut': rolled, 'outside.finAcks': rolled }) });
    const text = describeChainText({ chain: remote, instances: await rpc.listInstances('edge'), events: [] }, 0, Date.now());
    expect(text).toMatch(/^Ends: +replicas \(fused chain with in-memory ends \(generator → responder\)/m);
    expect(text).toMatch(new RegExp(`^  inside: +framesIn \\d+, .*flowsMovedOut ${rolled}, flowsMovedIn ${rolled}`, 'm'));

    await controller.deleteChain('edge');
    const deleted = events.find((e) => e.type === 'deleted' && e.chain === 'edge');
    expect(deleted?.details).toMatchObject({ leakedBuffers: '0', flowsLeft: '0', flowsMovedOut: String(rolled) });
    // The delete closed every flow with a FIN through the chain before the replica stopped.
    expect(ends.figure(LocalPortCounter.FLOWS_CLOSED)).toBe(ends.figure(LocalPortCounter.FLOWS_OPENED));
    expect(ends.figure(LocalPortCounter.FIN_ACKS)).toBe(ends.figure(LocalPortCounter.FLOWS_OPENED));
    expect(Number(deleted?.details.enteredInside)).toBeGreaterThan(1000);
    expect(Number(deleted?.details.leftInside)).toBeGreaterThan(0);
  }, 120_000);

  it('a replica that fails loses its flows, counted: its shards go to the other replica, which opens them anew', async () => {
    await controller.apply(spec(), 'edge.yaml');
    await controller.scaleFunction('edge', 'fw', 2);
    const runtime = controller.chain('edge');
    const ends = runtime.replicaEnds;
    if (!(ends instanceof ReplicaEnds)) throw new Error('generator → responder ends run as ReplicaEnds');
    const figure = (slot: number) => ends.figure(slot);
    await until(() => figure(LocalPortCounter.SYN_ACKS) >= FLOWS && runtime.dataPlane.stage('fused').live.every((i) => i.portCounters![LocalPortCounter.SHARDS_HELD] === ends.shards / 2), 30_000);
    const victim = runtime.dataPlane.stage('fused').live[1];
    const lost = victim.portCounters![LocalPortCounter.FLOWS_OPEN];
    const movedIn = figure(LocalPortCounter.FLOWS_MOVED_IN);
    if (victim.host.worker instanceof ProcessIsolate) process.kill(victim.host.worker.pid!, 'SIGKILL');
    else await victim.host.worker.terminate();
    // The survivor takes the failed replica's shards (their holders freed by the host) and opens their flows anew.
    await until(() => ends.flowsLost > 0 && figure(LocalPortCounter.FLOWS_MOVED_IN) === movedIn + lost, 20_000);
    expect(ends.flowsLost).toBe(lost);
    expect(runtime.status().ends?.figures['inside.flowsLostWithReplica']).toBe(lost);
    // Its replacement boots (the back-off's first wait) and gets its share back.
    await until(() => runtime.dataPlane.stage('fused').live.filter((i) => i.state === 'active').length === 2 && figure(LocalPortCounter.FLOWS_OPEN) === FLOWS && figure(LocalPortCounter.FLOWS_CLOSING) === 0, 30_000);
    await controller.deleteChain('edge');
    const deleted = events.filter((e) => e.type === 'deleted' && e.chain === 'edge').at(-1);
    expect(deleted?.details).toMatchObject({ leakedBuffers: '0', flowsLeft: '0' });
  }, 120_000);

  it('keeps the ends on the host, and says why, when they cannot run in the replicas', async () => {
    const { chain } = await controller.apply(spec().replace('placement: fused', 'placement: isolated'), 'edge.yaml');
    expect(chain.ends).toMatchObject({ where: 'host', reason: expect.stringMatching(/isolated/) });
    await controller.deleteChain('edge');
    const rejected = spec().replace('destinations: [198.18.2.100/32]', 'destinations: [198.18.9.0/24]');
    const applied = await controller.apply(rejected, 'edge.yaml');
    expect(applied.chain.ends).toMatchObject({ where: 'host', reason: expect.stringMatching(/classifier rejects/) });
    await controller.deleteChain('edge');
  }, 60_000);
});
