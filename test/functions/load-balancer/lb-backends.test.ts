import { describe, expect, it } from 'vitest';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { TcpFlag } from '../../../src/packet/tcp.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { BackendControlBlock } from '../../../src/backends/backend-control-block.ts';
import { BackendState } from '../../../src/backends/backend-control-layout.ts';
import { loadBalancerConfigSchema, type LoadBalancerConfigInput } from '../../../functions/load-balancer/config.ts';
import { lbBackends } from '../../../functions/load-balancer/lb-backends.ts';
import { decode, ip, startLb, type Sent } from './lb-harness.ts';

const VIP = ip('198.18.0.100');
const CONFIG: LoadBalancerConfigInput = {
  services: [
    { name: 'web', vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }, { address: '198.19.0.2', port: 8080, state: 'draining' }] },
    { vip: '198.18.0.101', port: 53, proto: 'udp', backends: [{ address: '198.19.0.3' }] },
  ],
  maglevTableSize: 251,
};

function syn(f: number): Sent {
  return { side: Side.INSIDE, frame: { proto: IpProto.TCP, srcIp: ip('198.18.32.1') + f, dstIp: VIP, srcPort: 30000 + f, dstPort: 80, tcpFlags: TcpFlag.SYN } };
}

function rst(f: number): Sent {
  return { side: Side.INSIDE, frame: { proto: IpProto.TCP, srcIp: ip('198.18.32.1') + f, dstIp: VIP, srcPort: 30000 + f, dstPort: 80, tcpFlags: TcpFlag.RST | TcpFlag.ACK } };
}

describe('load-balancer backends for the controller (PipelineDefinition.backends)', () => {
  it('lists every backend of every service in control-array order, with its configured state', () => {
    const list = lbBackends.list(loadBalancerConfigSchema.parse(CONFIG));
    expect(list).toEqual([
      { service: 'web', name: '198.19.0.1:8080', address: '198.19.0.1', port: 8080, protocol: 'tcp', configured: BackendState.ACTIVE },
      { service: 'web', name: '198.19.0.2:8080', address: '198.19.0.2', port: 8080, protocol: 'tcp', configured: BackendState.DRAINING },
      { service: '198.18.0.101:53/udp', name: '198.19.0.3:53', address: '198.19.0.3', port: 53, protocol: 'udp', configured: BackendState.ACTIVE },
    ]);
  });

  it('counts live connections per backend in connections_backend_<i>, and a control block written by the host steers new flows', async () => {
    const block = BackendControlBlock.create(3, (bytes) => new SharedArrayBuffer(bytes));
    // The configured draining state is not in the block: the controller's block decides.
    const lb = await startLb(CONFIG, { control: block.words });
    const first = lb.send([0, 1, 2, 3, 4, 5].map(syn), 0);
    expect(first.every((r) => r.verdict === Verdict.OUTSIDE)).toBe(true);
    const to = (rs: typeof first, addr: string) => rs.filter((r) => decode(r.bytes).dst === ip(addr)).length;
    expect(lb.counter(lbBackends.connectionsCounter(0))).toBe(to(first, '198.19.0.1'));
    expect(lb.counter(lbBackends.connectionsCounter(1))).toBe(to(first, '198.19.0.2'));
    expect(lb.counter(lbBackends.connectionsCounter(0)) + lb.counter(lbBackends.connectionsCounter(1))).toBe(6);

    expect(block.set(0, BackendState.REMOVED)).toBe(true);
    expect(block.set(0, BackendState.REMOVED)).toBe(false);
    const after = lb.send([10, 11, 12, 13].map(syn), 1);
    expect(after.map((r) => decode(r.bytes).dst)).toEqual(Array(4).fill(ip('198.19.0.2')));
    // A removed backend's connections are dropped and forgotten at their next packet.
    const back = lb.send([0, 1, 2, 3, 4, 5].map(rst), 2);
    expect(back.filter((r) => r.reason === 'backend_removed').length).toBe(to(first, '198.19.0.1'));
    expect(lb.counter(lbBackends.connectionsCounter(0))).toBe(0);
    expect(lb.counter(lbBackends.connectionsCounter(1))).toBe(to(first, '198.19.0.2') + 4);
    expect(lb.counter(lbBackends.newFlowsCounter(1))).toBe(to(first, '198.19.0.2') + 4);
  });
});
