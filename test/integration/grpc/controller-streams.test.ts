import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ControllerEvent } from '../../../src/controller/controller-api.ts';
import type { StatsSnapshot } from '../../../src/grpc/stats-snapshot.ts';
import { specYaml } from './fake-controller.ts';
import { rpcError, startHarness, waitFor, type Harness } from './grpc-harness.ts';

let h: Harness;

beforeEach(async () => {
  h = await startHarness();
});

afterEach(async () => {
  await h.close();
});

async function take<T>(iterable: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  if (n === 0) return out;
  for await (const item of iterable) {
    out.push(item);
    if (out.length === n) break;
  }
  return out;
}

describe('WatchEvents', () => {
  it('replays history after afterSeq, then delivers live events, every field intact', async () => {
    h.fake.emit({ type: 'image-built', chain: 'a', reason: 'built', details: { image: 'abc123' } });
    h.fake.emit({ type: 'instance-booted', chain: 'a', function: 'lb', instance: 'a/lb-1' });
    h.fake.emit({ type: 'instance-ready', chain: 'a', function: 'lb', instance: 'a/lb-1', details: { bootMs: '41' } });
    const stream = h.client.watchEvents({ afterSeq: 1 });
    const received: ControllerEvent[] = [];
    const done = (async () => {
      for await (const e of stream) {
        received.push(e);
        if (received.length === 4) break;
      }
    })();
    await waitFor(() => received.length === 2);
    const live1 = h.fake.emit({ type: 'scaled', chain: 'a', function: 'lb', reason: 'scale-out: 1.9 Mpps/instance > target 1 Mpps', details: { from: '2', to: '3' } });
    const live2 = h.fake.emit({ type: 'instance-failed', chain: 'a', function: 'lb', instance: 'a/lb-3', reason: 'boot timeout' });
    await done;
    expect(received).toEqual([h.fake.events[1], h.fake.events[2], live1, live2]);
    await waitFor(() => h.fake.listenerCount === 0 && h.server.openStreams === 0);
  });

  it('filters by chain', async () => {
    h.fake.emit({ type: 'applied', chain: 'a' });
    h.fake.emit({ type: 'applied', chain: 'b' });
    h.fake.emit({ type: 'instance-stopped', chain: 'b', instance: 'b/fw-1', reason: 'scale-in' });
    h.fake.emit({ type: 'deleted', chain: 'a' });
    const events = await take(h.client.watchEvents({ chain: 'b' }), 2);
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [2, 'applied'],
      [3, 'instance-stopped'],
    ]);
  });

  it('carries every event type across the wire', async () => {
    const types = ['applied', 'image-built', 'instance-booted', 'instance-ready', 'instance-draining', 'instance-failed', 'instance-stopped', 'scaled', 'deleted'] as const;
    for (const type of types) h.fake.emit({ type, chain: 'a' });
    const events = await take(h.client.watchEvents(), types.length);
    expect(events.map((e) => e.type)).toEqual(types);
  });

  it('unsubscribes when the client cancels', async () => {
    const stream = h.client.watchEvents();
    const pending = take(stream, 1);
    await waitFor(() => h.fake.listenerCount === 1);
    expect(h.server.openStreams).toBe(1);
    stream.cancel();
    expect(await pending).toEqual([]);
    await waitFor(() => h.fake.listenerCount === 0 && h.server.openStreams === 0);
  });

  it('ends cleanly and unsubscribes when the server shuts down', async () => {
    h.fake.emit({ type: 'applied', chain: 'a' });
    const received: ControllerEvent[] = [];
    const consumer = (async () => {
      for await (const e of h.client.watchEvents()) received.push(e);
      return 'ended';
    })();
    await waitFor(() => received.length === 1 && h.fake.listenerCount === 1);
    await h.server.close();
    expect(await consumer).toBe('ended');
    expect(h.fake.listenerCount).toBe(0);
    expect(h.server.openStreams).toBe(0);
  });
});

