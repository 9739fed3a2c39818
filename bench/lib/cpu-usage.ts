/**
 * Where CPU time goes during a benchmark run, from `/proc`: this process's main thread
 * (the nfvkit chain's host: sockets, gateway, pump loop) versus its other threads (the
 * function instances' workers and V8 helpers), other processes by label (HTTP servers,
 * load client), and the whole machine's user / system / softirq split (the kernel's
 * network stack runs mostly in softirq).
 *
 * @example
 * ```ts
 * const before = cpuSnapshot({ servers: serverPids });
 * await run();
 * const usage = cpuUsageSince(before);
 * usage.mainThread; // cores (1 = one core busy all the time)
 * ```
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** Raw counters at one moment. */
export interface CpuSnapshot {
  readonly at: number;
  readonly mainThread: number;
  readonly otherThreads: number;
  readonly groups: Readonly<Record<string, number>>;
  readonly pids: Readonly<Record<string, readonly number[]>>;
  /** `/proc/stat` cpu line: user, nice, system, idle, iowait, irq, softirq, steal. */
  readonly system: readonly number[];
}

/** CPU used between a snapshot and now, in cores (CPU seconds per wall second). */
export interface CpuUsage {
  readonly seconds: number;
  readonly mainThread: number;
  readonly otherThreads: number;
  readonly groups: Readonly<Record<string, number>>;
  /** Machine-wide cores by kind. */
  readonly system: { readonly user: number; readonly system: number; readonly softirq: number; readonly idle: number; readonly other: number };
}

function ticksOf(statPath: string): number {
  try {
    const text = readFileSync(statPath, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function processTicks(pid: number): number {
  return ticksOf(`/proc/${pid}/stat`);
}

/** Takes a snapshot; `pids` groups other processes under labels. */
export function cpuSnapshot(pids: Readonly<Record<string, readonly number[]>> = {}): CpuSnapshot {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    const t = ticksOf(`/proc/self/task/${tid}/stat`);
    if (Number(tid) === process.pid) main = t;
    else others += t;
  }
  const groups: Record<string, number> = {};
  for (const [label, list] of Object.entries(pids)) groups[label] = list.reduce((n, pid) => n + processTicks(pid), 0);
  const cpuLine = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  return { at: performance.now(), mainThread: main, otherThreads: others, groups, pids, system: cpuLine.split(/\s+/).slice(1, 9).map(Number) };
}

/** CPU used since `before` (threads that ended in between are not counted). */
export function cpuUsageSince(before: CpuSnapshot): CpuUsage {
  const now = cpuSnapshot(before.pids);
  const seconds = (now.at - before.at) / 1000;
  const cores = (ticks: number) => ticks / TICKS_PER_SECOND / seconds;
  const groups: Record<string, number> = {};
  for (const k of Object.keys(now.groups)) groups[k] = cores(now.groups[k] - (before.groups[k] ?? 0));
  const d = now.system.map((v, i) => v - before.system[i]);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = d;
  return {
    seconds,
    mainThread: cores(now.mainThread - before.mainThread),
    otherThreads: cores(now.otherThreads - before.otherThreads),
    groups,
    system: { user: cores(user + nice), system: cores(system), softirq: cores(softirq + irq), idle: cores(idle + iowait), other: cores(steal) },
  };
}
