import { describe, expect, it } from 'vitest';
import {
  setTcpAck, setTcpChecksum, setTcpDataOffset, setTcpDstPort, setTcpFlags, setTcpSeq, setTcpSrcPort, setTcpUrgent, setTcpWindow,
  tcpAck, tcpChecksum, tcpDataOffset, tcpDstPort, TcpFlag, tcpFlags, tcpHeaderLength, tcpSeq, tcpSrcPort, tcpUrgent, tcpWindow,
} from '../../../src/packet/tcp.ts';
import { hex, placed, toHex } from './frame-fixtures.ts';

const L4 = 33;

describe('tcp view', () => {
  const SEG = hex('9c40 0050 fedcba98 80000001 8 0 12 ffff a1b2 0007');
  it('reads every field', () => {
    const v = placed(SEG, L4);
    expect([tcpSrcPort(v, L4), tcpDstPort(v, L4)]).toEqual([40000, 80]);
    expect([tcpSeq(v, L4), tcpAck(v, L4)]).toEqual([0xfedcba98, 0x80000001]);
    expect([tcpDataOffset(v, L4), tcpHeaderLength(v, L4)]).toEqual([8, 32]);
    expect(tcpFlags(v, L4)).toBe(TcpFlag.SYN | TcpFlag.ACK);
    expect([tcpWindow(v, L4), tcpChecksum(v, L4), tcpUrgent(v, L4)]).toEqual([0xffff, 0xa1b2, 7]);
    expect(Object.values(TcpFlag)).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
  });
  it('writes every field', () => {
    const v = placed(SEG, L4);
    setTcpSrcPort(v, L4, 1);
    setTcpDstPort(v, L4, 65535);
    setTcpSeq(v, L4, 0xffffffff);
    setTcpAck(v, L4, 2);
    setTcpDataOffset(v, L4, 5);
    setTcpFlags(v, L4, TcpFlag.FIN | TcpFlag.CWR | TcpFlag.ECE | TcpFlag.URG | TcpFlag.PSH | TcpFlag.RST);
    setTcpWindow(v, L4, 512);
    setTcpChecksum(v, L4, 0);
    setTcpUrgent(v, L4, 0x1234);
    expect(toHex(new Uint8Array(v.buffer, L4, 20))).toBe('0001ffffffffffff00000002' + '50ed' + '0200' + '0000' + '1234');
  });
});
