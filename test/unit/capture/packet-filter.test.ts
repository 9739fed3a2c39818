import { describe, expect, it } from 'vitest';
import { FilterSyntaxError } from '../../../src/errors/catalog.ts';
import { compileFilter } from '../../../src/capture/packet-filter.ts';
import { FrameTuple, formatFrameTuple, readFrameTuple } from '../../../src/capture/frame-tuple.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';

const ip = (s: string) => s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);

function tupleOf(frame: Uint8Array): FrameTuple {
  const t = new FrameTuple();
  readFrameTuple(new DataView(frame.buffer, frame.byteOffset, frame.byteLength), 0, frame.byteLength, t);
  return t;
}

const syn = tupleOf(buildFrame({ proto: 6, srcIp: ip('198.18.0.5'), dstIp: ip('198.18.2.100'), srcPort: 40000, dstPort: 80, tcpFlags: 0x02 }));
const ack = tupleOf(buildFrame({ proto: 6, srcIp: ip('198.18.2.100'), dstIp: ip('198.18.0.5'), srcPort: 80, dstPort: 40000, tcpFlags: 0x12 }));
const dns = tupleOf(buildFrame({ proto: 17, srcIp: ip('198.18.1.7'), dstIp: ip('198.19.0.53'), srcPort: 5353, dstPort: 53 }));
const ping = tupleOf(buildFrame({ proto: 1, srcIp: ip('198.18.1.7'), dstIp: ip('198.18.0.5'), icmpType: 8, srcPort: 7, dstPort: 1 }));
const arp = new FrameTuple();

function v6(spec: Ipv6FrameSpec): Uint8Array {
  const bytes = new Uint8Array(256);
  return bytes.slice(0, buildIpv6Frame(new DataView(bytes.buffer), 0, spec));
}
const CLIENT6 = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 2];
const VIP6 = [0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100];
const syn6 = tupleOf(v6({ proto: 6, src: CLIENT6, dst: VIP6, srcPort: 40000, dstPort: 80, tcpFlags: 0x02, extensionHeaders: [{ type: 60 }] }));
const ping6 = tupleOf(v6({ proto: 58, src: CLIENT6, dst: [0x2001, 0xdb8, 1, 0, 0, 0, 0, 1], icmpType: 128 }));
const nat64 = tupleOf(v6({ proto: 17, src: CLIENT6, dst: [0x64, 0xff9b, 0, 0, 0, 0, 0xc612, 0x030b], srcPort: 5353, dstPort: 53 }));

describe('readFrameTuple', () => {
  it('reads the 5-tuple and TCP flags, and formats it tcpdump style', () => {
    expect(syn).toMatchObject({ ipv4: true, proto: 6, src: ip('198.18.0.5'), dst: ip('198.18.2.100'), sport: 40000, dport: 80, tcpFlags: 0x02 });
    expect(formatFrameTuple(syn)).toBe('tcp 198.18.0.5:40000 > 198.18.2.100:80 [S]');
    expect(formatFrameTuple(ack)).toBe('tcp 198.18.2.100:80 > 198.18.0.5:40000 [S.]');
    expect(formatFrameTuple(ping)).toBe('icmp 198.18.1.7 > 198.18.0.5 type 8');
    expect(formatFrameTuple(arp)).toBe('non-IP');
  });

  it('reads IPv6: addresses, the protocol after the extension headers, ports, ICMPv6 type, hop limit', () => {
    expect(syn6).toMatchObject({ ipv4: false, ipv6: true, proto: 6, src: 0, sport: 40000, dport: 80, tcpFlags: 0x02, ttl: 64 });
    expect(Array.from(syn6.src6)).toEqual([0x20010db8, 0x00010000, 0, 2]);
    expect(formatFrameTuple(syn6)).toBe('tcp [2001:db8:1::2]:40000 > [2001:db8:2::100]:80 [S]');
    expect(formatFrameTuple(ping6)).toBe('icmp6 2001:db8:1::2 > 2001:db8:1::1 type 128');
    expect(formatFrameTuple(nat64)).toBe('udp [2001:db8:1::2]:5353 > [64:ff9b::198.18.3.11]:53');
    const later = tupleOf(v6({ proto: 6, src: CLIENT6, dst: VIP6, srcPort: 1, dstPort: 80, extensionHeaders: [{ type: 44, fragmentOffset: 8 }] }));
    expect(later).toMatchObject({ ipv6: true, proto: 6, sport: 0, dport: 0 });
    const frame = v6({ proto: 6, src: CLIENT6, dst: VIP6, srcPort: 1, dstPort: 80 });
    for (const cut of [13, 40, 53]) expect(tupleOf(frame.slice(0, cut)).ipv6).toBe(false);
  });

  it('reads through VLAN tags and refuses what is too short to hold its headers', () => {
    const plain = buildFrame({ proto: 17, srcIp: ip('198.18.1.7'), dstIp: ip('198.19.0.53'), srcPort: 5353, dstPort: 53 });
    const tagged = new Uint8Array(plain.length + 4);
    tagged.set(plain.subarray(0, 12));
    tagged.set([0x81, 0x00, 0x00, 0x07], 12);
    tagged.set(plain.subarray(12), 16);
    expect(tupleOf(tagged)).toMatchObject({ ipv4: true, proto: 17, sport: 5353, dport: 53 });
    for (const cut of [0, 13, 20, 33]) expect(tupleOf(plain.slice(0, cut)).ipv4).toBe(false);
    expect(tupleOf(plain.slice(0, 35))).toMatchObject({ ipv4: true, sport: 0, dport: 0 });
  });
});

