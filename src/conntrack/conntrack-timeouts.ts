import { InvalidArgumentError } from '../errors/catalog.ts';
import { CT_STATE_COUNT, CtState } from './conntrack-state.ts';

/**
 * Idle timeouts per protocol state, in SECONDS. An entry expires when no valid packet has
 * refreshed it for the timeout of its current state.
 *
 * Defaults follow Linux nf_conntrack except where Linux is too long for a middlebox
 * (established 5 days → 2 h; SYN_SENT 120 s → 60 s):
 *
 * | state | default (s) |
 * |---|---|
 * | tcpNew, tcpSynSent, tcpSynRecv | 60 |
 * | tcpEstablished | 7200 |
 * | tcpFinWait, tcpTimeWait | 120 |
 * | tcpCloseWait | 60 |
 * | tcpLastAck | 30 |
 * | tcpClose | 10 |
 * | udpUnreplied / udpAssured | 30 / 180 |
 * | icmp (both states) | 30 |
 * | other (both states) | 600 |
 *
 * @example
 * ```ts
 * new ConntrackTable({ capacity: 1 << 16, timeouts: { tcpEstablished: 3600, udpAssured: 60 } });
 * ```
 */
export interface ConntrackTimeouts {
  tcpNew: number;
  tcpSynSent: number;
  tcpSynRecv: number;
  tcpEstablished: number;
  tcpFinWait: number;
  tcpCloseWait: number;
  tcpLastAck: number;
  tcpTimeWait: number;
  tcpClose: number;
  udpUnreplied: number;
  udpAssured: number;
  icmp: number;
  other: number;
}

/** The default timeouts (seconds); see {@link ConntrackTimeouts}. */
export const DEFAULT_CONNTRACK_TIMEOUTS: Readonly<ConntrackTimeouts> = Object.freeze({
  tcpNew: 60,
  tcpSynSent: 60,
  tcpSynRecv: 60,
  tcpEstablished: 7200,
  tcpFinWait: 120,
  tcpCloseWait: 60,
  tcpLastAck: 30,
  tcpTimeWait: 120,
  tcpClose: 10,
  udpUnreplied: 30,
  udpAssured: 180,
  icmp: 30,
  other: 600,
});

/**
 * Merges `overrides` onto the defaults and returns the timeout of every state in
 * MILLISECONDS, indexed by {@link CtState} (the table's clock is in milliseconds).
 * Throws {@link InvalidArgumentError} for an unknown key or a value that is not a finite,
 * non-negative number.
 *
 * @example
 * ```ts
 * const ms = timeoutsByState({ udpUnreplied: 10 });
 * ms[CtState.UDP_UNREPLIED] === 10_000;
 * ```
 */
export function timeoutsByState(overrides: Partial<ConntrackTimeouts> = {}): Float64Array {
  const t: ConntrackTimeouts = { ...DEFAULT_CONNTRACK_TIMEOUTS };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in DEFAULT_CONNTRACK_TIMEOUTS)) throw new InvalidArgumentError(`unknown conntrack timeout "${key}"`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidArgumentError(`conntrack timeout "${key}" must be a finite number of seconds >= 0, got ${String(value)}`);
    }
    t[key as keyof ConntrackTimeouts] = value;
  }
  const ms = new Float64Array(CT_STATE_COUNT);
  ms[CtState.TCP_NEW] = t.tcpNew;
  ms[CtState.TCP_SYN_SENT] = t.tcpSynSent;
  ms[CtState.TCP_SYN_RECV] = t.tcpSynRecv;
  ms[CtState.TCP_ESTABLISHED] = t.tcpEstablished;
  ms[CtState.TCP_FIN_WAIT] = t.tcpFinWait;
  ms[CtState.TCP_CLOSE_WAIT] = t.tcpCloseWait;
  ms[CtState.TCP_LAST_ACK] = t.tcpLastAck;
  ms[CtState.TCP_TIME_WAIT] = t.tcpTimeWait;
  ms[CtState.TCP_CLOSE] = t.tcpClose;
  ms[CtState.UDP_UNREPLIED] = t.udpUnreplied;
  ms[CtState.UDP_ASSURED] = t.udpAssured;
  ms[CtState.ICMP_UNREPLIED] = t.icmp;
  ms[CtState.ICMP_REPLIED] = t.icmp;
  ms[CtState.OTHER_UNREPLIED] = t.other;
  ms[CtState.OTHER_REPLIED] = t.other;
  for (let i = 0; i < ms.length; i++) ms[i] *= 1000;
  return ms;
}
