/**
 * Capture and trace filters: a small, BPF-like language over a frame's 5-tuple and TCP
 * flags, compiled once into a predicate over a `FrameTuple` (closures built at compile
 * time; evaluating allocates nothing). The grammar (docs/capture.md):
 *
 * ```
 * filter    = [ or ]
 * or        = and { ("or" | "||") and }
 * and       = not { ("and" | "&&") not }
 * not       = ("not" | "!") not | "(" or ")" | primitive
 * primitive = "ip" | "ip6" | "icmp" | "icmp6"
 *           | ("tcp" | "udp") [ [dir] ("port" PORT | "portrange" PORT "-" PORT) ]
 *           | "proto" (NUMBER | "tcp" | "udp" | "icmp" | "icmp6")
 *           | [dir] "host" ADDRESS             (IPv4 or IPv6)
 *           | [dir] "net" ADDRESS "/" LENGTH   (0..32 or 0..128)
 *           | [dir] "port" PORT
 *           | [dir] "portrange" PORT "-" PORT
 *           | "syn" | "ack" | "fin" | "rst"
 * dir       = "src" | "dst"            (without one: either)
 * ```
 *
 * `tcp port 80` is `tcp and port 80`; `port` matches TCP and UDP only; a flag keyword
 * matches TCP segments with that flag set (`syn and not ack`: the first of a handshake).
 * `tcp`, `udp`, `proto`, ports and flags match both families (IPv6: the upper-layer
 * protocol after the extension headers); `ip`/`icmp` are IPv4's, `ip6`/`icmp6` IPv6's; an
 * address matches frames of its own family. Frames of neither family match only `not …`
 * forms. A filter that does not parse throws
 * `FilterSyntaxError` with the column and what was expected there.
 *
 * @example
 * ```ts
 * const f = compileFilter('tcp and host 198.18.0.5 and port 80');
 * const g = compileFilter('ip6 and src net 2001:db8:1::/64');
 * if (readFrameTuple(view, off, len, tuple) && f.matches(tuple)) copy();
 * ```
 */
import { FilterSyntaxError } from '../errors/catalog.ts';
import { ipv6HasHostBits, parseIpv6, type Ipv6Address } from '../packet/ipv6-address.ts';
import type { FrameTuple } from './frame-tuple.ts';

/** Longest filter text accepted, characters. */
export const MAX_FILTER_LENGTH = 1024;
/** Deepest nesting of `not` and parentheses accepted. */
const MAX_DEPTH = 64;

/** A compiled filter. */
export interface PacketFilter {
  /** The text it was compiled from ('' matches every frame). */
  readonly source: string;
  /** True when the frame whose fields `t` holds passes. */
  readonly matches: (t: FrameTuple) => boolean;
}

type Predicate = (t: FrameTuple) => boolean;

interface Token {
  /** `word`, `number` (digits and dots), `address6` (hex digits, colons and dots with at least one colon), or the punctuation itself. */
  readonly kind: 'word' | 'number' | 'address6' | '(' | ')' | '!' | '&&' | '||' | '/' | '-' | 'end';
  readonly text: string;
  /** 1-based column. */
  readonly column: number;
}

const ALL: Predicate = () => true;

/** Compiles `text`; throws `FilterSyntaxError` (column, expectation) when it does not parse. */
export function compileFilter(text: string): PacketFilter {
  if (text.length > MAX_FILTER_LENGTH) throw new FilterSyntaxError(`filter: longer than ${MAX_FILTER_LENGTH} characters`, MAX_FILTER_LENGTH + 1);
  const tokens = tokenize(text);
  if (tokens[0].kind === 'end') return { source: text, matches: ALL };
  const parser = new Parser(tokens);
  const matches = parser.or(0);
  const rest = parser.peek();
  if (rest.kind !== 'end') parser.fail(rest, 'expected "and", "or" or the end of the filter');
  return { source: text, matches };
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const column = i + 1;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (/[0-9A-Fa-f:]/.test(c)) {
      let j = i;
      while (j < text.length && /[0-9A-Fa-f:.]/.test(text[j])) j++;
      if (text.slice(i, j).includes(':')) {
        out.push({ kind: 'address6', text: text.slice(i, j), column });
        i = j;
        continue;
      }
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j])) j++;
      out.push({ kind: 'word', text: text.slice(i, j).toLowerCase(), column });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[0-9.]/.test(text[j])) j++;
      out.push({ kind: 'number', text: text.slice(i, j), column });
      i = j;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '&&' || two === '||') {
      out.push({ kind: two, text: two, column });
      i += 2;
      continue;
    }
    if (c === '(' || c === ')' || c === '!' || c === '/' || c === '-') {
      out.push({ kind: c, text: c, column });
      i++;
      continue;
    }
    throw new FilterSyntaxError(`filter column ${column}: unexpected character ${JSON.stringify(c)}`, column);
  }
  out.push({ kind: 'end', text: '', column: text.length + 1 });
  return out;
}

