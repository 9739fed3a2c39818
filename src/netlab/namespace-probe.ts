import { runCommand } from './run-command.ts';

/** Whether this process can build a network lab, and if not, why. */
export interface NamespaceProbe {
  readonly ok: boolean;
  /** Why not (empty when `ok`). */
  readonly reason: string;
}

let cached: Promise<NamespaceProbe> | undefined;

async function probe(): Promise<NamespaceProbe> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: `network namespaces need root (uid ${process.getuid()})` };
  }
  const version = await runCommand('ip', ['-V'], { allowFailure: true, timeoutMs: 5000 }).catch((err: Error) => err);
  if (version instanceof Error) return { ok: false, reason: `iproute2 'ip' is not usable: ${version.message} (apt-get install -y iproute2)` };
  const name = `nfvprobe${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const add = await runCommand('ip', ['netns', 'add', name], { allowFailure: true, timeoutMs: 5000 });
  if (add.code !== 0) return { ok: false, reason: `'ip netns add' failed: ${add.stderr.trim() || `exit ${add.code}`}` };
  const del = await runCommand('ip', ['netns', 'del', name], { allowFailure: true, timeoutMs: 5000 });
  if (del.code !== 0) return { ok: false, reason: `'ip netns del ${name}' failed: ${del.stderr.trim()}` };
  return { ok: true, reason: '' };
}

/**
 * Finds out (once per process) whether network namespaces can be created here: Linux, root,
 * a working `ip`, and a real `ip netns add` / `ip netns del` of a probe namespace. End-to-end
 * tests skip with `reason` printed only when this says no.
 *
 * @example
 * ```ts
 * const probe = await canCreateNamespaces();
 * if (!probe.ok) console.warn(`skipping netns tests: ${probe.reason}`);
 * ```
 */
export function canCreateNamespaces(): Promise<NamespaceProbe> {
  cached ??= probe();
  return cached;
}
