/**
 * One side of the build-vs-prune race (image-store-gc.test.ts), run as its own process:
 * `adder <store> <rounds>` adds the same image under a lease, checks it at once, lets it go;
 * `pruner <store> <rounds>` prunes every unused image, then checks that every image the
 * index lists is whole. Prints a JSON summary.
 */
import { ImageStore } from '../../src/image/image-store.ts';
import { fakeImage } from './fake-image.ts';

const [role, dir, roundsText] = process.argv.slice(2);
const rounds = Number(roundsText);
const store = ImageStore.open(dir);
const image = fakeImage('raced', 'same bytes every time', 4096);
let failures = 0;
let removed = 0;
const errors: string[] = [];

if (role === 'adder') {
  const lease = store.lease('adder');
  for (let i = 0; i < rounds; i++) {
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
  for (let i = 0; i < rounds; i++) {
    removed += store.prune({ olderThanMs: 0 }).removed.length;
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
process.stdout.write(JSON.stringify({ role, failures, removed, errors: errors.slice(0, 3) }));