describe('compileFilter', () => {
  const cases6: Array<[string, boolean[]]> = [
    // [syn, ping, syn6, ping6, nat64, arp]
    ['ip6', [false, false, true, true, true, false]],
    ['ip', [true, true, false, false, false, false]],
    ['tcp', [true, false, true, false, false, false]],
    ['icmp6', [false, false, false, true, false, false]],
    ['icmp', [false, true, false, false, false, false]],
    ['proto icmp6', [false, false, false, true, false, false]],
    ['host 2001:db8:1::2', [false, false, true, true, true, false]],
    ['dst host 2001:DB8:2::100 and tcp dst port 80', [false, false, true, false, false, false]],
    ['src net 2001:db8:1::/64 and not icmp6', [false, false, true, false, true, false]],
    ['dst net 64:ff9b::/96', [false, false, false, false, true, false]],
    ['dst host 64:ff9b::198.18.3.11', [false, false, false, false, true, false]],
    ['net 198.18.0.0/16 or net 2001:db8::/32', [true, true, true, true, true, false]],
    ['syn and not ack', [true, false, true, false, false, false]],
    ['port 53', [false, false, false, false, true, false]],
  ];
  for (const [text, want] of cases6) {
    it(`"${text}" (both families)`, () => {
      const f = compileFilter(text);
      expect([syn, ping, syn6, ping6, nat64, arp].map((t) => f.matches(t))).toEqual(want);
    });
  }

  const cases: Array<[string, boolean[]]> = [
    // [syn, ack, dns, ping, arp]
    ['', [true, true, true, true, true]],
    ['tcp', [true, true, false, false, false]],
    ['tcp and host 198.18.0.5 and port 80', [true, true, false, false, false]],
    ['tcp dst port 80', [true, false, false, false, false]],
    ['src host 198.18.0.5', [true, false, false, false, false]],
    ['dst net 198.19.0.0/16', [false, false, true, false, false]],
    ['net 198.18.0.0/24', [true, true, false, true, false]],
    ['udp portrange 50-60', [false, false, true, false, false]],
    ['port 53 || icmp', [false, false, true, true, false]],
    ['syn and not ack', [true, false, false, false, false]],
    ['not ip', [false, false, false, false, true]],
    ['!(tcp or udp)', [false, false, false, true, true]],
    ['proto 17', [false, false, true, false, false]],
    ['proto icmp && src net 198.18.1.0/24', [false, false, false, true, false]],
    ['port 0', [false, false, false, false, false]],
    ['TCP AND PORT 80', [true, true, false, false, false]],
  ];
  for (const [text, want] of cases) {
    it(`"${text}"`, () => {
      const f = compileFilter(text);
      expect([syn, ack, dns, ping, arp].map((t) => f.matches(t))).toEqual(want);
    });
  }

  const errors: Array<[string, number, RegExp]> = [
    ['tcp and', 8, /expected a primitive .* found the end of the filter/],
    ['port http', 6, /expected a port number 0..65535 after "port", found "http"/],
    ['host 198.18.0.256', 6, /expected an IPv4 or IPv6 address after "host"/],
    ['host 2001:db8:::1', 6, /expected an IPv4 or IPv6 address after "host", found "2001:db8:::1"/],
    ['net 2001:db8::1/64', 17, /no host bits of 2001:db8::1/],
    ['net 2001:db8::/129', 16, /prefix length 0..128/],
    ['net 198.18.0.0/33', 16, /prefix length 0..32/],
    ['net 198.18.0.1/24', 16, /no host bits of 198.18.0.1/],
    ['tcp port 80 udp', 13, /expected "and", "or" or the end/],
    ['(tcp or udp', 12, /expected "\)"/],
    ['src tcp', 5, /expected "host", "net", "port", "portrange" after "src", found "tcp"/],
    ['portrange 90-80', 13, /from low to high/],
    ['port 80 $', 9, /unexpected character "\$"/],
    ['proto 300', 7, /protocol number 0..255/],
    ['tcp src host 1.2.3.4', 9, /expected "port", "portrange" after "src"/],
  ];
  for (const [text, column, message] of errors) {
    it(`refuses "${text}" at column ${column}`, () => {
      let caught: unknown;
      try {
        compileFilter(text);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(FilterSyntaxError);
      const e = caught as FilterSyntaxError;
      expect(e.code).toBe('NFVKIT_ERR_INVALID_ARGUMENT');
      expect(e.column).toBe(column);
      expect(e.message).toMatch(`column ${column}`);
      expect(e.message).toMatch(message);
    });
  }

  it('bounds the length and the nesting', () => {
    expect(() => compileFilter('tcp or '.repeat(200) + 'udp')).toThrow(/longer than 1024/);
    expect(() => compileFilter('not '.repeat(100) + 'tcp')).toThrow(/nesting deeper than 64/);
    expect(compileFilter('not '.repeat(10) + 'tcp').matches(syn)).toBe(true);
  });
});
