import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ImageIntegrityError, InvalidArgumentError } from '../errors/catalog.ts';
import { PIPELINE_COMPILER } from '../pipeline/compile-service.ts';
import type { FusedChainPart } from '../pipeline/fuse-chain.ts';
import { fusedParts } from '../pipeline/fused-pipeline.ts';
import type { CompiledPipeline } from '../pipeline/compiled-pipeline.ts';
import type { PipelineDefinition } from '../pipeline/define-pipeline.ts';
import { sha256Hex } from './canonical-json.ts';
import { configSha256 } from './config-digest.ts';
import { bundleImage, ESBUILD_VERSION, generatedModules, IMAGE_TARGET } from './image-bundler.ts';
import {
  computeBuildKey,
  computeImageId,
  DEFAULT_IMAGE_MEMORY_MIB,
  GENERATED_MODULE_PREFIX,
  IMAGE_DEVICES,
  IMAGE_FILE,
  IMAGE_FORMAT,
  SOURCE_MAP_FILE,
  type BuildInputs,
  type ImageManifest,
  type SealedBuildInputs,
} from './image-manifest.ts';
import type { ImageLease } from './image-lease.ts';
import { ImageStore } from './image-store.ts';
import { nfvkitVersion, PACKAGE_ROOT } from './package-info.ts';

/** Smallest and largest memory limit an image may ask for, in MiB. */
export const MIN_IMAGE_MEMORY_MIB = 8;
export const MAX_IMAGE_MEMORY_MIB = 65536;

/** Options of `buildImage`. */
export interface BuildImageOptions {
  /** Store to look up and seal into (default `ImageStore.open()`). */
  readonly store?: ImageStore;
  /** Memory limit in MiB (default: the function's `memoryMiB`, else `DEFAULT_IMAGE_MEMORY_MIB`). */
  readonly memoryMiB?: number;
  /**
   * Minify whitespace and syntax (default true; see `BundleOptions.minify`); part of the
   * build inputs. `false` builds a readable image (`nfvkit build --no-minify`).
   */
  readonly minify?: boolean;
  /** Bundle even when the store holds a current image for the same build key. */
  readonly force?: boolean;
  /**
   * A lease of `store` that holds the image from the moment it is found in the cache or
   * published (under the store's lock: no prune can remove it in between). Without one, a
   * cache hit only marks the image as used now.
   */
  readonly lease?: ImageLease;
}

/** How a build used the store's cache. */
export type ImageCacheOutcome =
  /** No image for this build key: bundled and sealed. */
  | 'miss'
  /** An image for this build key whose modules are unchanged: nothing bundled. */
  | 'hit'
  /** An image for this build key whose library sources changed since: bundled again. */
  | 'stale';

/** What `buildImage` did. */
export interface BuildImageResult {
  readonly manifest: ImageManifest;
  /** Absolute path of the sealed `image.mjs`. */
  readonly imagePath: string;
  /** Absolute path of its source map (`image.mjs.map`); undefined for an older image without one. */
  readonly sourceMapPath: string | undefined;
  readonly cache: ImageCacheOutcome;
  /** Wall time of the whole call (validate, compile, cache check, bundle, seal), ms. */
  readonly ms: number;
  /** esbuild warnings (empty on a cache hit). */
  readonly warnings: readonly string[];
}

/** A bundle and its sealed manifest, not yet in a store. */
export interface SealedImage {
  readonly bytes: Uint8Array;
  /** The bundle's source map (sealed by `manifest.sourceMap`). */
  readonly sourceMap: Uint8Array;
  readonly manifest: ImageManifest;
  readonly warnings: readonly string[];
}

/** The memory limit an image of `definition` gets: `requested`, else the function's, else the default. */
export function imageMemoryMiB(definition: PipelineDefinition<any>, requested?: number): number {
  return checkedMemoryMiB(requested ?? definition.memoryMiB ?? DEFAULT_IMAGE_MEMORY_MIB, requested);
}

function checkedMemoryMiB(mib: number, requested?: number): number {
  if (!Number.isInteger(mib) || mib < MIN_IMAGE_MEMORY_MIB || mib > MAX_IMAGE_MEMORY_MIB) {
    throw new InvalidArgumentError(`image memory must be a whole number of MiB from ${MIN_IMAGE_MEMORY_MIB} to ${MAX_IMAGE_MEMORY_MIB}, got ${requested ?? mib}`);
  }
  return mib;
}

