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
  { name: 'non_vip_dropped', drop: true, help: 'IPv4 or IPv6 packet not for a VIP nor a tracked reply (nonVipTraffic: drop; neighbour discovery passes)' },
  { name: 'ipv6_fragment', drop: true, help: 'IPv6 TCP/UDP fragment: not balanced (no reassembly), as the parser drops IPv4 fragments' },
  { name: 'new_flows', drop: false, help: 'connections balanced to a backend' },
  { name: 'to_backend_packets', drop: false, help: 'client packets translated to a backend (DNAT)' },
  { name: 'to_client_packets', drop: false, help: 'backend replies translated back to the VIP' },
  { name: 'non_vip_forwarded', drop: false, help: 'packets forwarded unchanged (not VIP traffic; ARP; IPv6 neighbour discovery)' },
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
 * Per packet (TCP/UDP over IPv4 or IPv6: one body, the family's lookups, hash and
 * rewrites chosen per packet):
 * - from a client, to a VIP: conntrack lookup. A tracked flow goes to the backend in its
 *   entry's user slot 0; a new one (TCP: SYN only) to `maglev[service][flowHash mod M]`
 *   (`flowHash6` over the 128-bit addresses for IPv6), with an entry whose reply tuple is
 *   backend → client. Destination rewritten to the backend's address:port (RFC 1624
 *   checksum updates: the IPv4 header and TCP/UDP checksums, or the TCP/UDP checksum whose
 *   IPv6 pseudo-header covers the address), sent to the server side. A service's backends
 *   have its VIP's family, so a flow never crosses families.
 * - from a server: a reply-direction conntrack hit gets its source rewritten back to the
 *   VIP:port and goes to the client side; a packet from a backend endpoint without a
 *   connection is dropped (`reply_no_connection`), so backend addresses never leak.
 * - IPv6 TCP/UDP fragments are dropped (`ipv6_fragment`: no reassembly; IPv4 fragments
 *   never get here, the parser drops them). An IPv6 packet whose routing header still has
 *   segments left is not for the VIP it passes (its final destination is another).
 * - anything else (other IP traffic of either family, ICMP and ICMPv6 errors included) is
 *   forwarded unchanged or dropped (`nonVipDrop`); ARP and IPv6 neighbour discovery are
 *   always forwarded.
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
      const natDst = ctx.importName('#nfvkit/packet/rewrite.ts', 'natRewriteDst');
      const natSrc = ctx.importName('#nfvkit/packet/rewrite.ts', 'natRewriteSrc');
      const natDst6 = ctx.importName('#nfvkit/packet/nat-rewrite-ipv6.ts', 'natRewriteIpv6Dst');
      const natSrc6 = ctx.importName('#nfvkit/packet/nat-rewrite-ipv6.ts', 'natRewriteIpv6Src');
      const Key6 = ctx.importName('#nfvkit/packet/flow-key-ipv6.ts', 'FlowKey6');
      const flowHash6 = ctx.importName('#nfvkit/packet/flow-key-ipv6.ts', 'flowHash6');
      const Chain = ctx.importName('#nfvkit/packet/ipv6-extension-headers.ts', 'Ipv6HeaderChain');
      const walk = ctx.importName('#nfvkit/packet/ipv6-extension-headers.ts', 'walkIpv6ExtensionHeaders');
      // The families the services use. The code handles those only: with no IPv6 service,
      // every IPv6 packet is non-VIP traffic (and the table keeps IPv4 records only); with
      // no IPv4 service, every IPv4 packet is.
      const ipv6 = p.services.some((s) => s.family === 6);
      const ipv4 = p.services.some((s) => s.family !== 6);
      const plan = ctx.constant(p);
      const ctBase = ctx.counterIndex(`conntrack_${CT_COUNTER_NAMES[0]}`);
      const perBackend = ctx.counterIndex(backendCounterName(0));
      const connections = ctx.counterIndex(backendConnectionsCounterName(0));
      const client = p.clientSide;
      const server = client ^ 1;
      const M = p.tableSize;
      const v = (name: string) => `${id}${name}`;

      const init = [
        `const ${v('ct')} = new ${CT}({ capacity: ${plan}.conntrack.capacity, timeouts: ${plan}.conntrack.timeouts, whenFull: ${plan}.conntrack.whenFull, counters: counters.subarray(${ctBase}, ${ctBase + CT_COUNTER_COUNT}), userTally: counters.subarray(${connections}, ${connections + p.backends.length}), ipv6: ${ipv6} });`,
        `const ${v('set')} = new ${BS}(${plan});`,
        `const ${v('addr')} = ${v('set')}.address, ${v('a6')} = ${v('set')}.address6, ${v('v6a')} = ${v('set')}.vip6, ${v('port')} = ${v('set')}.port, ${v('state')} = ${v('set')}.state;`,
        ipv6
          ? `const ${v('k6')} = new ${Key6}(), ${v('r6')} = new ${Key6}();\n` +
            // The packet's IPv6 5-tuple (TCP/UDP), read as the IPv4 path reads its addresses: defined once, not per variant.
            `function ${v('key6')}(view, l3, l4, p) { const k = ${v('k6')}; k.s0 = view.getInt32(l3 + 8); k.s1 = view.getInt32(l3 + 12); k.s2 = view.getInt32(l3 + 16); k.s3 = view.getInt32(l3 + 20); ` +
            `k.d0 = view.getInt32(l3 + 24); k.d1 = view.getInt32(l3 + 28); k.d2 = view.getInt32(l3 + 32); k.d3 = view.getInt32(l3 + 36); k.srcPort = view.getUint16(l4); k.dstPort = view.getUint16(l4 + 2); k.proto = p; }\n` +
            // A routing header with segments left names another final destination: the packet only passes the VIP.
            `const ${v('chain')} = new ${Chain}();\n` +
            `function ${v('routed')}(view, l3, L) { return ${walk}(view, l3, l3 + L.ipTotalLength, ${v('chain')}) === 0 && ${v('chain')}.finalDestination !== l3 + 24; }`
          : '',
        `const ${v('maglev')} = ${v('set')}.maglev, ${v('vips')} = ${v('set')}.vips, ${v('servers')} = ${v('set')}.servers;`,
      ].join('\n');

      const perBatch = [
        `if (${v('set')}.poll()) ${ctx.count('control_changes')}`,
        `${v('ct')}.expire(now, ${EXPIRE_SCAN_PER_BATCH});`,
      ].join('\n');

      const backendNames = p.backends.map((_, b) => backendLabel(p, b));
      const k6 = v('k6');
      // Family-specific steps of the one body both families share (v6: the packet is IPv6),
      // chosen per packet only when the services use both families.
      const fam = (six: string, four: string) => (ipv4 && ipv6 ? `(${v('v6')} ? ${six} : ${four})` : ipv6 ? six : four);
      const when6 = (code: string) => (ipv6 ? (ipv4 ? `if (${v('v6')}) ${code}` : code) : '');
      const when4 = (code: string) => (ipv4 ? (ipv6 ? `else ${code}` : code) : '');
      const ethertypes = [...(ipv4 ? ['L.ethertype === 2048'] : []), ...(ipv6 ? ['L.ethertype === 34525'] : [])].join(' || ');
      const lookup = fam(`${v('ct')}.lookup6(${k6}, now)`, `${v('ct')}.lookup(${v('p')}, ${v('src')}, ${v('dst')}, ${v('sp')}, ${v('dp')}, now)`);
      const b = v('b');

      const perPacket = `
if ((${ethertypes}) && (L.ipProto === 6 || L.ipProto === 17)) {
  ${ipv4 && ipv6 ? `const ${v('v6')} = L.ethertype === 34525;` : ''}
  // IPv6 fragments are not balanced (no reassembly), as the parser drops IPv4 ones.
  ${when6(`if (L.isFragment) ${ctx.drop('ipv6_fragment')}`)}
  const ${v('l3')} = L.l3Offset, ${v('l4')} = L.l4Offset, ${v('p')} = L.ipProto;
  ${ipv4 ? `let ${v('src')} = 0, ${v('dst')} = 0;` : ''}
  ${when6(`${v('key6')}(view, ${v('l3')}, ${v('l4')}, ${v('p')});`)}
  ${when4(`{ ${v('src')} = view.getInt32(${v('l3')} + 12); ${v('dst')} = view.getInt32(${v('l3')} + 16); }`)}
  const ${v('sp')} = view.getUint16(${v('l4')}), ${v('dp')} = view.getUint16(${v('l4')} + 2);
  const ${v('fl')} = ${v('p')} === 6 ? view.getUint8(${v('l4')} + 13) : 0;
  // A TCP segment that may open a connection: SYN without ACK, FIN or RST.
  const ${v('syn')} = (${v('fl')} & ${TCP_OPEN_MASK}) === ${TcpFlag.SYN};
  // A tracked connection: from a client to a VIP in its original direction (validation
  // keeps backend endpoints apart from VIPs), from a server in its reply direction.
  let ${v('s')} = -1, ${v('ref')} = -1, ${b} = -1;
  if (side === ${client}) {
    ${v('s')} = ${fam(`(L.ipHeaderLength > 40 && ${v('routed')}(view, ${v('l3')}, L) ? -1 : ${v('vips')}.find6(${v('p')}, ${k6}.d0, ${k6}.d1, ${k6}.d2, ${k6}.d3, ${v('dp')}))`, `${v('vips')}.find(${v('p')}, ${v('dst')}, ${v('dp')})`)};
    if (${v('s')} >= 0) ${v('ref')} = ${lookup};
  } else if (((${v('ref')} = ${lookup}) & 1) === 0) ${v('ref')} = -1;
  if (${v('ref')} >= 0) {
    const ${v('e')} = ${v('ref')} >>> 1;
    ${b} = ${v('ct')}.user(${v('e')}, 0);
    if (${v('state')}[${b}] === ${BackendState.REMOVED}) { ${v('ct')}.delete(${v('e')}); ${ctx.drop('backend_removed')} }
    if (${v('s')} >= 0 && ${v('syn')} && (${v('ct')}.state(${v('e')}) === ${CtState.TCP_TIME_WAIT} || ${v('ct')}.state(${v('e')}) === ${CtState.TCP_CLOSE})) {
      // A SYN reusing the tuple of a closed connection: balanced afresh.
      ${v('ct')}.delete(${v('e')});
      ${b} = -1;
    } else if (${v('ct')}.update(${v('e')}, ${v('ref')} & 1, ${v('fl')}, now) < 0) ${ctx.drop('ct_invalid')}
    else if (side !== ${client}) {
      // A reply: the VIP:port (the original tuple's destination) back as its source.
      const ${v('vp')} = ${v('ct')}.dstPort(${v('e')}, 0);
      ${when6(`${natSrc6}(view, ${v('l3')}, ${v('l4')}, ${v('p')}, ${v('v6a')}, ${b} << 2, ${v('vp')});`)}
      ${when4(`${natSrc}(view, ${v('l3')}, ${v('l4')}, ${v('p')}, ${v('ct')}.dstIp(${v('e')}, 0) | 0, ${v('vp')});`)}
      verdict = ${client};
      ${ctx.count('to_client_packets')}
      ${ctx.finish()}
    } else {
      ${ctx.trace('connection', '0', CONNECTION_NOTES)}
    }
  }
  if (${v('s')} >= 0) {
    if (${b} < 0) {
      if (${v('p')} === 6 && !${v('syn')}) ${ctx.drop('tcp_no_connection')}
      // The service's table holds backends of its family only.
      ${b} = ${v('maglev')}[${v('s')} * ${M} + (${fam(`${flowHash6}(${k6}, ${p.hashSeed})`, `${flowHash}(${v('src')}, ${v('dst')}, ${v('sp')}, ${v('dp')}, ${v('p')}, ${p.hashSeed})`)} % ${M})];
      if (${b} < 0) ${ctx.drop('no_backend')}
      let ${v('ne')} = -1;
      ${when6(`{ ${v('set')}.replyKey6(${b}, ${k6}, ${v('r6')}); ${v('ne')} = ${v('ct')}.create6(${k6}, ${v('r6')}, now); }`)}
      ${when4(`${v('ne')} = ${v('ct')}.create(${v('p')}, ${v('src')}, ${v('dst')}, ${v('sp')}, ${v('dp')}, ${v('addr')}[${b}] | 0, ${v('src')}, ${v('port')}[${b}], ${v('sp')}, now);`)}
      if (${v('ne')} < 0) {
        if (${v('ne')} === ${CT_CLASH}) ${ctx.drop('ct_clash')}
        ${ctx.drop('ct_table_full')}
      }
      ${v('ct')}.setUser(${v('ne')}, 0, ${b});
      ${v('ct')}.update(${v('ne')}, 0, ${v('fl')}, now);
      counters[${perBackend} + ${b}] += 1;
      ${ctx.count('new_flows')}
      ${ctx.trace('connection', '1', CONNECTION_NOTES)}
    }
    ${ctx.trace('backend', b, backendNames)}
    ${when6(`${natDst6}(view, ${v('l3')}, ${v('l4')}, ${v('p')}, ${v('a6')}, ${b} << 2, ${v('port')}[${b}]);`)}
    ${when4(`${natDst}(view, ${v('l3')}, ${v('l4')}, ${v('p')}, ${v('addr')}[${b}] | 0, ${v('port')}[${b}]);`)}
    verdict = ${server};
    ${ctx.count('to_backend_packets')}
    ${ctx.finish()}
  }
  if (side !== ${client} && ${fam(`${v('servers')}.find6(${v('p')}, ${k6}.s0, ${k6}.s1, ${k6}.s2, ${k6}.s3, ${v('sp')})`, `${v('servers')}.find(${v('p')}, ${v('src')}, ${v('sp')})`)} >= 0) ${ctx.drop('reply_no_connection')}
}
${
  p.nonVipDrop
    ? `// Neighbour discovery is IPv6's ARP: it passes whatever the policy.
if (L.ethertype === 34525 && L.ipProto === 58 && L.l4Offset >= 0) { const ${v('t')} = view.getUint8(L.l4Offset); if (${v('t')} >= 133 && ${v('t')} <= 137) { ${ctx.count('non_vip_forwarded')} ${ctx.finish()} } }
if (L.ethertype === 2048 || L.ethertype === 34525) ${ctx.drop('non_vip_dropped')}
`
    : ''
}${ctx.count('non_vip_forwarded')}
${ctx.finish()}`;
      // Connections (with their backend) live in the host's memory: a successor of a failed
      // instance takes them over, refusing any that names no backend of this plan.
      const bytes = ConntrackTable.recordBytes(p.conntrack.capacity, ipv6);
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
