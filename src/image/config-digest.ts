import type { CompiledPipeline } from '../pipeline/compiled-pipeline.ts';
import { canonicalJson, sha256Hex } from './canonical-json.ts';

/** Digests known by compiled pipeline (compiled pipelines are read-only): each is computed once. */
const digests = new WeakMap<CompiledPipeline, string>();

/**
 * SHA-256 (hex) of the canonical JSON of `compiled.config`: the `configSha256` of its build
 * inputs. Computed once per compiled pipeline (an image build asks twice: for the build key
 * and for the manifest), or taken from where it was computed with the pipeline
 * (`rememberConfigSha256`): the config of a fused chain of 13 firewalls of 256 rules
 * costs tens of ms to serialize.
 *
 * @example
 * ```ts
 * const inputs = { configSha256: configSha256(compiled), pipelineSha256: compiled.sourceHash };
 * ```
 */
export function configSha256(compiled: CompiledPipeline): string {
  let digest = digests.get(compiled);
  if (digest === undefined) digests.set(compiled, (digest = configSha256Of(compiled.config)));
  return digest;
}

/** The digest of a validated configuration (what `configSha256` computes). */
export function configSha256Of(config: unknown): string {
  return sha256Hex(canonicalJson(config));
}

/** Records `compiled`'s config digest computed elsewhere (the pipeline compile worker). */
export function rememberConfigSha256(compiled: CompiledPipeline, digest: string): void {
  digests.set(compiled, digest);
}
