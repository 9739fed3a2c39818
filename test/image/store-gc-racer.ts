/**
 * One side of the build-vs-prune race (image-store-gc.test.ts), run as its own process:
 * `adder <store> <barrier-dir> <ms>` adds the same image under a lease, checks it at once,
 * lets it go; `pruner <store> <barrier-dir> <ms>` prunes every unused image, then checks
 * that every image the index lists is whole. Both wait until the other is ready (a file in
 * the barrier directory), then race for `ms`. Prints a JSON summary.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../src/image/image-store.ts';
import { fakeImage } from './fake-image.ts';

const [role, dir, barrier, msText] = process.argv.slice(2);
const store = ImageStore.open(dir);
const image = fakeImage('raced', 'same bytes every time', 4096);
let failures = 0;
let removed = 0;
let rounds = 0;
const errors: string[] = [];
const sleeper = new Int32Array(new SharedArrayBuffer(4));

writeFileSync(join(barrier, role), '');
const other = join(barrier, role === 'adder' ? 'pruner' : 'adder');
const giveUp = Date.now() + 60_000;
while (!existsSync(other) && Date.now() < giveUp) Atomics.wait(sleeper, 0, 0, 5);
const end = Date.now() + Number(msText);

if (role === 'adder') {
  const lease = store.lease('adder');
  while (Date.now() < end) {
    rounds++;
    store.add(image.bytes, image.manifest, { lease });
    try {
      store.verify(image.manifest.id); // held since it was published: no prune may have taken it
    } catch (err) {
      failures++;
      errors.push((err as Error).message);
    }
    lease.set([]);
  }
  lease.close();
} else {
  while (Date.now() < end) {
    rounds++;
    removed += store.prune({ olderThanMs: 0 }).removed.length;
    Atomics.wait(sleeper, 0, 0, 1); // leave the lock free a moment: the adder waits for it in 5 ms polls
    for (const entry of store.list()) {
      try {
        store.verify(entry.id); // only this process removes: a listed image must be whole
      } catch (err) {
        failures++;
        errors.push((err as Error).message);
      }
    }
  }
}
process.stdout.write(JSON.stringify({ role, rounds, failures, removed, errors: errors.slice(0, 3) }));
