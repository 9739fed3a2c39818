/**
 * One capture in progress on a chain (`ControllerApi.openCapture`): a `LinkTap` attached to
 * one link of the chain's data plane, and the read side of its queue for a transport (the
 * gRPC `Capture` stream). The session detaches its tap when closed: by its reader (the
 * client went away, or it has all it asked for) or by the chain (deleted).
 *
 * @example
 * ```ts
 * const session = controller.openCapture('web-edge', { function: 'lb', side: 'inside', count: 100 });
 * while (!session.finished) {
 *   while (session.queue.count > 0) { write(session.queue.frame()); session.queue.pop(); }
 *   await sleep(10);
 * }
 * session.close();
 * ```
 */
import type { ChainDataPlane } from '../dataplane/chain-data-plane.ts';
import type { CaptureQueue } from './capture-queue.ts';
import type { LinkTap } from './link-tap.ts';

export class CaptureSession {
  private closedFlag = false;
  private readonly onClose: Array<() => void> = [];

  /**
   * @param link the link, for people: `link 1: fw outside, lb inside`
   * @param linkIndex index of the link in `dataPlane.links`
   */
  constructor(
    readonly link: string,
    private readonly dataPlane: ChainDataPlane,
    private readonly linkIndex: number,
    private readonly tap: LinkTap,
  ) {
    dataPlane.attachTap(linkIndex, tap);
  }

  /** The copies waiting for the reader. */
  get queue(): CaptureQueue {
    return this.tap.queue;
  }

  /** Frames the filter passed so far (copied or dropped). */
  get matched(): number {
    return this.tap.matched;
  }

  /** Frames that matched but found the queue full (the reader was too slow). */
  get dropped(): number {
    return this.tap.queue.dropped;
  }

  /** True once nothing more will come: closed, or the count reached and the queue read empty. */
  get finished(): boolean {
    return this.closedFlag || (this.tap.done && this.tap.queue.count === 0);
  }

  /** True once closed. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** Runs `fn` once the session closes (at once when it already has). */
  whenClosed(fn: () => void): void {
    if (this.closedFlag) fn();
    else this.onClose.push(fn);
  }

  /** Detaches the tap; idempotent. Frames still queued stay readable. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.dataPlane.detachTap(this.linkIndex, this.tap);
    for (const fn of this.onClose.splice(0)) fn();
  }
}
