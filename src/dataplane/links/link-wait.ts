import type { Doorbell } from '../../virtio/doorbell.ts';
import type { Link } from './link.ts';

/**
 * Sleeps on an instance's interrupt line `bell` until one of its links has work for it, or
 * `timeoutMs` passes: frames on the links whose bit is set in `rxMask` (bit k: `links[k]`),
 * room on those set in `txMask` (its peers took frames it sent: what a loop held back by a
 * full peer waits for). Reads the line, arms each (`armRx`/`armTx`), re-checks, waits,
 * disarms. Returns whether something was ready when it looked or it was rung before the
 * timeout (a timeout alone returns false).
 *
 * A link whose receive is held back for want of room is left out of `rxMask`: its frames
 * wait already and would end every sleep at once, which turns a back-pressured loop into a
 * spinner taking the core its peer needs to drain (fewer cores than busy threads).
 *
 * @example
 * ```ts
 * // side 0 held back: link 1 is full. Sleep until link 1 has room or link 1 brings frames.
 * waitOnLinks(links, irq, 0b10, 0b10, 1);
 * ```
 */
export function waitOnLinks(links: readonly [Link, Link], bell: Doorbell, rxMask: number, txMask: number, timeoutMs: number): boolean {
  const seen = bell.sequence();
  let ready = false;
  for (let k = 0; k < 2; k++) {
    if ((rxMask & (1 << k)) !== 0 && links[k].armRx()) ready = true;
    if ((txMask & (1 << k)) !== 0 && links[k].armTx()) ready = true;
  }
  const rung = ready ? false : bell.wait(seen, timeoutMs) !== 'timed-out';
  for (let k = 0; k < 2; k++) {
    if ((rxMask & (1 << k)) !== 0) links[k].disarmRx();
    if ((txMask & (1 << k)) !== 0) links[k].disarmTx();
  }
  return ready || rung;
}
