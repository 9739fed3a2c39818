import { describe, expect, it } from 'vitest';
import { CT_INVALID, ConntrackTable, ctDir, ctEntry } from '../../../src/conntrack/conntrack-table.ts';
import { CT_STATE_NAMES, CtDir, CtState, CtStatus, IpProto, TcpFlag } from '../../../src/conntrack/conntrack-state.ts';
import { CtCounter } from '../../../src/conntrack/conntrack-counters.ts';
import { TCP_INVALID, tcpOpensConnection, tcpTransition } from '../../../src/conntrack/tcp-state-machine.ts';

const { FIN, SYN, RST, PSH, ACK } = TcpFlag;
const O = CtDir.ORIGINAL;
const R = CtDir.REPLY;
const CLIENT = 0xc6120001;
const SERVER = 0xc6120102;

type Step = [dir: number, flags: number, expected: number | 'invalid'];

function run(steps: Step[]): { table: ConntrackTable; entry: number } {
  const table = new ConntrackTable({ capacity: 16, seed: 1 });
  const entry = table.createFlow(IpProto.TCP, CLIENT, SERVER, 40000, 80, 0);
  expect(entry).toBeGreaterThanOrEqual(0);
  steps.forEach(([dir, flags, expected], i) => {
    const before = table.state(entry);
    const got = table.update(entry, dir, flags, i + 1);
    const label = `step ${i}: dir ${dir} flags 0x${flags.toString(16)} from ${CT_STATE_NAMES[before]}`;
    if (expected === 'invalid') {
      expect(got, label).toBe(CT_INVALID);
      expect(table.state(entry), label).toBe(before);
    } else {
      expect(CT_STATE_NAMES[got], label).toBe(CT_STATE_NAMES[expected]);
      expect(table.state(entry), label).toBe(expected);
    }
  });
  return { table, entry };
}

const HANDSHAKE: Step[] = [
  [O, SYN, CtState.TCP_SYN_SENT],
  [R, SYN | ACK, CtState.TCP_SYN_RECV],
  [O, ACK, CtState.TCP_ESTABLISHED],
];

