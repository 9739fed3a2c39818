/**
 * Child process of the state-store crash test: saves generation 1, 2, 3, … of a large
 * chain to the state directory named by `$STATE_WRITER_DIR`, printing `saved <n>` after each save
 * resolves, until it is killed.
 */
import { StateStore, type StoredState } from '../../../src/controller/state-store.ts';

/** The state the writer saves as generation `n` (the test checks what it reads back against it). */
export function writerState(n: number): StoredState {
  const filler = String.fromCharCode(97 + (n % 26)).repeat(256 * 1024);
  return { chains: [{ name: 'big', source: 'big.yaml', specYaml: `# generation ${n}\n# ${filler}\n`, generation: n, appliedAt: n, replicas: { hop: n % 5 } }] };
}

const dir = process.env.STATE_WRITER_DIR;
if (dir !== undefined) {
  const store = StateStore.open(dir);
  for (let n = 1; ; n++) {
    await store.save(writerState(n));
    process.stdout.write(`saved ${n}\n`);
  }
}
