import { describe, expect, it } from 'vitest';
import { MaglevTable } from '../../../src/flow/maglev.ts';
import { flowHash } from '../../../src/packet/flow-key.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { TcpFlag } from '../../../src/packet/tcp.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { BackendControl } from '../../../functions/load-balancer/backend-control.ts';
import { loadBalancerConfigSchema, type LoadBalancerConfigInput } from '../../../functions/load-balancer/config.ts';
import { decode, ip, startLb, type Sent } from './lb-harness.ts';

const VIP = ip('198.18.0.100');
const ADDRS = ['198.19.0.1', '198.19.0.2', '198.19.0.3', '198.19.0.4', '198.19.0.5'];
const M = 4099;

function config(states: Array<'active' | 'draining' | 'gone'> = ADDRS.map(() => 'active'), proto: 'tcp' | 'udp' = 'tcp'): LoadBalancerConfigInput {
  const backends = ADDRS.flatMap((address, i) => (states[i] === 'gone' ? [] : [{ address, state: states[i] as 'active' | 'draining' }]));
  return { services: [{ name: 'web', vip: '198.18.0.100', port: 80, proto, backends }], maglevTableSize: M };
}

function tuple(f: number): { src: number; sport: number } {
  return { src: (ip('198.18.32.0') + (f % 2000)) >>> 0, sport: 20000 + Math.floor(f / 2000) };
}

function tcp(f: number, flags: number, backend?: number): Sent {
  const t = tuple(f);
  return backend === undefined
    ? { side: Side.INSIDE, frame: { proto: IpProto.TCP, srcIp: t.src, dstIp: VIP, srcPort: t.sport, dstPort: 80, tcpFlags: flags } }
    : { side: Side.OUTSIDE, frame: { proto: IpProto.TCP, srcIp: backend, dstIp: t.src, srcPort: 80, dstPort: t.sport, tcpFlags: flags } };
}

type Lb = Awaited<ReturnType<typeof startLb>>;

