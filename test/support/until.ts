/**
 * Polls `cond` every `everyMs` until it holds (true) or `ms` passed (false): for tests
 * that wait for a state another thread, process or the kernel reaches, bounded in time.
 *
 * @example
 * ```ts
 * expect(await until(() => group.attached(), 10_000)).toBe(true);
 * ```
 */
export async function until(cond: () => boolean, ms: number, everyMs = 5): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return true;
}