describe('StreamStats', () => {
  it('sends a snapshot at once, then one per interval', async () => {
    await h.client.applyChain(specYaml('a'));
    await h.client.applyChain(specYaml('b'));
    const started = Date.now();
    const stamps: number[] = [];
    const snaps: StatsSnapshot[] = [];
    for await (const s of h.client.streamStats({ intervalMs: 150 })) {
      stamps.push(Date.now() - started);
      snaps.push(s);
      if (snaps.length === 3) break;
    }
    expect(stamps[0]).toBeLessThan(150);
    expect(stamps[2] - stamps[0]).toBeGreaterThanOrEqual(280);
    expect(snaps[0].instances).toHaveLength(6);
    expect(snaps[0].instances[1]).toEqual({ instance: 'a/lb-1', chain: 'a', function: 'lb', rxPps: 2000, txPps: 1980, dropPps: 20, rxBps: 128_000, queueOccupancy: 0.25, busyRatio: 0.5 });
    expect(snaps[0].time).toBeGreaterThanOrEqual(started);
    await waitFor(() => h.server.openStreams === 0);
  });

  it('samples every 1000 ms when no interval is given', async () => {
    const started = Date.now();
    const stamps: number[] = [];
    for await (const _ of h.client.streamStats()) {
      stamps.push(Date.now() - started);
      if (stamps.length === 2) break;
    }
    expect(stamps[0]).toBeLessThan(500);
    expect(stamps[1] - stamps[0]).toBeGreaterThanOrEqual(900);
  });

  it('filters by chain', async () => {
    await h.client.applyChain(specYaml('a'));
    await h.client.applyChain(specYaml('b'));
    const [snap] = await take(h.client.streamStats({ chain: 'b', intervalMs: 100 }), 1);
    expect(snap.instances.map((r) => r.instance)).toEqual(['b/fw-1', 'b/lb-1', 'b/lb-2']);
  });

  it('stops sampling when the client cancels', async () => {
    const stream = h.client.streamStats({ intervalMs: 100 });
    await take(stream, 2);
    await waitFor(() => h.server.openStreams === 0);
    const calls = h.fake.statsCalls;
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(h.fake.statsCalls).toBe(calls);
  });

  it('rejects an interval outside 100..600000 ms with INVALID_ARGUMENT on interval_ms', async () => {
    for (const intervalMs of [50, 600_001]) {
      const err = await rpcError(take(h.client.streamStats({ intervalMs }), 1));
      expect(err.status).toBe(status.INVALID_ARGUMENT);
      expect(err.fieldViolations.map((v) => v.field)).toEqual(['interval_ms']);
      expect(err.fieldViolations[0].description).toContain(`got ${intervalMs}`);
    }
    expect(h.fake.statsCalls).toBe(0);
    expect(h.server.openStreams).toBe(0);
  });

  it('returns NOT_FOUND for an unknown chain', async () => {
    const err = await rpcError(take(h.client.streamStats({ chain: 'nope' }), 1));
    expect(err.status).toBe(status.NOT_FOUND);
    expect(err.nfvkitCode).toBe('NFVKIT_ERR_NOT_FOUND');
  });

  it('ends with INTERNAL when sampling fails mid-stream, without leaking the cause', async () => {
    await h.client.applyChain(specYaml('a'));
    const received: StatsSnapshot[] = [];
    const failing = (async () => {
      for await (const s of h.client.streamStats({ intervalMs: 100 })) {
        received.push(s);
        h.fake.failStats = true;
      }
    })();
    const err = await rpcError(failing);
    expect(received).toHaveLength(1);
    expect(err.status).toBe(status.INTERNAL);
    expect(err.message).not.toContain('secret');
    expect(h.internalErrors.map((e) => e.method)).toEqual(['StreamStats']);
    await waitFor(() => h.server.openStreams === 0);
  });

  it('ends cleanly when the server shuts down', async () => {
    const received: StatsSnapshot[] = [];
    const consumer = (async () => {
      for await (const s of h.client.streamStats({ intervalMs: 100 })) received.push(s);
      return 'ended';
    })();
    await waitFor(() => received.length >= 1);
    await h.server.close();
    expect(await consumer).toBe('ended');
    const calls = h.fake.statsCalls;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(h.fake.statsCalls).toBe(calls);
  });
});
