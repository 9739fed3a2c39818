/**
 * Samples this thread with V8's CPU profiler (`node:inspector`) while `work` runs, and sums
 * self time by function and by source file: where the nfvkit chain's host thread spends
 * its time (socket I/O, gateway, pump loop, idle).
 *
 * @example
 * ```ts
 * const { byFile, byFunction, totalMs } = await profileMainThread(() => runLoad());
 * byFile[0]; // { name: 'vxlan-port.ts', selfMs: 812, share: 0.21 }
 * ```
 */
import { Session } from 'node:inspector/promises';

/** Self time of one function or file. */
export interface ProfileEntry {
  readonly name: string;
  readonly selfMs: number;
  /** Share of all sampled time (idle included). */
  readonly share: number;
}

/** What `profileMainThread` found. */
export interface MainThreadProfile<T> {
  readonly result: T;
  readonly totalMs: number;
  /** By source file (`(native)`, `(idle)`, `(garbage collector)` … for frames without one), largest first. */
  readonly byFile: readonly ProfileEntry[];
  /** By function (`name file:line`), largest first. */
  readonly byFunction: readonly ProfileEntry[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Profiles this thread while `work` runs (sampling every `intervalUs`, default 200 µs). */
export async function profileMainThread<T>(work: () => Promise<T>, intervalUs = 200): Promise<MainThreadProfile<T>> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
    await session.post('Profiler.start');
    const result = await work();
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const files = new Map<string, number>();
    const fns = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((id, i) => {
      const us = profile.timeDeltas[i] ?? 0;
      total += us;
      const f = nodes.get(id)?.callFrame;
      if (f === undefined) return;
      const file = f.url === '' ? (f.functionName.startsWith('(') ? f.functionName : '(native)') : (f.url.split('/').at(-1) ?? f.url);
      const fn = f.url === '' ? file : `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
      files.set(file, (files.get(file) ?? 0) + us);
      fns.set(fn, (fns.get(fn) ?? 0) + us);
    });
    const rank = (m: Map<string, number>): ProfileEntry[] =>
      [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, selfMs: us / 1000, share: total > 0 ? us / total : 0 }));
    return { result, totalMs: total / 1000, byFile: rank(files), byFunction: rank(fns) };
  } finally {
    await session.post('Profiler.disable').catch(() => undefined);
    session.disconnect();
  }
}