const PROTOCOLS: Readonly<Record<string, number>> = { tcp: 6, udp: 17, icmp: 1, icmp6: 58 };

/** Whether the frame is IP of either family. */
const isIp = (x: FrameTuple): boolean => x.ipv4 || x.ipv6;
const FLAGS: Readonly<Record<string, number>> = { fin: 0x01, syn: 0x02, rst: 0x04, ack: 0x10 };

/** Which address or port a primitive looks at. */
type Direction = 'src' | 'dst' | 'either';

class Parser {
  private at = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  peek(): Token {
    return this.tokens[this.at];
  }

  private next(): Token {
    const t = this.tokens[this.at];
    if (t.kind !== 'end') this.at++;
    return t;
  }

  fail(t: Token, expected: string): never {
    const found = t.kind === 'end' ? 'the end of the filter' : JSON.stringify(t.text);
    throw new FilterSyntaxError(`filter column ${t.column}: ${expected}, found ${found}`, t.column);
  }

  private isWord(t: Token, ...words: string[]): boolean {
    return t.kind === 'word' && words.includes(t.text);
  }

  or(depth: number): Predicate {
    let left = this.and(depth);
    for (;;) {
      const t = this.peek();
      if (!(t.kind === '||' || this.isWord(t, 'or'))) return left;
      this.next();
      const a = left;
      const b = this.and(depth);
      left = (x) => a(x) || b(x);
    }
  }

  private and(depth: number): Predicate {
    let left = this.not(depth);
    for (;;) {
      const t = this.peek();
      if (!(t.kind === '&&' || this.isWord(t, 'and'))) return left;
      this.next();
      const a = left;
      const b = this.not(depth);
      left = (x) => a(x) && b(x);
    }
  }

  private not(depth: number): Predicate {
    const t = this.peek();
    if (depth >= MAX_DEPTH) this.fail(t, `nesting deeper than ${MAX_DEPTH}`);
    if (t.kind === '!' || this.isWord(t, 'not')) {
      this.next();
      const inner = this.not(depth + 1);
      return (x) => !inner(x);
    }
    if (t.kind === '(') {
      this.next();
      const inner = this.or(depth + 1);
      const close = this.next();
      if (close.kind !== ')') this.fail(close, 'expected ")"');
      return inner;
    }
    return this.primitive();
  }

