import { createHash } from 'node:crypto';
import { PipelineCompileError } from '../errors/catalog.ts';
import { validateConfig } from '../config/validate-config.ts';
import type { PipelineDefinition } from './define-pipeline.ts';
import { MIDDLEBOX_PORTS, type ElementCode, type GenContext } from './element.ts';
import { BUILTIN_COUNTERS, BuiltinCounter, STATE_ALIGN, STATE_HEADER_BYTES, type CompiledElement, type CompiledPipeline, type CounterInfo, type TraceNoteInfo } from './compiled-pipeline.ts';
import { Verdict } from './verdict.ts';

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** A note an element declared (`GenContext.trace`), with the expression its hook evaluates. */
interface TraceNote extends TraceNoteInfo {
  readonly expression: string;
}

/**
 * The pipeline compiler: validates a function's configuration, bakes it in, asks every
 * element for its code and fuses the elements into ONE batch loop — no per-packet dispatch
 * between stages. The result is an ES module's source (printable with `--emit`) that
 * exports `createPipeline(rt)`.
 *
 * Same function and configuration give the same source byte for byte, hence the same
 * `sourceHash`.
 *
 * @example
 * ```ts
 * const compiled = compilePipeline(firewall, { defaultPolicy: 'drop', rules: [] });
 * console.log(compiled.source);
 * const instance = await loadPipeline(compiled, { counters: new Float64Array(compiled.counters.length) });
 * ```
 */
export function compilePipeline<C>(definition: PipelineDefinition<C>, rawConfig: unknown): CompiledPipeline {
  const config = validateConfig(definition.config, rawConfig, `${definition.name} config`);
  const uses = definition.elements(config);
  const counters: CounterInfo[] = [...BUILTIN_COUNTERS];
  const imports = new Map<string, Map<string, string>>(); // module → export → local
  const constants: string[] = [];
  const locals = new Map<string, string>(); // name → initial expression
  const codes: Array<{ name: string; code: ElementCode; sideGuard?: number }> = [];
  const elements: CompiledElement[] = [];
  const usedNames = new Set<string>();
  let stateBytes = STATE_HEADER_BYTES;
  const notes: TraceNote[] = [];

  uses.forEach((u, index) => {
    const name = u.name ?? u.element.kind;
    if (usedNames.has(name)) throw new PipelineCompileError(`${definition.name}: two elements named "${name}"; give one a name`);
    usedNames.add(name);
    const elementConfig = validateConfig(u.element.config, u.config, `${definition.name} element ${name} config`);
    const id = `e${index + 1}`;
    const slots = new Map<string, number>();
    for (const c of u.element.counters) {
      slots.set(c.name, counters.length);
      counters.push({ name: c.name, element: name, drop: c.drop, help: c.help });
    }
    const slotOf = (counter: string, wantDrop?: boolean): number => {
      const slot = slots.get(counter);
      if (slot === undefined) throw new PipelineCompileError(`${definition.name}: element ${name} uses undeclared counter "${counter}"`);
      if (wantDrop === true && !counters[slot].drop) {
        throw new PipelineCompileError(`${definition.name}: element ${name} drops with "${counter}", which is not a drop counter`);
      }
      return slot;
    };
    const ctx: GenContext = {
      id,
      importName(module, exportName) {
        if (!IDENTIFIER.test(exportName)) throw new PipelineCompileError(`bad import name "${exportName}"`);
        let names = imports.get(module);
        if (names === undefined) imports.set(module, (names = new Map()));
        let local = names.get(exportName);
        if (local === undefined) {
          local = `${exportName}_${imports.size}_${names.size}`;
          names.set(exportName, local);
        }
        return local;
      },
      drop: (counter) => `{ verdict = ${Verdict.DROP}; reason = ${slotOf(counter, true)}; break pkt; }`,
      dropIndex: (expr) => `{ verdict = ${Verdict.DROP}; reason = (${expr}); break pkt; }`,
      finish: () => 'break pkt;',
      count: (counter, by = '1') => `counters[${slotOf(counter)}] += ${by};`,
      counterIndex: (counter) => slotOf(counter),
      packetLocal(localName, initial) {
        if (!IDENTIFIER.test(localName)) throw new PipelineCompileError(`bad local name "${localName}"`);
        const known = locals.get(localName);
        if (known !== undefined && known !== initial) {
          throw new PipelineCompileError(`${definition.name}: per-packet local "${localName}" declared with different initial values`);
        }
        locals.set(localName, initial);
        return localName;
      },
      stateRegion(bytes) {
        if (!Number.isInteger(bytes) || bytes <= 0) throw new PipelineCompileError(`${definition.name}: element ${name} asks for ${bytes} bytes of state`);
        const offset = stateBytes;
        stateBytes += Math.ceil(bytes / STATE_ALIGN) * STATE_ALIGN;
        return offset;
      },
      trace(label, expression, values) {
        const n = notes.length;
        notes.push(values === undefined ? { element: index, label, expression } : { element: index, label, expression, values: [...values] });
        return `/*@trace:${n}*/`;
      },
      constant(value) {
        const ident = `K${constants.length}`;
        constants.push(`const ${ident} = ${JSON.stringify(value)};`);
        return ident;
      },
    };
    const ports = u.element.ports ?? MIDDLEBOX_PORTS;
    if (ports.input.length === 0 || ports.output.length === 0) {
      throw new PipelineCompileError(`${definition.name}: element ${name} declares no input or no output side`);
    }
    elements.push({ name, kind: u.element.kind, ports });
    const code = u.element.generate(elementConfig, ctx);
    const only = ports.input.length === 1 ? (ports.input[0] === 'inside' ? 0 : 1) : undefined;
    codes.push(only === undefined ? { name, code } : { name, code, sideGuard: only });
  });

  if (stateBytes === STATE_HEADER_BYTES) stateBytes = 0; // no element keeps state: no header either
  const source = renderModule(definition.name, counters, imports, constants, locals, codes, stateBytes, notes);
  return {
    name: definition.name,
    sourceHash: createHash('sha256').update(source).digest('hex'),
    source,
    counters,
    elements,
    imports: [...imports.keys()],
    config,
    stateBytes,
    trace: {
      elements: elements.map((e) => e.name),
      notes: notes.map(({ element, label, values }) => (values === undefined ? { element, label } : { element, label, values })),
    },
  };
}

