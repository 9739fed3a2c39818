import { describe, expect, it } from 'vitest';
import {
  setUdpChecksum, setUdpDstPort, setUdpLength, setUdpSrcPort, udpChecksum, udpDstPort, udpLength, udpSrcPort,
} from '../../../src/packet/udp.ts';
import { hex, placed, toHex } from './frame-fixtures.ts';

const L4 = 33;

describe('udp view', () => {
  const DGRAM = hex('0035 d431 001a 8ecb');
  it('reads and writes every field', () => {
    const v = placed(DGRAM, L4);
    expect([udpSrcPort(v, L4), udpDstPort(v, L4), udpLength(v, L4), udpChecksum(v, L4)]).toEqual([53, 0xd431, 26, 0x8ecb]);
    setUdpSrcPort(v, L4, 4789);
    setUdpDstPort(v, L4, 53);
    setUdpLength(v, L4, 8);
    setUdpChecksum(v, L4, 0);
    expect(toHex(new Uint8Array(v.buffer, L4, 8))).toBe('12b5003500080000');
  });
});
