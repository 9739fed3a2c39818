import { loadNativeAddon } from '../../src/native/native-addon.ts';

const native = loadNativeAddon();

/**
 * The UDP back ends I/O tests run against: dgram always, native where the addon is built
 * (elsewhere the native cases are skipped with the loader's reason, and CI, which sets
 * `NFVKIT_NATIVE_REQUIRED=1`, fails in `native-addon.test.ts` instead of skipping).
 */
export const UDP_BACKENDS = [
  { backend: 'native' as const, skip: native.available ? undefined : `native addon not available: ${native.reason}` },
  { backend: 'dgram' as const, skip: undefined },
] as const;
