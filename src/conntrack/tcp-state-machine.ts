import { CtState, CtStatus, TcpFlag } from './conntrack-state.ts';

/** Returned by {@link tcpTransition} for a segment that does not fit the connection. */
export const TCP_INVALID = -1;

/**
 * The TCP tracking state machine as a pure function of (state, status bits, direction, flags).
 *
 * Returns `newState | (newStatus << 8)`, or {@link TCP_INVALID} when the segment does not
 * fit (the caller keeps the old state, does not refresh the timer, and may drop the packet
 * with a counted reason). No allocation; suitable for the per-packet loop.
 *
 * Rules (`dir` 0 = original/initiator, 1 = reply; only SYN, ACK, FIN, RST matter):
 * - RST (without SYN) in any state but NEW → CLOSE. SYN+RST, SYN+FIN → invalid.
 * - SYN from original: NEW/SYN_SENT → SYN_SENT (retransmit); TIME_WAIT/CLOSE → SYN_SENT
 *   (tuple reused by a new connection: status cleared); elsewhere invalid.
 * - SYN+ACK from reply in SYN_SENT/SYN_RECV → SYN_RECV. A bare SYN from reply in SYN_SENT
 *   is a simultaneous open → SYN_RECV with SIMULTANEOUS_OPEN; then the original side's
 *   SYN+ACK (or ACK) completes it. Any other SYN (wrong direction/state) is invalid.
 * - Segments with neither SYN, ACK, FIN nor RST are invalid. Before the reply's SYN+ACK
 *   (NEW, SYN_SENT) ACK/FIN segments are invalid; in SYN_RECV only the original side's ACK
 *   is valid, and completes the handshake (→ ESTABLISHED, ASSURED), after which any FIN
 *   it carries is handled as below. After CLOSE (RST) they are invalid.
 * - From ESTABLISHED on, a FIN from side d sets FIN_d; an ACK from side d acknowledges the
 *   other side's FIN if that FIN was seen before this segment. The state is derived:
 *   no FIN → ESTABLISHED; one FIN unacked → FIN_WAIT, acked → CLOSE_WAIT; two FINs, not
 *   both acked → LAST_ACK; both acked → TIME_WAIT (which then absorbs retransmissions).
 *
 * Limits (documented, deliberate): no sequence-number window tracking, so an ACK is taken
 * to acknowledge a FIN seen earlier even if it was sent before the FIN arrived, and an
 * in-path RST is trusted. Simultaneous close therefore ends in TIME_WAIT as it should.
 *
 * @example
 * ```ts
 * const r = tcpTransition(CtState.TCP_SYN_SENT, 0, CtDir.REPLY, TcpFlag.SYN | TcpFlag.ACK);
 * // (r & 0xff) === CtState.TCP_SYN_RECV
 * ```
 */
export function tcpTransition(state: number, status: number, dir: number, flags: number): number {
  const syn = flags & TcpFlag.SYN;
  const ack = flags & TcpFlag.ACK;
  const fin = flags & TcpFlag.FIN;

  if ((flags & TcpFlag.RST) !== 0) {
    if (syn !== 0 || state === CtState.TCP_NEW) return TCP_INVALID;
    return CtState.TCP_CLOSE | (status << 8);
  }

  if (syn !== 0) {
    if (fin !== 0) return TCP_INVALID;
    if (ack === 0) {
      if (dir === 0) {
        if (state === CtState.TCP_NEW || state === CtState.TCP_SYN_SENT) return CtState.TCP_SYN_SENT | (status << 8);
        if (state === CtState.TCP_TIME_WAIT || state === CtState.TCP_CLOSE) return CtState.TCP_SYN_SENT;
        return TCP_INVALID;
      }
      if (state === CtState.TCP_SYN_SENT) {
        return CtState.TCP_SYN_RECV | ((status | CtStatus.SEEN_REPLY | CtStatus.SIMULTANEOUS_OPEN) << 8);
      }
      return TCP_INVALID;
    }
    if (dir === 1) {
      if (state === CtState.TCP_SYN_SENT || state === CtState.TCP_SYN_RECV) {
        return CtState.TCP_SYN_RECV | ((status | CtStatus.SEEN_REPLY) << 8);
      }
      return TCP_INVALID;
    }
    if (state === CtState.TCP_SYN_RECV && (status & CtStatus.SIMULTANEOUS_OPEN) !== 0) {
      return CtState.TCP_ESTABLISHED | ((status | CtStatus.ASSURED) << 8);
    }
    return TCP_INVALID;
  }

  if (ack === 0 && fin === 0) return TCP_INVALID;

  let st = status;
  switch (state) {
    case CtState.TCP_SYN_RECV:
      if (dir !== 0 || ack === 0) return TCP_INVALID;
      st |= CtStatus.ASSURED;
      break;
    case CtState.TCP_ESTABLISHED:
    case CtState.TCP_FIN_WAIT:
    case CtState.TCP_CLOSE_WAIT:
    case CtState.TCP_LAST_ACK:
    case CtState.TCP_TIME_WAIT:
      break;
    default:
      return TCP_INVALID;
  }

  if (dir === 0) {
    if (ack !== 0 && (st & CtStatus.FIN_REPLY) !== 0) st |= CtStatus.FIN_REPLY_ACKED;
    if (fin !== 0) st |= CtStatus.FIN_ORIGINAL;
  } else {
    st |= CtStatus.SEEN_REPLY;
    if (ack !== 0 && (st & CtStatus.FIN_ORIGINAL) !== 0) st |= CtStatus.FIN_ORIGINAL_ACKED;
    if (fin !== 0) st |= CtStatus.FIN_REPLY;
  }
  return closingState(st) | (st << 8);
}

/** The state implied by the FIN bits of an entry past the handshake. */
function closingState(st: number): number {
  const finO = st & CtStatus.FIN_ORIGINAL;
  const finR = st & CtStatus.FIN_REPLY;
  if (finO === 0 && finR === 0) return CtState.TCP_ESTABLISHED;
  if (finO !== 0 && finR !== 0) {
    const both = CtStatus.FIN_ORIGINAL_ACKED | CtStatus.FIN_REPLY_ACKED;
    return (st & both) === both ? CtState.TCP_TIME_WAIT : CtState.TCP_LAST_ACK;
  }
  const acked = finO !== 0 ? st & CtStatus.FIN_ORIGINAL_ACKED : st & CtStatus.FIN_REPLY_ACKED;
  return acked !== 0 ? CtState.TCP_CLOSE_WAIT : CtState.TCP_FIN_WAIT;
}

/**
 * True for the flags that may open a tracked TCP connection: SYN without ACK, FIN or RST.
 * A stateful firewall creates an entry only for these (anything else is `ct_invalid_new`).
 *
 * @example
 * ```ts
 * if (proto === IpProto.TCP && !tcpOpensConnection(flags)) dropInvalid();
 * ```
 */
export function tcpOpensConnection(flags: number): boolean {
  return (flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.FIN | TcpFlag.RST)) === TcpFlag.SYN;
}