function indent(code: string | undefined, spaces: number): string {
  if (code === undefined || code.trim() === '') return '';
  const pad = ' '.repeat(spaces);
  return code
    .trim()
    .split('\n')
    .map((l) => (l.trim() === '' ? '' : pad + l))
    .join('\n') + '\n';
}

/**
 * The module's `COUNTERS` (`ModuleCounter` per slot): runs of consecutive counters of one
 * element and drop flag, each written once with its names. No help text: the host has it
 * from the compiled pipeline or the manifest, and images need not carry it.
 */
function renderCounters(counters: readonly CounterInfo[]): string {
  const runs: Array<{ element: string; drop: boolean; names: string[] }> = [];
  for (const c of counters) {
    const last = runs.at(-1);
    if (last !== undefined && last.element === c.element && last.drop === c.drop) last.names.push(c.name);
    else runs.push({ element: c.element, drop: c.drop, names: [c.name] });
  }
  const lines = runs.map((r) => `  ...counterRun(${JSON.stringify(r.element)}, ${r.drop}, ${JSON.stringify(r.names)}),`);
  return `const counterRun = (element, drop, names) => names.map((name) => ({ name, element, drop }));\nexport const COUNTERS = [\n${lines.join('\n')}\n];\n\n`;
}

function renderModule(
  name: string,
  counters: readonly CounterInfo[],
  imports: Map<string, Map<string, string>>,
  constants: readonly string[],
  locals: Map<string, string>,
  codes: ReadonlyArray<{ name: string; code: ElementCode; sideGuard?: number }>,
  stateBytes: number,
  notes: readonly TraceNote[],
): string {
  let out = `// GENERATED by the nfvkit pipeline compiler from function "${name}". Do not edit.\n`;
  for (const [module, names] of [...imports].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const list = [...names].map(([exp, local]) => `${exp} as ${local}`).join(', ');
    out += `import { ${list} } from ${JSON.stringify(module)};\n`;
  }
  out += `\nexport const FUNCTION_NAME = ${JSON.stringify(name)};\n`;
  out += `export const STATE_BYTES = ${stateBytes};\n`;
  out += renderCounters(counters);
  out += constants.join('\n') + (constants.length > 0 ? '\n\n' : '');
  out += `export function createPipeline(rt) {\n`;
  out += `  const counters = rt.counters;\n`;
  out += `  if (!(counters instanceof Float64Array) || counters.length < ${counters.length}) throw new RangeError('pipeline ${name} needs ${counters.length} counters');\n`;
  for (const c of codes) if (c.code.init) out += `  // ── ${c.name}: init\n` + indent(c.code.init, 2);
  out += `\n  function setShard(shard) {\n`;
  for (const c of codes) if (c.code.onShard) out += `    // ── ${c.name}: on shard\n` + indent(c.code.onShard, 4);
  out += `  }\n  if (rt.shard !== undefined) setShard(rt.shard);\n`;
  // Only pipelines whose elements read control words have setControl (others' source is unchanged).
  const controlled = codes.some((c) => c.code.onControl !== undefined);
  if (controlled) {
    out += `\n  function setControl(control) {\n`;
    for (const c of codes) if (c.code.onControl) out += `    // ── ${c.name}: on control\n` + indent(c.code.onControl, 4);
    out += `  }\n  if (rt.control !== undefined) setControl(rt.control);\n`;
  }
  if (stateBytes > 0) {
    // The clock of the last batch sits in the state's header (see STATE_HEADER_BYTES).
    out += `\n  let clock = new Float64Array(1);\n`;
    out += `  function attachState(state, previous, now) {\n`;
    out += `    if (!(state instanceof Uint8Array) || state.byteLength < ${stateBytes}) throw new RangeError('pipeline ${name} needs ${stateBytes} bytes of state');\n`;
    out += `    if (previous !== undefined && (!(previous instanceof Uint8Array) || previous.byteLength < ${stateBytes})) previous = undefined;\n`;
    out += `    const took = { adopted: 0, rejected: 0 };\n`;
    out += `    const shift = previous === undefined ? 0 : now - new Float64Array(previous.buffer, previous.byteOffset, 1)[0];\n`;
    for (const c of codes) if (c.code.onAttach) out += `    // ── ${c.name}: on attach\n` + indent(c.code.onAttach, 4);
    out += `    clock = new Float64Array(state.buffer, state.byteOffset, 1);\n    clock[0] = now;\n    return took;\n  }\n`;
  }
  out += renderBatch(codes, locals, notes, stateBytes, false);
  out += renderBatch(codes, locals, notes, stateBytes, true);
  out += `\n  return { processBatch, processBatchTraced, setShard${controlled ? ', setControl' : ''}${stateBytes > 0 ? ', attachState' : ''} };\n}\n`;
  return out;
}

