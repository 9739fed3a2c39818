import { z } from 'zod';
import { DROP_REASON_NAMES } from '../../packet/drop-reason.ts';
import { ParseFlag } from '../../packet/parse-frame.ts';
import { MIDDLEBOX_PORTS, type CounterSpec, type ElementDefinition } from '../element.ts';

/** Configuration of the `parse-frame` element. */
export interface ParseFrameConfig {
  /** Verify TCP/UDP/ICMP/ICMPv6 checksums too (a full pass over each segment). Default false. */
  verifyL4Checksum?: boolean;
  /** Drop IPv4 protocols other than TCP, UDP and ICMP, and IPv6 upper layers other than TCP, UDP and ICMPv6. Default false. */
  dropUnsupportedProtocols?: boolean;
}

const DROP_COUNTERS: CounterSpec[] = DROP_REASON_NAMES.slice(1).map((name) => ({
  name,
  drop: true,
  help: `frame dropped by the parser: ${name.replace(/_/g, ' ')}`,
}));

/**
 * `parse-frame`: the first stage of nearly every pipeline. Validates the frame with
 * `parseFrame` into the shared layout `L` (offsets of the L3/L4 headers, protocol, …) and
 * drops malformed frames, counting each under its drop reason (`ipv4_bad_checksum`, …).
 * IPv4, IPv6 and ARP frames pass (`L.ethertype` says which): an element that handles IPv4
 * only must check `L.ethertype === 0x0800` and drop IPv6 with a reason of its own.
 *
 * @example
 * ```ts
 * elements: () => [use(parseFrameElement, { verifyL4Checksum: false }), use(firewallAcl, cfg)]
 * ```
 */
export const parseFrameElement: ElementDefinition<ParseFrameConfig> = {
  kind: 'parse-frame',
  description: 'Validates each frame and records where its headers are; malformed frames are dropped with a reason.',
  ports: MIDDLEBOX_PORTS,
  config: z
    .object({
      verifyL4Checksum: z.boolean().optional(),
      dropUnsupportedProtocols: z.boolean().optional(),
    })
    .strict(),
  counters: DROP_COUNTERS,
  generate(config, ctx) {
    const parse = ctx.importName('#nfvkit/packet/parse-frame.ts', 'parseFrame');
    const Layout = ctx.importName('#nfvkit/packet/frame-layout.ts', 'FrameLayout');
    const flags =
      (config.verifyL4Checksum === true ? ParseFlag.VERIFY_L4_CHECKSUM : 0) |
      (config.dropUnsupportedProtocols === true ? ParseFlag.DROP_UNSUPPORTED_PROTOCOLS : 0);
    const first = ctx.counterIndex(DROP_COUNTERS[0].name);
    return {
      init: `const L = new ${Layout}();`,
      perPacket:
        `const ${ctx.id}r = ${parse}(view, off, len, L, ${flags});\n` +
        `if (${ctx.id}r !== 0) ${ctx.dropIndex(`${first - 1} + ${ctx.id}r`)}`,
    };
  },
};
