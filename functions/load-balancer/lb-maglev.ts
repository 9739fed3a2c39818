import { CT_COUNTER_COUNT, CT_COUNTER_NAMES } from '../../src/conntrack/conntrack-counters.ts';
import { CtState, TcpFlag } from '../../src/conntrack/conntrack-state.ts';
import { CT_CLASH, ConntrackTable } from '../../src/conntrack/conntrack-table.ts';
import { MIDDLEBOX_PORTS, type CounterSpec, type ElementDefinition } from '../../src/pipeline/element.ts';
import { BackendState } from './backend-state.ts';
import { backendLabel, lbPlanSchema, type LbPlan } from './service-plan.ts';

/** TCP flags that decide whether a segment opens a connection (as `tcpOpensConnection`). */
const TCP_OPEN_MASK = TcpFlag.SYN | TcpFlag.ACK | TcpFlag.FIN | TcpFlag.RST;
/** Conntrack entries examined for expiry per batch (bounded work; lookups also reap). */
const EXPIRE_SCAN_PER_BATCH = 64;

/** Values of the `connection` trace note: a tracked connection, or one balanced now. */
const CONNECTION_NOTES = ['tracked', 'new, balanced by Maglev'];

/** Counters every `lb-maglev` element has, before the per-backend ones. */
export const LB_COUNTERS: readonly CounterSpec[] = [
  { name: 'no_backend', drop: true, help: 'new flow to a VIP whose backends are all draining or removed' },
  { name: 'ct_table_full', drop: true, help: 'new flow refused: conntrack table full' },
  { name: 'ct_clash', drop: true, help: 'new flow refused: its reply tuple is already tracked (same client port to one backend via two VIPs)' },
  { name: 'ct_invalid', drop: true, help: 'packet does not fit its TCP connection state' },
  { name: 'tcp_no_connection', drop: true, help: 'TCP segment to a VIP that is not a SYN and has no connection' },
  { name: 'backend_removed', drop: true, help: 'packet of a connection whose backend was removed' },
  { name: 'reply_no_connection', drop: true, help: 'packet from a backend endpoint without a tracked connection' },
  { name: 'non_vip_dropped', drop: true, help: 'IPv4 packet not for a VIP nor a tracked reply (nonVipTraffic: drop)' },
  { name: 'ipv6_not_supported', drop: true, help: 'IPv6 frames: VIPs are IPv4 only for now (dropped, never forwarded unbalanced)' },
  { name: 'new_flows', drop: false, help: 'connections balanced to a backend' },
  { name: 'to_backend_packets', drop: false, help: 'client packets translated to a backend (DNAT)' },
  { name: 'to_client_packets', drop: false, help: 'backend replies translated back to the VIP' },
  { name: 'non_vip_forwarded', drop: false, help: 'packets forwarded unchanged (not VIP traffic; ARP)' },
  { name: 'control_changes', drop: false, help: 'backend state changes applied from the control array' },
  ...CT_COUNTER_NAMES.map((n) => ({ name: `conntrack_${n}`, drop: false, help: `conntrack: ${n.replace(/_/g, ' ')}` })),
];

/**
 * Name of the new-flows counter of global backend `b`.
 *
 * @example
 * ```ts
 * counters[compiled.counters.findIndex((c) => c.name === backendCounterName(2))];
 * ```
 */
export function backendCounterName(b: number): string {
  return `new_flows_backend_${b}`;
}

/**
 * Name of the counter holding global backend `b`'s live connections in one instance (a
 * gauge: conntrack entries whose backend is `b`, counted as they come and go).
 *
 * @example
 * ```ts
 * counters[compiled.counters.findIndex((c) => c.name === backendConnectionsCounterName(2))];
 * ```
 */
export function backendConnectionsCounterName(b: number): string {
  return `connections_backend_${b}`;
}

/**
 * `lb-maglev`: the load balancer's stage, for one {@link LbPlan} (its config). Needs
 * `parse-frame` before it. Clients are on `plan.clientSide`, servers on the other side.
 *
 * Per packet (TCP/UDP over IPv4):
 * - from a client, to a VIP: conntrack lookup. A tracked flow goes to the backend in its
 *   entry's user slot 0; a new one (TCP: SYN only) to `maglev[service][flowHash mod M]`,
 *   with an entry whose reply tuple is backend → client. Destination rewritten to the
 *   backend's address:port (RFC 1624 checksum updates), sent to the server side.
 * - from a server: a reply-direction conntrack hit gets its source rewritten back to the
 *   VIP:port and goes to the client side; a packet from a backend endpoint without a
 *   connection is dropped (`reply_no_connection`), so backend addresses never leak.
 * - anything else (other IPv4 traffic) is forwarded unchanged or dropped (`nonVipDrop`);
 *   non-IPv4 frames (ARP) are always forwarded.
 *
 * A connection whose backend is REMOVED (runtime control) is deleted and its packet
 * dropped; a TCP SYN reusing the tuple of a closed (TIME_WAIT/CLOSE) connection is
 * balanced afresh. Counters: see {@link LB_COUNTERS}, plus `new_flows_backend_<b>` per
 * backend.
 *
 * The element is made per plan because its per-backend counters depend on it.
 *
 * @example
 * ```ts
 * const plan = planLoadBalancer(cfg);
 * elements: () => [use(parseFrameElement, {}), use(createLbMaglevElement(plan), plan)]
 * ```
 */
