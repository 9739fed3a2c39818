/**
 * Traces for people: one function's pass over a traced packet, VPP `show trace` style —
 * each element in order with its verdict, the drop reason, the header fields it changed
 * (the snapshot before it against the one after) and the notes it reported, named through
 * the pipeline's trace info and counters from its image manifest.
 *
 * @example
 * ```ts
 * const fn = formatFunctionTrace(record, { function: 'fw', instance: 'web-edge/fw-0', info, counters });
 * // fn.steps[1] = { element: 'firewall', verdict: 'outside', dropReason: '', rewrites: [], notes: ['rule 0 (web): allow'] }
 * ```
 */
import { formatIpv4 } from '../capture/frame-tuple.ts';
import type { PipelineTraceInfo } from '../pipeline/compiled-pipeline.ts';
import type { TraceRecord, TraceSnapshot } from './trace-reader.ts';

/** One element's step, formatted. */
export interface TraceStepView {
  readonly element: string;
  /** `inside`, `outside` or `drop`. */
  readonly verdict: string;
  readonly dropReason: string;
  readonly rewrites: readonly string[];
  readonly notes: readonly string[];
}

/** One function's pass over a traced packet, formatted. */
export interface FunctionTraceView {
  readonly function: string;
  readonly instance: string;
  /** `inside` or `outside`. */
  readonly arrived: string;
  readonly packet: string;
  readonly steps: readonly TraceStepView[];
}

/** What names a record's numbers. */
export interface TraceNames {
  readonly function: string;
  readonly instance: string;
  /** The pipeline's trace info (absent for images built before traces: elements are then numbered). */
  readonly info?: PipelineTraceInfo;
  /** Counter names of the pipeline, by slot. */
  readonly counters: readonly string[];
}

const FLAGS = ['F', 'S', 'R', 'P', '.', 'U'];

/** `tcp 198.18.1.5:40000 > 198.18.2.100:80 [S] ttl 64 len 64`. */
export function formatSnapshot(s: TraceSnapshot): string {
  if (s.src === 0 && s.dst === 0 && s.proto === 0) return `non-IPv4 len ${s.len}`;
  const name = s.proto === 6 ? 'tcp' : s.proto === 17 ? 'udp' : s.proto === 1 ? 'icmp' : `proto ${s.proto}`;
  const ports = s.proto === 6 || s.proto === 17;
  let text = `${name} ${formatIpv4(s.src)}${ports ? `:${s.sport}` : ''} > ${formatIpv4(s.dst)}${ports ? `:${s.dport}` : ''}`;
  if (s.proto === 6) {
    let f = '';
    for (let b = 0; b < FLAGS.length; b++) if ((s.tcpFlags & (1 << b)) !== 0) f += FLAGS[b];
    text += ` [${f === '' ? 'none' : f}]`;
  }
  return `${text} ttl ${s.ttl} len ${s.len}`;
}

/** The fields `after` differs from `before` in: `ip.dst 198.18.2.100 -> 198.18.3.12`. */
export function rewritesBetween(before: TraceSnapshot, after: TraceSnapshot): string[] {
  const out: string[] = [];
  const l4 = after.proto === 6 ? 'tcp' : 'udp';
  if (before.src !== after.src) out.push(`ip.src ${formatIpv4(before.src)} -> ${formatIpv4(after.src)}`);
  if (before.dst !== after.dst) out.push(`ip.dst ${formatIpv4(before.dst)} -> ${formatIpv4(after.dst)}`);
  if (before.sport !== after.sport) out.push(`${l4}.sport ${before.sport} -> ${after.sport}`);
  if (before.dport !== after.dport) out.push(`${l4}.dport ${before.dport} -> ${after.dport}`);
  if (before.tcpFlags !== after.tcpFlags && after.proto === 6) out.push(`tcp.flags 0x${before.tcpFlags.toString(16)} -> 0x${after.tcpFlags.toString(16)}`);
  if (before.ttl !== after.ttl) out.push(`ip.ttl ${before.ttl} -> ${after.ttl}`);
  if (before.proto !== after.proto) out.push(`ip.proto ${before.proto} -> ${after.proto}`);
  if (before.len !== after.len) out.push(`len ${before.len} -> ${after.len}`);
  return out;
}

function verdictName(v: number): string {
  return v === 255 ? 'drop' : v === 0 ? 'inside' : 'outside';
}

/** One record, named and diffed. */
export function formatFunctionTrace(record: TraceRecord, names: TraceNames): FunctionTraceView {
  const info = names.info;
  let before = record.arrived;
  const steps = record.steps.map((s) => {
    const rewrites = rewritesBetween(before, s.after);
    before = s.after;
    const notes = record.notes
      .filter((n) => n.element === s.element)
      .map((n) => {
        const note = info?.notes[n.note];
        if (note === undefined) return `note ${n.note}: ${n.value}`;
        const named = note.values?.[n.value];
        return `${note.label} ${named !== undefined && named !== '' ? named : n.value}`;
      });
    return {
      element: info?.elements[s.element] ?? `element ${s.element}`,
      verdict: verdictName(s.verdict),
      dropReason: s.verdict === 255 ? (names.counters[s.reason] ?? `counter ${s.reason}`) : '',
      rewrites,
      notes,
    };
  });
  return { function: names.function, instance: names.instance, arrived: record.side === 0 ? 'inside' : 'outside', packet: formatSnapshot(record.arrived), steps };
}