  private primitive(): Predicate {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t, PRIMITIVE_EXPECTED);
    switch (t.text) {
      case 'ip':
        return (x) => x.ipv4;
      case 'ip6':
        return (x) => x.ipv6;
      case 'icmp':
        return (x) => x.ipv4 && x.proto === 1;
      case 'icmp6':
        return (x) => x.ipv6 && x.proto === 58;
      case 'tcp':
      case 'udp': {
        const proto = PROTOCOLS[t.text];
        const isProto: Predicate = (x) => isIp(x) && x.proto === proto;
        const q = this.peek();
        if (!this.isWord(q, 'src', 'dst', 'port', 'portrange')) return isProto;
        const ports = this.addressOrPort(true);
        return (x) => isProto(x) && ports(x);
      }
      case 'proto': {
        const v = this.next();
        let proto = -1;
        if (v.kind === 'word' && v.text in PROTOCOLS) proto = PROTOCOLS[v.text];
        else if (v.kind === 'number' && /^[0-9]{1,3}$/.test(v.text) && Number(v.text) <= 255) proto = Number(v.text);
        else this.fail(v, 'expected a protocol number 0..255 or tcp, udp, icmp, icmp6 after "proto"');
        return (x) => isIp(x) && x.proto === proto;
      }
      case 'syn':
      case 'ack':
      case 'fin':
      case 'rst': {
        const mask = FLAGS[t.text];
        return (x) => isIp(x) && x.proto === 6 && (x.tcpFlags & mask) !== 0;
      }
      case 'src':
      case 'dst':
      case 'host':
      case 'net':
      case 'port':
      case 'portrange':
        this.at--;
        return this.addressOrPort(false);
      default:
        return this.fail(t, PRIMITIVE_EXPECTED);
    }
  }

  /** `[dir] host A | [dir] net A/L | [dir] port P | [dir] portrange P-Q` (`portsOnly`: after tcp/udp). */
  private addressOrPort(portsOnly: boolean): Predicate {
    let dir: Direction = 'either';
    let t = this.next();
    if (this.isWord(t, 'src', 'dst')) {
      dir = t.text as Direction;
      t = this.next();
    }
    const kinds = portsOnly ? ['port', 'portrange'] : ['host', 'net', 'port', 'portrange'];
    if (!this.isWord(t, ...kinds)) this.fail(t, `expected ${kinds.map((k) => `"${k}"`).join(', ')}${dir === 'either' ? '' : ` after "${dir}"`}`);
    switch (t.text) {
      case 'host': {
        const a = this.address(t);
        if (typeof a !== 'number') return addressPredicate6(dir, a, [-1, -1, -1, -1]);
        if (dir === 'src') return (x) => x.ipv4 && x.src === a;
        if (dir === 'dst') return (x) => x.ipv4 && x.dst === a;
        return (x) => x.ipv4 && (x.src === a || x.dst === a);
      }
      case 'net': {
        const written = this.peek().text;
        const a = this.address(t);
        const slash = this.next();
        if (slash.kind !== '/') this.fail(slash, 'expected "/" and a prefix length after the network address');
        const lenTok = this.next();
        const most = typeof a === 'number' ? 32 : 128;
        if (lenTok.kind !== 'number' || !/^[0-9]{1,3}$/.test(lenTok.text) || Number(lenTok.text) > most) this.fail(lenTok, `expected a prefix length 0..${most}`);
        const bits = Number(lenTok.text);
        if (typeof a !== 'number') {
          if (ipv6HasHostBits(a, bits)) this.fail(lenTok, `expected a prefix length that leaves no host bits of ${written} set`);
          return addressPredicate6(dir, a, Array.from({ length: 4 }, (_, i) => maskWord(bits - 32 * i)));
        }
        const mask = maskWord(bits);
        if ((a & mask) >>> 0 !== a) this.fail(lenTok, `expected a prefix length that leaves no host bits of ${written} set`);
        if (dir === 'src') return (x) => x.ipv4 && (x.src & mask) >>> 0 === a;
        if (dir === 'dst') return (x) => x.ipv4 && (x.dst & mask) >>> 0 === a;
        return (x) => x.ipv4 && ((x.src & mask) >>> 0 === a || (x.dst & mask) >>> 0 === a);
      }
      case 'port': {
        const p = this.port(t);
        return portPredicate(dir, p, p);
      }
      default: {
        const lo = this.port(t);
        const dash = this.next();
        if (dash.kind !== '-') this.fail(dash, 'expected "-" between the ports of a portrange');
        const hi = this.port(dash);
        if (hi < lo) this.fail(dash, `expected a range from low to high, ${lo} > ${hi}`);
        return portPredicate(dir, lo, hi);
      }
    }
  }

  /** An IPv4 address (unsigned number) or an IPv6 one (four words). */
  private address(after: Token): number | Ipv6Address {
    const t = this.next();
    if (t.kind === 'address6') {
      const a = parseIpv6(t.text);
      if (a === undefined) this.fail(t, `expected an IPv4 or IPv6 address after "${after.text}"`);
      return a;
    }
    const parts = t.kind === 'number' ? t.text.split('.') : [];
    if (parts.length !== 4 || parts.some((p) => !/^[0-9]{1,3}$/.test(p) || Number(p) > 255)) {
      this.fail(t, `expected an IPv4 or IPv6 address after "${after.text}"`);
    }
    return ((Number(parts[0]) << 24) | (Number(parts[1]) << 16) | (Number(parts[2]) << 8) | Number(parts[3])) >>> 0;
  }

  private port(after: Token): number {
    const t = this.next();
    if (t.kind !== 'number' || !/^[0-9]{1,5}$/.test(t.text) || Number(t.text) > 65535) this.fail(t, `expected a port number 0..65535 after "${after.text}"`);
    return Number(t.text);
  }
}

const PRIMITIVE_EXPECTED = 'expected a primitive (ip, ip6, tcp, udp, icmp, icmp6, proto, host, net, port, portrange, src, dst, syn, ack, fin, rst), "not" or "("';

/** The mask word of the 32 bits a prefix of `bits` (may be ≤ 0 or > 32) covers in one word. */
function maskWord(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** An IPv6 `host` (mask all ones) or `net` test in direction `dir`; `net` holds no host bits. */
function addressPredicate6(dir: Direction, net: Ipv6Address, mask: readonly number[]): Predicate {
  const n = Int32Array.from(net);
  const m = Int32Array.from(mask);
  const inNet = (w: Int32Array): boolean => (w[0] & m[0]) === n[0] && (w[1] & m[1]) === n[1] && (w[2] & m[2]) === n[2] && (w[3] & m[3]) === n[3];
  if (dir === 'src') return (x) => x.ipv6 && inNet(x.src6);
  if (dir === 'dst') return (x) => x.ipv6 && inNet(x.dst6);
  return (x) => x.ipv6 && (inNet(x.src6) || inNet(x.dst6));
}

function portPredicate(dir: Direction, lo: number, hi: number): Predicate {
  const l4 = (x: FrameTuple): boolean => isIp(x) && (x.proto === 6 || x.proto === 17);
  if (dir === 'src') return (x) => l4(x) && x.sport >= lo && x.sport <= hi;
  if (dir === 'dst') return (x) => l4(x) && x.dport >= lo && x.dport <= hi;
  return (x) => l4(x) && ((x.sport >= lo && x.sport <= hi) || (x.dport >= lo && x.dport <= hi));
}