/**
 * The canonical build inputs of an image of `compiled` and their hash, the build key:
 * function name, SHA-256 of the validated configuration's canonical JSON, SHA-256 of the
 * generated pipeline, memory limit, nfvkit and esbuild versions, target, minification.
 */
export function buildInputsFor(compiled: CompiledPipeline, memoryMiB: number, minify = true): SealedBuildInputs {
  const inputs: BuildInputs = {
    format: IMAGE_FORMAT,
    function: compiled.name,
    configSha256: configSha256(compiled),
    pipelineSha256: compiled.sourceHash,
    memoryMiB,
    nfvkitVersion: nfvkitVersion(),
    esbuildVersion: ESBUILD_VERSION,
    target: IMAGE_TARGET,
    minify,
  };
  return { ...inputs, key: computeBuildKey(inputs) };
}

/**
 * Bundles `compiled` and seals the result: the manifest with every field filled in (the
 * source map's size and hash included) and its id computed (`computeImageId`). Minified
 * unless `minify` is false. Touches no store.
 *
 * @example
 * ```ts
 * const compiled = compilePipeline(firewall, config);
 * const { bytes, manifest } = await sealImage(compiled, 256);
 * ```
 */
export async function sealImage(compiled: CompiledPipeline, memoryMiB: number, minify = true): Promise<SealedImage> {
  const build = buildInputsFor(compiled, memoryMiB, minify);
  const bundled = await bundleImage(compiled, { minify });
  const unsealed: Omit<ImageManifest, 'id'> = {
    format: IMAGE_FORMAT,
    name: compiled.name,
    file: IMAGE_FILE,
    size: bundled.bytes.length,
    sha256: sha256Hex(bundled.bytes),
    sourceMap: { file: SOURCE_MAP_FILE, size: bundled.sourceMap.length, sha256: sha256Hex(bundled.sourceMap) },
    memoryMiB,
    devices: IMAGE_DEVICES,
    counters: compiled.counters.map((c) => ({ name: c.name, element: c.element, drop: c.drop, help: c.help })),
    ...(compiled.parts === undefined ? {} : { parts: fusedParts(compiled.parts.map((p) => ({ COUNTERS: p.counters })), compiled.partNames ?? []) }),
    ...(compiled.stateBytes > 0 ? { stateBytes: compiled.stateBytes } : {}),
    trace: compiled.parts === undefined ? [compiled.trace] : compiled.parts.map((p) => p.trace),
    modules: bundled.modules,
    build,
  };
  const { format, ...rest } = unsealed;
  const manifest: ImageManifest = { format, id: computeImageId(unsealed), ...rest }; // id second in manifest.json
  return { bytes: bundled.bytes, sourceMap: bundled.sourceMap, manifest, warnings: bundled.warnings };
}

/**
 * `nfvkit build`: function + configuration → one sealed image in a store.
 *
 * 1. validate the configuration and compile the pipeline (errors: `ConfigValidationError`,
 *    `PipelineCompileError`), in a worker thread for functions registered with their
 *    module (`PIPELINE_COMPILER`), so a large rule set does not hold the event loop;
 * 2. compute the build key; if the store has an image for it whose bundled library
 *    modules still hash as recorded, that is a cache hit: nothing is bundled;
 * 3. otherwise bundle (`bundleImage`, minified unless `minify: false`), seal (`sealImage`)
 *    and add it, with its source map, to the store.
 *
 * Same inputs give the same image id byte for byte, whatever the working directory or
 * store path; a changed rule changes the config hash, hence the id.
 *
 * @example
 * ```ts
 * const r = await buildImage(firewall, { defaultPolicy: 'drop', rules: [] }, { store: ImageStore.open('/tmp/images') });
 * console.log(r.cache, r.manifest.id, r.manifest.size, r.imagePath);
 * ```
 */
export async function buildImage(definition: PipelineDefinition<any>, rawConfig: unknown, options: BuildImageOptions = {}): Promise<BuildImageResult> {
  const started = performance.now();
  const memoryMiB = imageMemoryMiB(definition, options.memoryMiB);
  return buildCompiledImage(await PIPELINE_COMPILER.compile(definition, rawConfig), memoryMiB, options, started);
}

