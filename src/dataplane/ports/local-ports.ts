import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';
import { GeneratorPort } from './generator-port.ts';
import { ResponderPort } from './responder-port.ts';
import { SinkPort } from './sink-port.ts';

/**
 * A chain end an instance opens itself (placement with the ports in the instances): what
 * can cross to a worker as `workerData` (structured clone), nothing that needs the host.
 */
export type LocalPortSpec =
  /** Sends `frames` round robin, `total` in all (default: forever). */
  | { readonly type: 'generator'; readonly frames: readonly Uint8Array[]; readonly total?: number }
  /** Frees what leaves. */
  | { readonly type: 'sink' }
  /** Answers SYN and FIN with SYN-ACK and FIN-ACK (simulated servers), frees the rest. */
  | { readonly type: 'responder' };

/** Both ends of one instance. */
export interface LocalPortsSpec {
  readonly inside: LocalPortSpec;
  readonly outside: LocalPortSpec;
}

/** Slots of the counters (one float64 each, shared with the host) of an instance's local ports. */
export const LocalPortCounter = {
  /** Frames the inside port put into the chain. */
  INSIDE_IN: 0,
  /** Frames that left the chain at the inside port. */
  INSIDE_OUT: 1,
  OUTSIDE_IN: 2,
  OUTSIDE_OUT: 3,
} as const;

/** Number of `LocalPortCounter` slots. */
export const LOCAL_PORT_COUNTERS = Object.keys(LocalPortCounter).length;

/** The ports of one instance, counting into shared memory, and how to give back what they hold. */
export interface LocalPorts {
  readonly ports: readonly [ChainPort, ChainPort];
  /** Frees every buffer a port still holds (a responder's pending answers). */
  close(pool: PoolHandle): void;
}

/**
 * Opens an instance's ports from their spec; `counters` (`LOCAL_PORT_COUNTERS` slots) is
 * where they count, read by the host without messages. This module is the entry of the
 * port runtime an instance imports when its chain places the ports in the instances.
 *
 * @example
 * ```ts
 * const local = openLocalPorts({ inside: { type: 'generator', frames }, outside: { type: 'sink' } }, counters);
 * const loop = new InstanceLoop(pool, [eth0, eth1], pipeline, undefined, undefined, local.ports);
 * ```
 */
export function openLocalPorts(spec: LocalPortsSpec, counters: Float64Array): LocalPorts {
  const inside = openPort(spec.inside);
  const outside = openPort(spec.outside);
  return {
    ports: [counting(inside, counters, LocalPortCounter.INSIDE_IN, LocalPortCounter.INSIDE_OUT), counting(outside, counters, LocalPortCounter.OUTSIDE_IN, LocalPortCounter.OUTSIDE_OUT)],
    close(pool) {
      const ids = new Uint32Array(256);
      for (const port of [inside, outside]) {
        if (!(port instanceof ResponderPort)) continue;
        for (let n = port.fill(pool, ids, ids.length); n > 0; n = port.fill(pool, ids, ids.length)) pool.freeBatch(ids, n);
      }
    },
  };
}

function openPort(spec: LocalPortSpec): ChainPort {
  switch (spec.type) {
    case 'generator':
      return new GeneratorPort(spec.frames, { total: spec.total ?? Infinity });
    case 'sink':
      return new SinkPort();
    case 'responder':
      return new ResponderPort();
  }
}

function counting(port: ChainPort, counters: Float64Array, inSlot: number, outSlot: number): ChainPort {
  return {
    fill(pool, ids, max) {
      const n = port.fill(pool, ids, max);
      counters[inSlot] += n;
      return n;
    },
    take(pool, ids, n) {
      counters[outSlot] += n;
      port.take(pool, ids, n);
    },
  };
}
