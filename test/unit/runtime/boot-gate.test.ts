import { describe, expect, it } from 'vitest';
import { BootGate, INSTANCE_BOOT_GATE } from '../../../src/runtime/boot-gate.ts';

const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('BootGate', () => {
  it('runs at most `size` boots at once, the others in the order they came, each slot passed on', async () => {
    const gate = new BootGate(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const boot = (k: number) => async () => {
      running++;
      most = Math.max(most, running);
      order.push(k);
      await later(5 + (k % 3));
      running--;
      return k;
    };
    const results = await Promise.all(Array.from({ length: 9 }, (_, k) => gate.run(boot(k))));
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect([gate.active, gate.queued]).toEqual([0, 0]);
  });

  it('starts a boot synchronously when a slot is free, and frees the slot of a boot that fails', async () => {
    const gate = new BootGate(1);
    let started = false;
    const first = gate.run(async () => {
      started = true;
      throw new Error('no');
    });
    expect(started).toBe(true);
    let second = false;
    const next = gate.run(async () => (second = true));
    expect([second, gate.queued]).toEqual([false, 1]);
    await expect(first).rejects.toThrow('no');
    await next;
    expect([second, gate.active, gate.queued]).toEqual([true, 0, 0]);
  });

  it('refuses a size below one; the process-wide gate leaves the controller a core', () => {
    expect(() => new BootGate(0)).toThrow(expect.objectContaining({ code: 'NFVKIT_ERR_INVALID_ARGUMENT' }));
    expect(INSTANCE_BOOT_GATE.size).toBeGreaterThanOrEqual(1);
  });
});