export function createLbMaglevElement(plan: LbPlan): ElementDefinition<LbPlan> {
  const counters: CounterSpec[] = [...LB_COUNTERS];
  for (let b = 0; b < plan.backends.length; b++) {
    counters.push({ name: backendCounterName(b), drop: false, help: `new flows sent to backend ${backendLabel(plan, b)}` });
  }
  for (let b = 0; b < plan.backends.length; b++) {
    counters.push({ name: backendConnectionsCounterName(b), drop: false, help: `live connections to backend ${backendLabel(plan, b)} (a gauge)` });
  }
  return {
    kind: 'lb-maglev',
    description: 'Balances VIP connections over weighted backends by Maglev hashing, with conntrack affinity, DNAT and reverse translation.',
    ports: MIDDLEBOX_PORTS,
    config: lbPlanSchema,
    counters,
    generate(p, ctx) {
      const id = ctx.id;
      const CT = ctx.importName('#nfvkit/conntrack/conntrack-table.ts', 'ConntrackTable');
      const BS = ctx.importName('#functions/load-balancer/backend-set.ts', 'BackendSet');
      const flowHash = ctx.importName('#nfvkit/packet/flow-key.ts', 'flowHash');
      const rwDst = ctx.importName('#nfvkit/packet/rewrite.ts', 'rewriteIpv4Dst');
      const natDst = ctx.importName('#nfvkit/packet/rewrite.ts', 'natRewriteDst');
      const rwSrc = ctx.importName('#nfvkit/packet/rewrite.ts', 'rewriteIpv4Src');
      const natSrc = ctx.importName('#nfvkit/packet/rewrite.ts', 'natRewriteSrc');
      const plan = ctx.constant(p);
      const ctBase = ctx.counterIndex(`conntrack_${CT_COUNTER_NAMES[0]}`);
      const perBackend = ctx.counterIndex(backendCounterName(0));
      const connections = ctx.counterIndex(backendConnectionsCounterName(0));
      const client = p.clientSide;
      const server = client ^ 1;
      const M = p.tableSize;
      const v = (name: string) => `${id}${name}`;

      const init = [
        `const ${v('ct')} = new ${CT}({ capacity: ${plan}.conntrack.capacity, timeouts: ${plan}.conntrack.timeouts, whenFull: ${plan}.conntrack.whenFull, counters: counters.subarray(${ctBase}, ${ctBase + CT_COUNTER_COUNT}), userTally: counters.subarray(${connections}, ${connections + p.backends.length}) });`,
        `const ${v('set')} = new ${BS}(${plan});`,
        `const ${v('addr')} = ${v('set')}.address, ${v('port')} = ${v('set')}.port, ${v('state')} = ${v('set')}.state;`,
        `const ${v('maglev')} = ${v('set')}.maglev, ${v('vips')} = ${v('set')}.vips, ${v('servers')} = ${v('set')}.servers;`,
      ].join('\n');

      const perBatch = [
        `if (${v('set')}.poll()) ${ctx.count('control_changes')}`,
        `${v('ct')}.expire(now, ${EXPIRE_SCAN_PER_BATCH});`,
      ].join('\n');

      const backendNames = p.backends.map((_, b) => backendLabel(p, b));
      const dnat = (b: string) =>
        `${ctx.trace('backend', b, backendNames)}\n` +
        `if (${v('port')}[${b}] !== ${v('dp')}) ${natDst}(view, ${v('l3')}, ${v('l4')}, ${v('p')}, ${v('addr')}[${b}], ${v('port')}[${b}]);\n` +
        `else ${rwDst}(view, ${v('l3')}, ${v('l4')}, ${v('p')}, ${v('addr')}[${b}]);\n` +
        `verdict = ${server};\n${ctx.count('to_backend_packets')}\n${ctx.finish()}`;

      const perPacket = `
if (L.ethertype === 2048 && (L.ipProto === 6 || L.ipProto === 17)) {
  const ${v('l3')} = L.l3Offset, ${v('l4')} = L.l4Offset, ${v('p')} = L.ipProto;
  const ${v('src')} = view.getUint32(${v('l3')} + 12), ${v('dst')} = view.getUint32(${v('l3')} + 16);
  const ${v('sp')} = view.getUint16(${v('l4')}), ${v('dp')} = view.getUint16(${v('l4')} + 2);
  const ${v('fl')} = ${v('p')} === 6 ? view.getUint8(${v('l4')} + 13) : 0;
  // A TCP segment that may open a connection: SYN without ACK, FIN or RST.
  const ${v('syn')} = (${v('fl')} & ${TCP_OPEN_MASK}) === ${TcpFlag.SYN};
  if (side === ${client}) {
    const ${v('s')} = ${v('vips')}.find(${v('p')}, ${v('dst')}, ${v('dp')});
    if (${v('s')} >= 0) {
      const ${v('ref')} = ${v('ct')}.lookup(${v('p')}, ${v('src')}, ${v('dst')}, ${v('sp')}, ${v('dp')}, now);
      if (${v('ref')} >= 0) {
        // Original direction (validation keeps backend endpoints apart from VIPs).
        const ${v('e')} = ${v('ref')} >>> 1;
        const ${v('b')} = ${v('ct')}.user(${v('e')}, 0);
        if (${v('state')}[${v('b')}] === ${BackendState.REMOVED}) { ${v('ct')}.delete(${v('e')}); ${ctx.drop('backend_removed')} }
        if (${v('syn')} && (${v('ct')}.state(${v('e')}) === ${CtState.TCP_TIME_WAIT} || ${v('ct')}.state(${v('e')}) === ${CtState.TCP_CLOSE})) {
          ${v('ct')}.delete(${v('e')});
        } else {
          if (${v('ct')}.update(${v('e')}, 0, ${v('fl')}, now) < 0) ${ctx.drop('ct_invalid')}
          ${ctx.trace('connection', '0', CONNECTION_NOTES)}
          ${dnat(v('b')).replace(/\n/g, '\n          ')}
        }
      }
      if (${v('p')} === 6 && !${v('syn')}) ${ctx.drop('tcp_no_connection')}
      const ${v('nb')} = ${v('maglev')}[${v('s')} * ${M} + (${flowHash}(${v('src')}, ${v('dst')}, ${v('sp')}, ${v('dp')}, ${v('p')}, ${p.hashSeed}) % ${M})];
      if (${v('nb')} < 0) ${ctx.drop('no_backend')}
      const ${v('ne')} = ${v('ct')}.create(${v('p')}, ${v('src')}, ${v('dst')}, ${v('sp')}, ${v('dp')}, ${v('addr')}[${v('nb')}], ${v('src')}, ${v('port')}[${v('nb')}], ${v('sp')}, now);
      if (${v('ne')} < 0) {
        if (${v('ne')} === ${CT_CLASH}) ${ctx.drop('ct_clash')}
        ${ctx.drop('ct_table_full')}
      }
      ${v('ct')}.setUser(${v('ne')}, 0, ${v('nb')});
      ${v('ct')}.update(${v('ne')}, 0, ${v('fl')}, now);
      counters[${perBackend} + ${v('nb')}] += 1;
      ${ctx.count('new_flows')}
      ${ctx.trace('connection', '1', CONNECTION_NOTES)}
      ${dnat(v('nb')).replace(/\n/g, '\n      ')}
    }
  } else {
    const ${v('ref')} = ${v('ct')}.lookup(${v('p')}, ${v('src')}, ${v('dst')}, ${v('sp')}, ${v('dp')}, now);
    if (${v('ref')} >= 0 && (${v('ref')} & 1) === 1) {
      const ${v('e')} = ${v('ref')} >>> 1;
      if (${v('state')}[${v('ct')}.user(${v('e')}, 0)] === ${BackendState.REMOVED}) { ${v('ct')}.delete(${v('e')}); ${ctx.drop('backend_removed')} }
      if (${v('ct')}.update(${v('e')}, 1, ${v('fl')}, now) < 0) ${ctx.drop('ct_invalid')}
      const ${v('vp')} = ${v('ct')}.dstPort(${v('e')}, 0);
      if (${v('vp')} !== ${v('sp')}) ${natSrc}(view, ${v('l3')}, ${v('l4')}, ${v('p')}, ${v('ct')}.dstIp(${v('e')}, 0), ${v('vp')});
      else ${rwSrc}(view, ${v('l3')}, ${v('l4')}, ${v('p')}, ${v('ct')}.dstIp(${v('e')}, 0));
      verdict = ${client};
      ${ctx.count('to_client_packets')}
      ${ctx.finish()}
    }
    if (${v('servers')}.find(${v('p')}, ${v('src')}, ${v('sp')}) >= 0) ${ctx.drop('reply_no_connection')}
  }
}
if (L.ethertype === 34525) ${ctx.drop('ipv6_not_supported')}
${p.nonVipDrop ? `if (L.ethertype === 2048) ${ctx.drop('non_vip_dropped')}\n` : ''}${ctx.count('non_vip_forwarded')}
${ctx.finish()}`;
      // Connections (with their backend) live in the host's memory: a successor of a failed
      // instance takes them over, refusing any that names no backend of this plan.
      const bytes = ConntrackTable.recordBytes(p.conntrack.capacity);
      const at = ctx.stateRegion(bytes);
      const onAttach =
        `{ const t = ${v('ct')}.attach(state.subarray(${at}, ${at + bytes}), previous?.subarray(${at}, ${at + bytes}), shift, now, ${p.backends.length});\n` +
        `  took.adopted += t.adopted; took.rejected += t.rejected; }`;
      // Control words may come after creation (a pipeline built ahead): the arrays above stay the same objects.
      const onControl = `${v('set')}.attachControl(control);`;
      return { init, onControl, perBatch, perPacket, onAttach };
    },
  };
}