describe('TCP state machine', () => {
  it('follows the three-way handshake and data both ways', () => {
    const { table, entry } = run([
      ...HANDSHAKE,
      [O, PSH | ACK, CtState.TCP_ESTABLISHED],
      [R, ACK, CtState.TCP_ESTABLISHED],
      [R, PSH | ACK, CtState.TCP_ESTABLISHED],
    ]);
    expect(table.status(entry) & CtStatus.ASSURED).toBe(CtStatus.ASSURED);
    expect(table.status(entry) & CtStatus.SEEN_REPLY).toBe(CtStatus.SEEN_REPLY);
  });

  it('tolerates retransmitted SYN and SYN+ACK', () => {
    run([
      [O, SYN, CtState.TCP_SYN_SENT],
      [O, SYN, CtState.TCP_SYN_SENT],
      [R, SYN | ACK, CtState.TCP_SYN_RECV],
      [R, SYN | ACK, CtState.TCP_SYN_RECV],
      [O, ACK, CtState.TCP_ESTABLISHED],
    ]);
  });

  it('closes with FIN from the client, then FIN from the server (four segments)', () => {
    run([
      ...HANDSHAKE,
      [O, FIN | ACK, CtState.TCP_FIN_WAIT],
      [R, ACK, CtState.TCP_CLOSE_WAIT],
      [R, PSH | ACK, CtState.TCP_CLOSE_WAIT],
      [R, FIN | ACK, CtState.TCP_LAST_ACK],
      [O, ACK, CtState.TCP_TIME_WAIT],
      [O, ACK, CtState.TCP_TIME_WAIT],
    ]);
  });

  it('closes with FIN from the server first', () => {
    run([
      ...HANDSHAKE,
      [R, FIN | ACK, CtState.TCP_FIN_WAIT],
      [O, ACK, CtState.TCP_CLOSE_WAIT],
      [O, FIN | ACK, CtState.TCP_LAST_ACK],
      [R, ACK, CtState.TCP_TIME_WAIT],
    ]);
  });

  it('closes with a combined FIN+ACK (three segments)', () => {
    run([...HANDSHAKE, [O, FIN | ACK, CtState.TCP_FIN_WAIT], [R, FIN | ACK, CtState.TCP_LAST_ACK], [O, ACK, CtState.TCP_TIME_WAIT]]);
  });

  it('handles simultaneous close (FINs cross, then both ACK)', () => {
    const { table, entry } = run([
      ...HANDSHAKE,
      [O, FIN, CtState.TCP_FIN_WAIT],
      [R, FIN, CtState.TCP_LAST_ACK],
      [O, ACK, CtState.TCP_LAST_ACK],
      [R, ACK, CtState.TCP_TIME_WAIT],
    ]);
    const all = CtStatus.FIN_ORIGINAL | CtStatus.FIN_REPLY | CtStatus.FIN_ORIGINAL_ACKED | CtStatus.FIN_REPLY_ACKED;
    expect(table.status(entry) & all).toBe(all);
  });

  it('does not count a FIN as acknowledged by its own sender', () => {
    run([...HANDSHAKE, [O, FIN | ACK, CtState.TCP_FIN_WAIT], [O, ACK, CtState.TCP_FIN_WAIT], [O, FIN | ACK, CtState.TCP_FIN_WAIT]]);
  });

  it('goes to CLOSE on RST from either side, in any tracked state', () => {
    run([...HANDSHAKE, [R, RST, CtState.TCP_CLOSE]]);
    run([...HANDSHAKE, [O, RST | ACK, CtState.TCP_CLOSE]]);
    run([[O, SYN, CtState.TCP_SYN_SENT], [R, RST | ACK, CtState.TCP_CLOSE]]);
    run([...HANDSHAKE, [O, FIN | ACK, CtState.TCP_FIN_WAIT], [R, RST, CtState.TCP_CLOSE]]);
  });

  it('rejects segments after RST except another RST or a new SYN', () => {
    run([
      ...HANDSHAKE,
      [R, RST, CtState.TCP_CLOSE],
      [O, ACK, 'invalid'],
      [R, FIN | ACK, 'invalid'],
      [R, RST, CtState.TCP_CLOSE],
      [O, SYN, CtState.TCP_SYN_SENT],
    ]);
  });

  it('reopens a TIME_WAIT tuple with a new SYN and clears the old status', () => {
    const { table, entry } = run([
      ...HANDSHAKE,
      [O, FIN | ACK, CtState.TCP_FIN_WAIT],
      [R, FIN | ACK, CtState.TCP_LAST_ACK],
      [O, ACK, CtState.TCP_TIME_WAIT],
      [O, SYN, CtState.TCP_SYN_SENT],
    ]);
    expect(table.status(entry)).toBe(0);
  });

  it('rejects packets in the wrong direction', () => {
    run([[O, SYN, CtState.TCP_SYN_SENT], [O, SYN | ACK, 'invalid'], [R, ACK, 'invalid'], [O, ACK, 'invalid']]);
    run([[O, SYN, CtState.TCP_SYN_SENT], [R, SYN | ACK, CtState.TCP_SYN_RECV], [R, ACK, 'invalid'], [O, SYN | ACK, 'invalid']]);
    run([...HANDSHAKE, [R, SYN, 'invalid'], [O, SYN, 'invalid'], [R, SYN | ACK, 'invalid']]);
  });

  it('rejects a first segment that is not a SYN from the original side', () => {
    run([[O, ACK, 'invalid']]);
    run([[R, SYN, 'invalid']]);
    run([[O, SYN | ACK, 'invalid']]);
    run([[O, RST, 'invalid']]);
    run([[O, FIN, 'invalid']]);
  });

  it('rejects nonsense flag combinations', () => {
    run([[O, SYN | FIN, 'invalid'], [O, SYN | RST, 'invalid'], [O, SYN, CtState.TCP_SYN_SENT]]);
    run([...HANDSHAKE, [O, 0, 'invalid'], [O, PSH, 'invalid'], [O, SYN | FIN | ACK, 'invalid']]);
  });

  it('supports simultaneous open', () => {
    run([
      [O, SYN, CtState.TCP_SYN_SENT],
      [R, SYN, CtState.TCP_SYN_RECV],
      [R, SYN | ACK, CtState.TCP_SYN_RECV],
      [O, SYN | ACK, CtState.TCP_ESTABLISHED],
    ]);
  });

  it('completes the handshake and starts closing on a FIN+ACK from the original side in SYN_RECV', () => {
    run([[O, SYN, CtState.TCP_SYN_SENT], [R, SYN | ACK, CtState.TCP_SYN_RECV], [O, FIN | ACK, CtState.TCP_FIN_WAIT]]);
  });

  it('counts invalid updates and does not refresh their timer', () => {
    const table = new ConntrackTable({ capacity: 4, seed: 3 });
    const e = table.createFlow(IpProto.TCP, CLIENT, SERVER, 1, 2, 0);
    table.update(e, O, SYN, 100);
    const before = table.expiresAt(e);
    expect(table.update(e, R, ACK, 5000)).toBe(CT_INVALID);
    expect(table.expiresAt(e)).toBe(before);
    expect(table.counters[CtCounter.INVALID]).toBe(1);
  });

  it('finds the entry from reply packets and reports their direction', () => {
    const table = new ConntrackTable({ capacity: 4, seed: 3 });
    const e = table.createFlow(IpProto.TCP, CLIENT, SERVER, 40000, 443, 0);
    const orig = table.lookup(IpProto.TCP, CLIENT, SERVER, 40000, 443, 1);
    const reply = table.lookup(IpProto.TCP, SERVER, CLIENT, 443, 40000, 1);
    expect([ctEntry(orig), ctDir(orig)]).toEqual([e, O]);
    expect([ctEntry(reply), ctDir(reply)]).toEqual([e, R]);
  });

  it('exposes the transition as a pure function', () => {
    expect(tcpTransition(CtState.TCP_SYN_SENT, 0, R, SYN | ACK) & 0xff).toBe(CtState.TCP_SYN_RECV);
    expect(tcpTransition(CtState.TCP_ESTABLISHED, CtStatus.ASSURED, O, SYN)).toBe(TCP_INVALID);
    expect(tcpOpensConnection(SYN)).toBe(true);
    expect(tcpOpensConnection(SYN | PSH)).toBe(true);
    expect(tcpOpensConnection(SYN | ACK)).toBe(false);
    expect(tcpOpensConnection(ACK)).toBe(false);
    expect(tcpOpensConnection(SYN | RST)).toBe(false);
  });
});