function connect(lb: Lb, flows: number[], now: number): Map<number, number> {
  const backendOf = new Map<number, number>();
  lb.send(flows.map((f) => tcp(f, TcpFlag.SYN)), now).forEach((r, k) => {
    expect(r.verdict).toBe(Verdict.OUTSIDE);
    backendOf.set(flows[k], decode(r.bytes).dst);
  });
  lb.send(flows.map((f) => tcp(f, TcpFlag.SYN | TcpFlag.ACK, backendOf.get(f))), now);
  lb.send(flows.map((f) => tcp(f, TcpFlag.ACK)), now);
  return backendOf;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe('load-balancer drain and removal', () => {
  it('runtime drain: established flows keep the backend, new flows avoid it, activation restores it', async () => {
    const control = BackendControl.forConfig(loadBalancerConfigSchema.parse(config()));
    const lb = await startLb(config(), { control: control.array });
    const old = connect(lb, range(0, 2000), 0);
    const drained = ip(ADDRS[2]);
    const onDrained = [...old].filter(([, b]) => b === drained).map(([f]) => f);
    expect(onDrained.length).toBeGreaterThan(250);

    control.drain('web', '198.19.0.3:80');
    const data = lb.send(range(0, 2000).map((f) => tcp(f, TcpFlag.ACK | TcpFlag.PSH)), 1);
    data.forEach((r, f) => expect(decode(r.bytes).dst).toBe(old.get(f)));
    const replies = lb.send(onDrained.map((f) => tcp(f, TcpFlag.ACK, drained)), 1);
    replies.forEach((r) => {
      expect(r.verdict).toBe(Verdict.INSIDE);
      expect(decode(r.bytes).src).toBe(VIP);
    });
    expect(lb.counter('control_changes')).toBe(1);

    const fresh = connect(lb, range(2000, 6000), 2);
    const oracle = MaglevTable.build(ADDRS.map((a, i) => ({ name: `${a}:80`, weight: i === 2 ? 0 : 1 })), { tableSize: M });
    for (const [f, b] of fresh) {
      expect(b).not.toBe(drained);
      const t = tuple(f);
      expect(b).toBe(ip(ADDRS[oracle.lookup(flowHash(t.src, VIP, t.sport, 80, IpProto.TCP))]));
    }

    control.activate('web', '198.19.0.3:80');
    const again = connect(lb, range(6000, 8000), 3);
    expect([...again.values()].filter((b) => b === drained).length).toBeGreaterThan(250);
    expect(lb.counter('dropped_packets')).toBe(0);
  });

  it('runtime removal: that backend\'s flows are dropped and rebalanced on retry, the others keep theirs', async () => {
    const control = BackendControl.forConfig(loadBalancerConfigSchema.parse(config()));
    const lb = await startLb(config(), { control: control.array });
    const old = connect(lb, range(0, 2000), 0);
    const removed = ip(ADDRS[4]);
    control.remove('web', '198.19.0.5:80');
    expect(control.state('web', '198.19.0.5:80')).toBe(2);

    const out = lb.send(range(0, 2000).map((f) => tcp(f, TcpFlag.ACK)), 1);
    let dropped = 0;
    out.forEach((r, f) => {
      if (old.get(f) === removed) {
        expect(r.reason).toBe('backend_removed');
        dropped++;
      } else expect(decode(r.bytes).dst).toBe(old.get(f));
    });
    expect(dropped).toBeGreaterThan(250);
    expect(lb.counter('backend_removed')).toBe(dropped);

    const victims = [...old].filter(([, b]) => b === removed).map(([f]) => f);
    const late = lb.send(victims.map((f) => tcp(f, TcpFlag.ACK, removed)), 2);
    expect(late.every((r) => r.reason === 'reply_no_connection')).toBe(true);
    const retry = connect(lb, victims, 3);
    for (const b of retry.values()) expect(b).not.toBe(removed);
  });

  it('a new image moves only the removed backend\'s share of new flows; draining in config equals removal for new flows', async () => {
    const flows = range(0, 20_000);
    const picks = async (states: Array<'active' | 'draining' | 'gone'>) => {
      const lb = await startLb(config(states, 'udp'));
      return lb
        .send(flows.map((f) => ({ side: Side.INSIDE, frame: { proto: IpProto.UDP, srcIp: tuple(f).src, dstIp: VIP, srcPort: tuple(f).sport, dstPort: 80 } })), 0)
        .map((r) => decode(r.bytes).dst);
    };
    const before = await picks(['active', 'active', 'active', 'active', 'active']);
    const removed = await picks(['active', 'gone', 'active', 'active', 'active']);
    const drained = await picks(['active', 'draining', 'active', 'active', 'active']);
    const gone = ip(ADDRS[1]);
    let moved = 0;
    let movedElsewhere = 0;
    let onGone = 0;
    flows.forEach((f) => {
      if (before[f] === gone) {
        onGone++;
        expect(removed[f]).not.toBe(gone);
      }
      if (before[f] !== removed[f]) {
        moved++;
        if (before[f] !== gone) movedElsewhere++;
      }
    });
    expect(onGone / flows.length).toBeGreaterThan(0.17);
    expect(onGone / flows.length).toBeLessThan(0.23);
    expect(movedElsewhere / (flows.length - onGone)).toBeLessThan(0.05);
    expect(moved / flows.length).toBeLessThan(0.26);
    expect(drained).toEqual(removed);
  });

  it('drops new flows as no_backend when every backend is draining, while tracked flows continue', async () => {
    const control = BackendControl.forConfig(loadBalancerConfigSchema.parse(config()));
    const lb = await startLb(config(), { control: control.array });
    const old = connect(lb, range(0, 10), 0);
    for (const a of ADDRS) control.drain('web', `${a}:80`);
    const [fresh] = lb.send([tcp(99, TcpFlag.SYN)], 1);
    expect(fresh.reason).toBe('no_backend');
    const data = lb.send(range(0, 10).map((f) => tcp(f, TcpFlag.ACK)), 1);
    data.forEach((r, f) => expect(decode(r.bytes).dst).toBe(old.get(f)));
  });

  it('refuses a control array made for another configuration and names unknown backends', async () => {
    const other = BackendControl.forConfig(loadBalancerConfigSchema.parse(config(['active', 'active', 'gone', 'gone', 'gone'])));
    await expect(startLb(config(), { control: other.array })).rejects.toThrow(InvalidArgumentError);
    expect(() => other.drain('web', '198.19.0.3:80')).toThrow(/no backend 198.19.0.3:80/);
    expect(() => other.drain('nope', '198.19.0.1:80')).toThrow(/no service nope/);
  });
});
