import { canonicalJson, sha256Hex } from '../image/canonical-json.ts';
import type { ChainFunctionSpec, ChainSpec } from './chain-spec.ts';

/**
 * Stable hashes of a chain spec, for idempotent apply: two specs that say the same thing
 * (whatever their key order, comments, quoting or left-out defaults) have the same digest.
 * Each is the SHA-256 (hex) of the canonical JSON of the spec as written plus its defaults,
 * with function configurations as written (`rawConfig`), not parsed.
 *
 * @example
 * ```ts
 * if (chainSpecDigest(next) === chainSpecDigest(running)) return { changed: false };
 * const rebuild = next.spec.functions.filter((f, i) => functionSpecDigest(f) !== functionSpecDigest(running.spec.functions[i]));
 * ```
 */
export function chainSpecDigest(spec: ChainSpec): string {
  let digest = digests.get(spec);
  if (digest === undefined) digests.set(spec, (digest = sha256Hex(canonicalJson(canonicalChainSpec(spec)))));
  return digest;
}

/** Digests known by spec object (specs are read-only): each is computed once. */
const digests = new WeakMap<ChainSpec, string>();

/**
 * Records the digest of `spec` computed elsewhere (`SpecParser`'s worker computes it next
 * to the parse: the canonical JSON of a large spec costs the event loop tens of ms).
 */
export function rememberChainSpecDigest(spec: ChainSpec, digest: string): void {
  digests.set(spec, digest);
}

/**
 * Hash of what decides a function's image: the registered function, its configuration as
 * written and its memory limit (or the image id and memory limit of a prebuilt image).
 * Scaling settings are left out: changing them rescales without a new image.
 */
export function functionSpecDigest(fn: ChainFunctionSpec): string {
  const identity = fn.image !== undefined ? { image: fn.image, memoryMiB: fn.resources.memoryMiB } : { function: fn.function, config: fn.rawConfig, memoryMiB: fn.resources.memoryMiB };
  return sha256Hex(canonicalJson(identity));
}

/** The spec as plain JSON data: parsed configs left out (they derive from `rawConfig`). */
export function canonicalChainSpec(spec: ChainSpec): unknown {
  return {
    apiVersion: spec.apiVersion,
    kind: spec.kind,
    metadata: spec.metadata,
    spec: {
      ingress: spec.spec.ingress,
      egress: spec.spec.egress,
      classifier: spec.spec.classifier,
      functions: spec.spec.functions.map((fn) => ({
        name: fn.name,
        function: fn.function,
        image: fn.image,
        config: fn.rawConfig,
        scaling: fn.scaling,
        // Left out when empty: specs without checks keep the digests they had before checks existed.
        ...(fn.healthChecks.length > 0 ? { healthChecks: fn.healthChecks } : {}),
        resources: fn.resources,
      })),
    },
  };
}