/**
 * Builds (or finds in the store) the image of a fused chain (`compileFusedChain`): one image
 * holding every function's pipeline, run to completion by one instance. Its memory limit
 * is the sum of the parts' (each function's `memoryMiB` or the default) unless
 * `options.memoryMiB` says otherwise.
 *
 * @example
 * ```ts
 * const img = await buildFusedImage([{ name: 'fw', definition: firewall, config }, { name: 'nat', definition: nat, config: natConfig }]);
 * await ChainDataPlane.boot([img]);
 * ```
 */
export async function buildFusedImage(parts: readonly FusedChainPart[], options: BuildImageOptions = {}): Promise<BuildImageResult> {
  const started = performance.now();
  const memoryMiB = options.memoryMiB ?? Math.min(MAX_IMAGE_MEMORY_MIB, parts.reduce((sum, p) => sum + imageMemoryMiB(p.definition), 0));
  return buildCompiledImage(await PIPELINE_COMPILER.compileFused(parts), checkedMemoryMiB(memoryMiB), options, started);
}

async function buildCompiledImage(compiled: CompiledPipeline, memoryMiB: number, options: BuildImageOptions, started: number): Promise<BuildImageResult> {
  const store = options.store ?? ImageStore.open();
  const minify = options.minify !== false;
  const key = buildInputsFor(compiled, memoryMiB, minify).key;

  let cache: ImageCacheOutcome = 'miss';
  const known = store.findByBuildKey(key);
  // Held (or marked used) before it is checked: a prune from now on keeps it, one before removed it.
  const present = known !== undefined && (options.lease === undefined ? store.touch(known.id) : options.lease.hold(known.id));
  if (known !== undefined && present) {
    const manifest = currentManifest(store, known.id, compiled);
    if (manifest !== undefined && options.force !== true) {
      return { manifest, imagePath: store.imagePath(manifest.id), sourceMapPath: sourceMapBeside(store, manifest), cache: 'hit', ms: performance.now() - started, warnings: [] };
    }
    cache = manifest === undefined ? 'stale' : 'miss';
  }
  const sealed = await sealImage(compiled, memoryMiB, minify);
  store.add(sealed.bytes, sealed.manifest, { sourceMap: sealed.sourceMap, ...(options.lease === undefined ? {} : { lease: options.lease }) });
  return {
    manifest: sealed.manifest,
    imagePath: store.imagePath(sealed.manifest.id),
    sourceMapPath: sourceMapBeside(store, sealed.manifest),
    cache,
    ms: performance.now() - started,
    warnings: sealed.warnings,
  };
}

/**
 * Where the source map of stored image `manifest` lies, from the manifest in hand
 * (`ImageStore.sourceMapPath` reads and checks the manifest again: for a fused chain of 13
 * firewalls, 4251 counters, that was ~70 ms of the event loop per build).
 */
function sourceMapBeside(store: ImageStore, manifest: ImageManifest): string | undefined {
  return manifest.sourceMap === undefined ? undefined : join(dirname(store.imagePath(manifest.id)), manifest.sourceMap.file);
}

/**
 * The manifest of stored image `id` if it is intact and still current: its bundle matches
 * the manifest and every library module it lists hashes the same in this checkout.
 */
function currentManifest(store: ImageStore, id: string, compiled: CompiledPipeline): ImageManifest | undefined {
  let manifest: ImageManifest;
  try {
    manifest = store.verify(id);
  } catch (err) {
    if (err instanceof ImageIntegrityError) return undefined;
    throw err;
  }
  const generated = generatedModules(compiled);
  for (const m of manifest.modules) {
    let sha: string;
    if (m.path.startsWith(GENERATED_MODULE_PREFIX)) {
      const source = generated.get(m.path);
      if (source === undefined) return undefined;
      sha = sha256Hex(source);
    } else {
      try {
        sha = sha256Hex(readFileSync(join(PACKAGE_ROOT, m.path)));
      } catch {
        return undefined;
      }
    }
    if (sha !== m.sha256) return undefined;
  }
  return manifest;
}
