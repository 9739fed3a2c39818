import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  computeIcmpChecksum, computeIpv4HeaderChecksum, computeTcpChecksum, computeUdpChecksum, finishChecksum,
  pseudoHeaderSum, sumWords, verifyIcmpChecksum, verifyIpv4HeaderChecksum, verifyTcpChecksum, verifyUdpChecksum,
} from '../../src/packet/checksum.ts';
import { DROP_REASON_COUNT, DropReason, dropReasonName } from '../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import { icmpChecksum } from '../../src/packet/icmp.ts';
import { ipv4Checksum, ipv4HeaderLength } from '../../src/packet/ipv4.ts';
import {
  IPV6_DST_OFFSET, IPV6_SRC_OFFSET, ipv6FlowLabel, ipv6HopLimit, ipv6NextHeader, ipv6PayloadLength, ipv6ToFullString, ipv6TrafficClass,
} from '../../src/packet/ipv6.ts';
import { ParseFlag, parseFrame, verifyL4Checksum } from '../../src/packet/parse-frame.ts';
import { tcpChecksum, tcpDstPort, tcpSrcPort } from '../../src/packet/tcp.ts';
import { udpChecksum, udpDstPort, udpLength, udpSrcPort } from '../../src/packet/udp.ts';
import type { CaptureRecord } from '../../src/pcap/capture-record.ts';
import { openCapture } from '../../src/pcap/open-capture.ts';

const CORPUS = new URL('../../../shared/corpus/pcap/', import.meta.url);
const CORPUS_PATH = decodeURIComponent(CORPUS.pathname);

interface OutFile {
  capture: string;
  out: string;
  options: string;
}

/** The README's table: which expected/*.out belongs to which capture, with which tcpdump options. */
function outFilesFromReadme(readme: string): OutFile[] {
  const result: OutFile[] = [];
  for (const line of readme.split('\n')) {
    const m = /^\| (\S+\.pcap(?:ng)?) \|/.exec(line);
    if (m === null) continue;
    const last = line.split(' | ').at(-1) ?? '';
    for (const o of last.matchAll(/`([^`]+\.out)`: (?:\(none\)|`([^`]*)`)/g)) {
      result.push({ capture: m[1], out: o[1], options: o[2] ?? '' });
    }
  }
  return result;
}

/** tcpdump -# output split into packets: packet number → its lines. */
function packetsOf(text: string): Map<number, string[]> {
  const packets = new Map<number, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+) {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.exec(line);
    if (m !== null) {
      current = [];
      packets.set(Number(m[1]), current);
    }
    current?.push(line);
  }
  return packets;
}

const IP_DESC =
  /(?:\[total length (\d+) > length (\d+)\] \(invalid\) )?\(tos 0x([0-9a-f]+)[^,]*(?:,ECT\(\d\)|,CE)?(?:, ttl (\d+))?, id (\d+), offset (\d+), flags \[[^\]]*\], proto [^,]*?\((\d+)\), length (\d+)( \[was (\d+),[^\]]*\])?/;
const BAD_IP = /, bad cksum ([0-9a-f]+) \(->([0-9a-f]+)\)!/;
const PORTS = /(\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+):/;
const TCP_VERDICT = /, cksum 0x([0-9a-f]{4}) \((correct|incorrect -> 0x([0-9a-f]{4}))\)/;
const UDP_OK = /\[udp sum ok\]/;
const UDP_BAD = /\[bad udp cksum 0x([0-9a-f]+) -> 0x([0-9a-f]+)!\]/;
const ICMP_BAD = /ICMP .*\(wrong icmp cksum ([0-9a-f]+) \(->([0-9a-f]+)\)!\)/;

