import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScalingPolicy, type ScalingDecision } from '../../../src/controller/scaling-policy.ts';

const bounds = { min: 1, max: 4, target: 1_000_000, cooldownSeconds: 10 };
const sample = (now: number, replicas: number, totalPps: number, queue = 0, busy = 0) => ({ now, replicas, totalPps, maxQueueOccupancy: queue, maxBusyRatio: busy });

/** Runs the policy over a load trace (one sample per second), applying every decision. */
function run(policy: ScalingPolicy, loads: readonly number[], start = 1): { replicas: number[]; decisions: ScalingDecision[] } {
  let replicas = start;
  const out: number[] = [];
  const decisions: ScalingDecision[] = [];
  loads.forEach((load, t) => {
    const d = policy.observe(sample(t * 1000, replicas, load));
    if (d !== null) {
      decisions.push(d);
      replicas = d.replicas;
    }
    out.push(replicas);
  });
  return { replicas: out, decisions };
}

describe('scaling policy', () => {
  it('scales out within 2 s of the load crossing the target, to the count the load needs', () => {
    const policy = new ScalingPolicy(bounds);
    expect(policy.observe(sample(0, 1, 2_500_000))).toBeNull();
    const d = policy.observe(sample(1000, 1, 2_500_000));
    expect(d).toMatchObject({ replicas: 3, direction: 'out' });
    expect(d!.reason).toBe('scale-out: load 2.50 Mpps per instance > target 1.00 Mpps for 1.0 s');
    expect(d!.details).toMatchObject({ totalPps: 2_500_000, perInstancePps: 2_500_000, from: 1, to: 3 });
  });

  it('respects the cooldown after a step', () => {
    const policy = new ScalingPolicy(bounds);
    const { replicas } = run(policy, [3e6, 3e6, 9e6, 9e6, 9e6, 9e6, 9e6, 9e6, 9e6, 9e6, 9e6, 9e6, 9e6]);
    expect(replicas.slice(0, 11)).toEqual([1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
    expect(replicas[11]).toBe(4);
  });

  it('never leaves min..max', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 2e7, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 5 }), (loads, min, extra) => {
        const policy = new ScalingPolicy({ ...bounds, min, max: min + extra, cooldownSeconds: 2 });
        const { replicas } = run(policy, loads, min);
        return replicas.every((r) => r >= min && r <= min + extra);
      }),
    );
  });

  it('does not flap under noisy load around the target', () => {
    const policy = new ScalingPolicy(bounds);
    let seed = 7;
    const noise = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5) * 0.6;
    // 2 instances carrying 1.4 Mpps ± 30 %: per instance 0.5–0.9 Mpps, inside the band.
    const loads = Array.from({ length: 300 }, () => 1.4e6 * (1 + noise()));
    const { decisions } = run(policy, loads, 2);
    expect(decisions).toEqual([]);
  });

  it('scales in only after the load stays low, and at most halves', () => {
    const policy = new ScalingPolicy({ ...bounds, cooldownSeconds: 1 });
    const loads = [...Array(5).fill(400_000), 3e6, ...Array(12).fill(400_000)];
    const { replicas, decisions } = run(policy, loads, 4);
    expect(decisions.every((d) => d.direction === 'in')).toBe(true);
    expect(replicas.slice(0, 5)).toEqual([4, 4, 4, 4, 4]);
    expect(replicas[15]).toBe(4);
    expect(replicas[16]).toBe(2);
    expect(decisions[0].reason).toMatch(/^scale-in: load 100 kpps per instance < 500 kpps for 10\.0 s$/);
  });

  it('treats full queues as overload even below the packet target', () => {
    const policy = new ScalingPolicy(bounds);
    policy.observe(sample(0, 1, 100_000, 0.95, 0.3));
    const d = policy.observe(sample(1000, 1, 100_000, 0.95, 0.3));
    expect(d).toMatchObject({ replicas: 2, direction: 'out' });
    expect(d!.reason).toMatch(/queue 0\.95/);
  });

  it('brings replicas back into bounds at once', () => {
    const policy = new ScalingPolicy({ ...bounds, min: 2 });
    expect(policy.observe(sample(0, 1, 0))).toMatchObject({ replicas: 2, direction: 'out' });
  });

  it('scales out no further than outCap (a fused chain: its cores), however far the load is above the target', () => {
    const policy = new ScalingPolicy(bounds, { outCap: 2 });
    const { replicas, decisions } = run(policy, new Array(30).fill(9_000_000));
    expect(decisions.map((d) => d.replicas)).toEqual([2]);
    expect(decisions[0].reason).toBe('scale-out: load 9.00 Mpps per instance > target 1.00 Mpps for 1.0 s (capped at 2 replicas)');
    expect(replicas.at(-1)).toBe(2);
    // Without the cap the same load goes straight to max.
    expect(run(new ScalingPolicy(bounds), [9_000_000, 9_000_000]).replicas).toEqual([1, 4]);
    // min above the cap still holds.
    expect(new ScalingPolicy({ ...bounds, min: 3 }, { outCap: 2 }).observe(sample(0, 1, 0))).toMatchObject({ replicas: 3 });
  });
});
