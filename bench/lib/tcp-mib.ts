/**
 * A namespace's TCP counters (the `Tcp:` lines of its `/proc/net/snmp`), to tell whether
 * connections were reset or failed during a run: take them before and after and subtract.
 *
 * @example
 * ```ts
 * const before = await tcpMib(lab, ns);
 * …
 * const d = tcpMibDelta(before, await tcpMib(lab, ns)); // { EstabResets: 0, OutRsts: 0, … }
 * ```
 */
import type { Lab } from '../../src/netlab/lab.ts';

/** The counters kept (RFC 4022 names, as the kernel prints them). */
export const TCP_MIB_FIELDS = ['ActiveOpens', 'PassiveOpens', 'AttemptFails', 'EstabResets', 'RetransSegs', 'OutRsts', 'InErrs'] as const;

/** One reading. */
export type TcpMib = Record<(typeof TCP_MIB_FIELDS)[number], number>;

/** Reads the TCP counters of namespace `ns`. */
export async function tcpMib(lab: Lab, ns: string): Promise<TcpMib> {
  const { stdout } = await lab.exec(ns, 'cat', ['/proc/net/snmp']);
  const lines = stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = (lines[0] ?? '').split(/\s+/);
  const values = (lines[1] ?? '').split(/\s+/);
  const out = {} as TcpMib;
  for (const f of TCP_MIB_FIELDS) out[f] = Number(values[names.indexOf(f)] ?? 0);
  return out;
}

/** `after − before`, field by field. */
export function tcpMibDelta(before: TcpMib, after: TcpMib): TcpMib {
  const out = {} as TcpMib;
  for (const f of TCP_MIB_FIELDS) out[f] = after[f] - before[f];
  return out;
}
