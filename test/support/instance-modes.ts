import type { InstanceMode } from '../../src/dataplane/chain-data-plane.ts';
import { MemfdMemory } from '../../src/memory/shared-memory.ts';

/**
 * The instance modes tests run in: `process` (sandboxed OS processes over a memfd) where
 * the native addon is loaded, always `worker` (threads, the fallback). CI requires the
 * addon (`NFVKIT_NATIVE_REQUIRED=1`), so both run there.
 */
export const INSTANCE_MODES: readonly InstanceMode[] = MemfdMemory.available() ? ['process', 'worker'] : ['worker'];
