import { MIDDLEBOX_PORTS, type ElementDefinition } from '../../src/pipeline/element.ts';
import { NAT_COUNTERS } from './nat-counters.ts';
import { NatEngine } from './nat-engine.ts';
import { natPlanSchema, type NatPlan } from './nat-plan.ts';

/**
 * `nat`: source NAT with endpoint-independent mapping, port forwards, ICMP echo and ICMP
 * error translation, hairpinning. Runs after `parse-frame`. Its configuration is the
 * {@link NatPlan} (`planNat(config)`), baked into the image as a constant from which the
 * instance's `NatEngine` builds its tables at start-up. Per batch it expires idle mappings
 * (bounded work); per packet it calls the engine for the arrival side and either sets the
 * verdict or drops with the reason the engine names.
 *
 * @example
 * ```ts
 * elements: (cfg) => [use(parseFrameElement, {}), use(natElement, planNat(cfg))]
 * ```
 */
export const natElement: ElementDefinition<NatPlan> = {
  kind: 'nat',
  description: 'Translates addresses and ports between the inside and the outside (SNAT with endpoint-independent mapping, port forwards, ICMP).',
  ports: MIDDLEBOX_PORTS,
  config: natPlanSchema,
  counters: NAT_COUNTERS,
  generate(plan, ctx) {
    const Engine = ctx.importName('#functions/nat/nat-engine.ts', 'NatEngine');
    const base = ctx.counterIndex(NAT_COUNTERS[0].name);
    const nat = `${ctx.id}nat`;
    const r = `${ctx.id}r`;
    // Mappings live in the host's memory: a successor of a failed instance takes them over.
    const bytes = NatEngine.stateBytes(plan);
    const at = ctx.stateRegion(bytes);
    return {
      init: `const ${nat} = new ${Engine}(${ctx.constant(plan)}, counters, ${base});`,
      onShard: `${nat}.setShard(shard);`,
      onAttach:
        `{ const t = ${nat}.attach(state.subarray(${at}, ${at + bytes}), previous?.subarray(${at}, ${at + bytes}), shift, now);\n` +
        `  took.adopted += t.adopted; took.rejected += t.rejected; }`,
      perBatch: `${nat}.expire(now);`,
      perPacket:
        `const ${r} = side === 0 ? ${nat}.outbound(view, L, now) : ${nat}.inbound(view, L, now);\n` +
        `if (${r} > 1) ${ctx.dropIndex(`${base - 2} + ${r}`)}\n` +
        `verdict = ${r};\n` +
        // NAT64 changed the IP header's size: the frame moved its start (and maybe its end).
        `if (${nat}.resized) { off = ${nat}.frameStart; len = ${nat}.frameLength; ${nat}.resized = false; }`,
    };
  },
};