/** Marks `GenContext.trace` leaves in element code; `renderBatch` replaces them. */
const TRACE_MARK = /\/\*@trace:(\d+)\*\//g;

/**
 * One batch function: `processBatch`, or (`traced`) `processBatchTraced`, the same loop
 * with a `PacketTracer` call before the elements, after each and at the end, and the
 * elements' notes. Two separate functions, so the normal one holds nothing of tracing.
 */
function renderBatch(
  codes: ReadonlyArray<{ name: string; code: ElementCode; sideGuard?: number }>,
  locals: Map<string, string>,
  notes: readonly TraceNote[],
  stateBytes: number,
  traced: boolean,
): string {
  const B = BuiltinCounter;
  let out = `\n  function ${traced ? 'processBatchTraced(batch, now, tr)' : 'processBatch(batch, now)'} {\n`;
  out += `    const view = batch.view;\n    const n = batch.count;\n`;
  if (stateBytes > 0) out += `    clock[0] = now;\n`;
  if (traced) out += `    const ids = batch.ids;\n`;
  out += `    const offsets = batch.offsets, lengths = batch.lengths, sides = batch.sides, verdicts = batch.verdicts, reasons = batch.reasons;\n`;
  out += `    let rxIn = 0, rxOut = 0, rxInBytes = 0, rxOutBytes = 0, txIn = 0, txOut = 0, txInBytes = 0, txOutBytes = 0, dropped = 0;\n`;
  for (const c of codes) if (c.code.perBatch) out += `    // ── ${c.name}: per batch\n` + indent(c.code.perBatch, 4);
  out += `    for (let i = 0; i < n; i++) {\n`;
  out += `      let off = offsets[i];\n      let len = lengths[i];\n      const side = sides[i];\n`;
  out += `      if (side === 0) { rxIn++; rxInBytes += len; } else { rxOut++; rxOutBytes += len; }\n`;
  out += `      let verdict = side ^ 1;\n      let reason = 0;\n`;
  for (const [local, initial] of locals) out += `      let ${local} = ${initial};\n`;
  if (traced) out += `      const tOn = tr.begin(ids[i], side, view, off, len);\n      let tEl = -1;\n`;
  out += `      pkt: {\n`;
  codes.forEach((c, k) => {
    // Notes become hooks in the tracing variant and vanish from the normal one.
    let code = c.code.perPacket.replace(TRACE_MARK, (_, n: string) => (traced ? `if (tOn) tr.note(${k}, ${n}, (${notes[Number(n)].expression}));` : ''));
    if (traced) code = `tEl = ${k};\n${code}\nif (tOn) tr.step(${k}, verdict, reason, view, off, len);`;
    out += `        // ── ${c.name}\n`;
    if (c.sideGuard === undefined) out += indent(code, 8);
    else out += `        if (side === ${c.sideGuard}) {\n` + indent(code, 10) + `        }\n`;
  });
  out += `      }\n`;
  if (traced) out += `      if (tOn) tr.end(tEl, verdict, reason, view, off, len);\n`;
  out += `      offsets[i] = off;\n      lengths[i] = len;\n      verdicts[i] = verdict;\n      reasons[i] = reason;\n`;
  out += `      if (verdict === ${Verdict.DROP}) { dropped++; counters[reason]++; }\n`;
  out += `      else if (verdict === 0) { txIn++; txInBytes += len; } else { txOut++; txOutBytes += len; }\n`;
  out += `    }\n`;
  out += `    counters[${B.RX_INSIDE_PACKETS}] += rxIn; counters[${B.RX_OUTSIDE_PACKETS}] += rxOut;\n`;
  out += `    counters[${B.RX_INSIDE_BYTES}] += rxInBytes; counters[${B.RX_OUTSIDE_BYTES}] += rxOutBytes;\n`;
  out += `    counters[${B.TX_INSIDE_PACKETS}] += txIn; counters[${B.TX_OUTSIDE_PACKETS}] += txOut;\n`;
  out += `    counters[${B.TX_INSIDE_BYTES}] += txInBytes; counters[${B.TX_OUTSIDE_BYTES}] += txOutBytes;\n`;
  out += `    counters[${B.DROPPED_PACKETS}] += dropped;\n`;
  out += `  }\n`;
  return out;
}
