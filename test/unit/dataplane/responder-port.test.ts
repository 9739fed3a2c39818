import { describe, expect, it } from 'vitest';
import { GeneratorPort } from '../../../src/dataplane/ports/generator-port.ts';
import { ResponderPort } from '../../../src/dataplane/ports/responder-port.ts';
import { verifyTcpChecksum } from '../../../src/packet/checksum.ts';
import { verifyTcpChecksumIpv6 } from '../../../src/packet/checksum-ipv6.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { IpProto, parseIpv4 } from '../../../src/packet/ipv4.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';

const ip = (s: string) => parseIpv4(s) as number;
const CLIENT6 = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 2];
const SERVER6 = [0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x11];

function v6(spec: Ipv6FrameSpec): Uint8Array {
  const bytes = new Uint8Array(256);
  return bytes.slice(0, buildIpv6Frame(new DataView(bytes.buffer), 0, { proto: 6, src: CLIENT6, dst: SERVER6, srcPort: 40000, dstPort: 8080, ...spec }));
}

/** Sends `frames` into a responder and returns what it answers (copied out) and its counters. */
function respond(frames: Uint8Array[]) {
  const pool = PacketPool.create({ bufferCount: 64, owner: 1 });
  const ids = new Uint32Array(64);
  const n = new GeneratorPort(frames, { total: frames.length }).fill(pool, ids, 64);
  const responder = new ResponderPort();
  responder.take(pool, ids, n);
  const back = responder.fill(pool, ids, 64);
  const answers = Array.from(ids.subarray(0, back), (id) => pool.view.buffer.slice(pool.dataOffset(id), pool.dataOffset(id) + pool.meta.length[id]));
  pool.freeBatch(ids, back);
  expect(pool.leakCheck()).toEqual([]);
  return { answers: answers.map((b) => new DataView(b)), responder };
}

describe('ResponderPort', () => {
  it('answers an IPv4 SYN with a SYN-ACK and a FIN with a FIN-ACK: addresses, ports and MACs swapped, ack = seq + 1, checksum valid', () => {
    const syn = buildFrame({ proto: IpProto.TCP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.3.11'), srcPort: 40000, dstPort: 8080, tcpFlags: 0x02, seq: 1000 });
    const fin = buildFrame({ proto: IpProto.TCP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.3.11'), srcPort: 40000, dstPort: 8080, tcpFlags: 0x11, seq: 2000, payloadLength: 10 });
    const { answers, responder } = respond([syn, fin]);
    expect(responder.synAcks).toBe(1);
    expect(responder.finAcks).toBe(1);
    const [a, f] = answers;
    expect([a.getUint32(14 + 12), a.getUint32(14 + 16)]).toEqual([ip('198.18.3.11'), ip('198.18.1.2')]);
    expect([a.getUint16(34), a.getUint16(36), a.getUint8(34 + 13), a.getUint32(34 + 8)]).toEqual([8080, 40000, 0x12, 1001]);
    expect(verifyTcpChecksum(a, 14, 34, 20)).toBe(true);
    expect([f.getUint8(34 + 13), f.getUint32(34 + 8)]).toEqual([0x11, 2011]);
    expect(verifyTcpChecksum(f, 14, 34, 30)).toBe(true);
  });

  it('answers an IPv6 SYN and FIN the same way (128-bit addresses swapped, checksum over the IPv6 pseudo-header)', () => {
    const { answers, responder } = respond([v6({ tcpFlags: 0x02, tcpSeq: 1000 }), v6({ tcpFlags: 0x11, tcpSeq: 5000, payloadLength: 4 })]);
    expect([responder.synAcks, responder.finAcks]).toEqual([1, 1]);
    const [a, f] = answers;
    const words = (d: DataView, at: number) => [0, 1, 2, 3].map((i) => d.getUint32(at + 4 * i));
    expect(words(a, 14 + 8)).toEqual([0x20010db8, 0x00030000, 0, 0x11]);
    expect(words(a, 14 + 24)).toEqual([0x20010db8, 0x00010000, 0, 2]);
    expect([a.getUint16(54), a.getUint16(56), a.getUint8(54 + 13), a.getUint32(54 + 8)]).toEqual([8080, 40000, 0x12, 1001]);
    expect(verifyTcpChecksumIpv6(a, 14, 54, 20)).toBe(true);
    expect([f.getUint8(54 + 13), f.getUint32(54 + 8)]).toEqual([0x11, 5005]);
    expect(verifyTcpChecksumIpv6(f, 14, 54, 24)).toBe(true);
  });

  it('answers nothing else: data, RST, UDP, IPv6 with extension headers, a payload length past the frame', () => {
    const past = v6({ tcpFlags: 0x02 });
    new DataView(past.buffer).setUint16(14 + 4, 200);
    const { answers, responder } = respond([
      v6({ tcpFlags: 0x18 }),
      v6({ tcpFlags: 0x04 }),
      v6({ proto: 17 }),
      v6({ tcpFlags: 0x02, extensionHeaders: [{ type: 60 }] }),
      past,
      buildFrame({ proto: IpProto.UDP, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2 }),
    ]);
    expect(answers).toHaveLength(0);
    expect(responder.frames).toBe(6);
  });
});
