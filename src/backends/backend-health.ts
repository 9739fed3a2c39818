/** Health of one checked backend: `unknown` until a probe decides (it takes flows meanwhile). */
export type HealthState = 'unknown' | 'up' | 'down';

/**
 * The rise/fall rule of one backend's health (as keepalived and HAProxy count): `fall`
 * failed probes in a row take an `up` or `unknown` backend `down`; `rise` good probes in a
 * row bring a `down` one `up`; the first good probe makes an `unknown` one `up`.
 *
 * @example
 * ```ts
 * const h = new BackendHealth(2, 3);
 * h.record(false); h.record(false);
 * h.record(false); // 'down': the state changed
 * ```
 */
export class BackendHealth {
  state: HealthState = 'unknown';
  /** Results in a row that agree with the last one. */
  private streak = 0;
  private lastOk: boolean | undefined;

  constructor(
    readonly rise: number,
    readonly fall: number,
  ) {}

  /** Counts one probe result; returns the new state when it changed, else undefined. */
  record(ok: boolean): HealthState | undefined {
    this.streak = ok === this.lastOk ? this.streak + 1 : 1;
    this.lastOk = ok;
    const before = this.state;
    if (ok && (before === 'unknown' || (before === 'down' && this.streak >= this.rise))) this.state = 'up';
    else if (!ok && before !== 'down' && this.streak >= this.fall) this.state = 'down';
    return this.state === before ? undefined : this.state;
  }
}