const IP6_DESC = /IP6 \((?:class 0x([0-9a-f]+), )?(?:flowlabel 0x([0-9a-f]+), )?hlim (\d+), next-header [^(]*\((\d+)\),? payload length:? (\d+)\) ([0-9a-f:.]+?)(?:\.\d+)? > ([0-9a-f:.]+?)(?:\.\d+)?: /;

/** RFC 5952 text of an IPv6 address (WHATWG URL parsing compresses it as tcpdump does). */
function compressed(text: string): string {
  return new URL(`http://[${text}]/`).hostname;
}

/** EtherType after up to two VLAN tags, or 0 when the frame is too short to say. */
function etherTypeOf(view: DataView, rec: CaptureRecord): number {
  let p = rec.offset + 12;
  for (let t = 0; t < 3; t++) {
    if (p + 2 > rec.offset + rec.caplen) return 0;
    const type = view.getUint16(p);
    if (type !== 0x8100 && type !== 0x88a8) return type;
    p += 4;
  }
  return 0;
}

interface IpContext {
  l3: number;
  /** Bytes of IP packet tcpdump works with (after its TSO / invalid-length adjustments). */
  ipLen: number;
}

/** Finds the IPv4 header tcpdump describes on `line`, scanning the frame from `from`. */
function locateIp(view: DataView, rec: CaptureRecord, m: RegExpExecArray, from: number, badSum: number): number {
  const tos = parseInt(m[3], 16);
  const ttl = m[4] === undefined ? 0 : Number(m[4]); // tcpdump omits a TTL of 0
  const id = Number(m[5]);
  const offsetBytes = Number(m[6]);
  const proto = Number(m[7]);
  const totalField = m[10] !== undefined ? Number(m[10]) : Number(m[8]);
  const end = rec.offset + rec.caplen;
  for (let o = Math.max(from, rec.offset); o + 20 <= end; o++) {
    if (view.getUint8(o) >>> 4 !== 4 || (view.getUint8(o) & 0x0f) < 5) continue;
    if (view.getUint8(o + 1) !== tos || view.getUint8(o + 8) !== ttl || view.getUint8(o + 9) !== proto) continue;
    if (view.getUint16(o + 4) !== id || view.getUint16(o + 2) !== totalField) continue;
    if ((view.getUint16(o + 6) & 0x1fff) * 8 !== offsetBytes) continue;
    if (badSum >= 0 && view.getUint16(o + 10) !== badSum) continue;
    return o;
  }
  return -1;
}

/**
 * The TCP checksum tcpdump prints as the corrected value. For segments above 64 KiB (BIG TCP
 * super-frames, IPv4 total length 0) the pseudo-header length has no 16-bit value: tcpdump
 * truncates it to 16 bits, `computeTcpChecksum` folds the whole length in; the bytes are
 * summed by the project's own functions either way.
 */
function tcpChecksumAsTcpdump(view: DataView, l3: number, l4: number, l4Len: number): number {
  if (l4Len <= 0xffff) return computeTcpChecksum(view, l3, l4, l4Len);
  const ph = pseudoHeaderSum(view.getUint32(l3 + 12), view.getUint32(l3 + 16), 6, l4Len & 0xffff);
  return finishChecksum(sumWords(view, l4 + 18, l4Len - 18, sumWords(view, l4, 16, ph)));
}

interface Tally {
  over64k: number;
  ipBad: number;
  tcp: number;
  udp: number;
  icmp: number;
  parseAgrees: number;
}

describe('tcpdump regression corpus', () => {
  it('is present (../shared/corpus/pcap relative to the repository root)', () => {
    if (!existsSync(CORPUS_PATH) || !existsSync(`${CORPUS_PATH}README.md`)) {
      throw new Error(`tcpdump corpus not found at ${CORPUS_PATH}: CI provides it; this test must not be skipped`);
    }
  });

  const present = existsSync(`${CORPUS_PATH}README.md`);
  const captures = present ? readdirSync(CORPUS_PATH).filter((f) => /\.pcap(ng)?$/.test(f)).sort() : [];

  it('reads and classifies every frame of every capture without an exception', () => {
    expect(captures.length, `captures in ${CORPUS_PATH}`).toBeGreaterThanOrEqual(70);
    const layout = new FrameLayout();
    const summary: string[] = [];
    const overall = new Array<number>(DROP_REASON_COUNT).fill(0);
    let frames = 0;
    let ipv6Frames = 0;
    for (const file of captures) {
      const reader = openCapture(readFileSync(`${CORPUS_PATH}${file}`));
      const tally = new Array<number>(DROP_REASON_COUNT).fill(0);
      let n = 0;
      for (const rec of reader) {
        expect(rec.linkType, `${file} record ${rec.index}`).toBe(1);
        const reason = parseFrame(reader.view, rec.offset, rec.caplen, layout, ParseFlag.VERIFY_L4_CHECKSUM);
        expect(reason >= 0 && reason < DROP_REASON_COUNT, `${file} record ${rec.index}: reason ${reason}`).toBe(true);
        if (etherTypeOf(reader.view, rec) === 0x86dd) {
          ipv6Frames++;
          expect(dropReasonName(reason), `${file} record ${rec.index}: an IPv6 frame is parsed, or dropped for an IPv6 reason`).toMatch(/^(ok|ipv6_\w+|icmpv6_\w+|tcp_\w+|udp_\w+|unsupported_ip_protocol|vlan_\w+|eth_truncated)$/);
        }
        tally[reason]++;
        overall[reason]++;
        n++;
      }
      frames += n;
      const parts = tally.flatMap((c, r) => (c > 0 ? [`${dropReasonName(r)}:${c}`] : []));
      summary.push(`${file.padEnd(40)} ${String(n).padStart(5)}  ${parts.join(' ')}`);
    }
    const total = overall.flatMap((c, r) => (c > 0 ? [`${dropReasonName(r)}:${c}`] : []));
    console.log(`parseFrame over the tcpdump corpus (${captures.length} files, ${frames} frames)\n${summary.join('\n')}\nall: ${total.join(' ')}`);
    expect(frames).toBeGreaterThan(3000);
    expect(overall[DropReason.OK]).toBeGreaterThan(100);
    expect(overall[DropReason.IPV4_BAD_CHECKSUM]).toBeGreaterThan(10);
    expect(ipv6Frames, 'IPv6 frames in the corpus').toBeGreaterThanOrEqual(1);
  });

  it('reads every IPv6 header tcpdump describes as tcpdump does, and parseFrame names why a truncated one is dropped', () => {
    const readme = readFileSync(`${CORPUS_PATH}README.md`, 'utf8');
    const outs = outFilesFromReadme(readme).filter((o) => /(^| )-v+( |$)/.test(o.options));
    const layout = new FrameLayout();
    let described = 0;
    for (const { capture, out } of outs) {
      const text = readFileSync(`${CORPUS_PATH}expected/${out}`, 'utf8');
      if (!text.includes('IP6 (')) continue;
      const reader = openCapture(readFileSync(`${CORPUS_PATH}${capture}`));
      const records = [...reader];
      const view = reader.view;
      for (const [num, lines] of packetsOf(text)) {
        const m = IP6_DESC.exec(lines.join(' '));
        if (m === null) continue;
        const rec = records[num - 1];
        const where = `${out} packet ${num}`;
        const l3 = rec.offset + 14;
        expect(etherTypeOf(view, rec), where).toBe(0x86dd);
        expect([ipv6TrafficClass(view, l3), ipv6FlowLabel(view, l3), ipv6HopLimit(view, l3), ipv6NextHeader(view, l3), ipv6PayloadLength(view, l3)], where)
          .toEqual([parseInt(m[1] ?? '0', 16), parseInt(m[2] ?? '0', 16), Number(m[3]), Number(m[4]), Number(m[5])]);
        expect([compressed(ipv6ToFullString(view, l3 + IPV6_SRC_OFFSET)), compressed(ipv6ToFullString(view, l3 + IPV6_DST_OFFSET))], where)
          .toEqual([compressed(m[6]), compressed(m[7])]);
        const reason = parseFrame(view, rec.offset, rec.caplen, layout);
        if (14 + 40 + Number(m[5]) > rec.caplen) expect(dropReasonName(reason), where).toBe('ipv6_payload_length_beyond_frame');
        described++;
      }
    }
    expect(described, 'IPv6 headers tcpdump describes in the -v outputs').toBeGreaterThanOrEqual(1);
  });

  it("agrees with every checksum verdict tcpdump's expected output states", () => {
    const readme = readFileSync(`${CORPUS_PATH}README.md`, 'utf8');
    const outs = outFilesFromReadme(readme).filter(
      (o) => /(^| )-v+( |$)/.test(o.options) && !o.out.includes('round-away-from-zero'),
    );
    expect(outs.length).toBeGreaterThanOrEqual(40);
    const tally: Tally = { over64k: 0, ipBad: 0, tcp: 0, udp: 0, icmp: 0, parseAgrees: 0 };
    const layout = new FrameLayout();
    let stated = 0;
    for (const { capture, out } of outs) {
      const reader = openCapture(readFileSync(`${CORPUS_PATH}${capture}`));
      const records = [...reader];
      const view = reader.view;
      const packets = packetsOf(readFileSync(`${CORPUS_PATH}expected/${out}`, 'utf8'));
      for (const [num, lines] of packets) {
        for (const line of lines) {
          if (BAD_IP.test(line) || UDP_OK.test(line) || UDP_BAD.test(line) || ICMP_BAD.test(line)) stated++;
          else if (TCP_VERDICT.test(line) && !/checksum 0x/.test(line)) stated++;
        }
        const rec = records[num - 1];
        const where = `${out} packet ${num}`;
        expect(rec, where).toBeDefined();
        const reason = parseFrame(view, rec.offset, rec.caplen, layout);
        let ip: IpContext | undefined;
        let from = rec.offset;
        for (const line of lines) {
          const d = IP_DESC.exec(line);
          if (d !== null) {
            const bad = BAD_IP.exec(line.slice(d.index));
            const l3 = locateIp(view, rec, d, from, bad === null ? -1 : parseInt(bad[1], 16));
            expect(l3, `${where}: IPv4 header "${d[0]}" not found in the frame`).toBeGreaterThanOrEqual(0);
            from = l3 + 1;
            const ipLen = d[2] !== undefined ? Number(d[2]) : Number(d[8]);
            ip = { l3, ipLen };
            if (bad !== null) {
              expect(ipv4Checksum(view, l3), where).toBe(parseInt(bad[1], 16));
              expect(verifyIpv4HeaderChecksum(view, l3), `${where}: tcpdump says bad IPv4 cksum`).toBe(false);
              expect(computeIpv4HeaderChecksum(view, l3), `${where}: corrected IPv4 cksum`).toBe(parseInt(bad[2], 16));
              tally.ipBad++;
              if (l3 === layout.l3Offset) {
                expect(reason, `${where}: parseFrame accepted a bad IPv4 header`).not.toBe(DropReason.OK);
                tally.parseAgrees++;
              }
            }
            continue;
          }
          if (ip === undefined) continue;
          const l3 = ip.l3;
          const l4 = l3 + ipv4HeaderLength(view, l3);
          const l4Len = ip.ipLen - ipv4HeaderLength(view, l3);
          const ports = PORTS.exec(line);
          const tcp = TCP_VERDICT.exec(line);
          if (tcp !== null && ports !== null && view.getUint8(l3 + 9) === 6) {
            expect([tcpSrcPort(view, l4), tcpDstPort(view, l4)], where).toEqual([Number(ports[2]), Number(ports[4])]);
            expect(tcpChecksum(view, l4), where).toBe(parseInt(tcp[1], 16));
            const ok = tcp[2] === 'correct';
            expect(verifyTcpChecksum(view, l3, l4, l4Len), `${where}: tcpdump says TCP cksum ${tcp[2]}`).toBe(ok);
            if (!ok) expect(tcpChecksumAsTcpdump(view, l3, l4, l4Len), `${where}: corrected TCP cksum`).toBe(parseInt(tcp[3], 16));
            tally.tcp++;
            if (l4Len > 0xffff) tally.over64k++;
            if (l3 === layout.l3Offset && reason === DropReason.OK) {
              expect(verifyL4Checksum(view, layout) === DropReason.OK, `${where}: verifyL4Checksum`).toBe(ok);
              tally.parseAgrees++;
            }
            continue;
          }
          const udpOk = UDP_OK.exec(line);
          const udpBad = UDP_BAD.exec(line);
          if ((udpOk !== null || udpBad !== null) && ports !== null && view.getUint8(l3 + 9) === 17) {
            expect([udpSrcPort(view, l4), udpDstPort(view, l4)], where).toEqual([Number(ports[2]), Number(ports[4])]);
            const ulen = udpLength(view, l4);
            expect(udpChecksum(view, l4), `${where}: tcpdump states UDP verdicts only for non-zero checksums`).not.toBe(0);
            expect(verifyUdpChecksum(view, l3, l4, ulen), `${where}: UDP verdict`).toBe(udpOk !== null);
            if (udpBad !== null) expect(computeUdpChecksum(view, l3, l4, ulen), where).toBe(parseInt(udpBad[2], 16));
            tally.udp++;
            if (l3 === layout.l3Offset && reason === DropReason.OK) {
              expect(verifyL4Checksum(view, layout) === DropReason.OK, `${where}: verifyL4Checksum`).toBe(udpOk !== null);
              tally.parseAgrees++;
            }
            continue;
          }
          const icmp = ICMP_BAD.exec(line);
          if (icmp !== null && view.getUint8(l3 + 9) === 1) {
            expect(icmpChecksum(view, l4), where).toBe(parseInt(icmp[1], 16));
            expect(verifyIcmpChecksum(view, l4, l4Len), `${where}: tcpdump says wrong ICMP cksum`).toBe(false);
            expect(computeIcmpChecksum(view, l4, l4Len), `${where}: corrected ICMP cksum`).toBe(parseInt(icmp[2], 16));
            tally.icmp++;
          }
        }
      }
    }
    console.log(
      `tcpdump verdicts compared: ${tally.ipBad} bad IPv4 header checksums, ${tally.tcp} TCP (${tally.over64k} over 64 KiB), ` +
        `${tally.udp} UDP, ${tally.icmp} ICMP; ` +
        `${tally.parseAgrees} of them also checked against parseFrame / verifyL4Checksum`,
    );
    expect(tally.ipBad + tally.tcp + tally.udp + tally.icmp, 'every stated verdict was compared').toBe(stated);
    expect(tally.ipBad).toBeGreaterThanOrEqual(50);
    expect(tally.tcp).toBeGreaterThanOrEqual(40);
    expect(tally.udp).toBeGreaterThanOrEqual(3);
    expect(tally.icmp).toBeGreaterThanOrEqual(1);
    expect(tally.parseAgrees).toBeGreaterThanOrEqual(50);
  });
});
