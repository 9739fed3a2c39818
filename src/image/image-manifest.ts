/**
 * The nfvkit image format (`nfvkit-image/1`). An image is one function with one
 * configuration, sealed: immutable, named by its content hash.
 *
 * - `image.mjs` — one ES module (Node ≥ 20, no imports but `node:` built-ins), bundled by
 *   esbuild from the generated pipeline, the instance entry (`src/runtime/instance-main.ts`)
 *   and exactly the library modules those import. Started as
 *   `new Worker(file, { workerData: InstanceWorkerData, execArgv: [], resourceLimits:
 *   { maxOldGenerationSizeMb: manifest.memoryMiB } })` it attaches the pool and eth0/eth1
 *   and runs; imported in process it only exports `createPipeline`, `COUNTERS`, `FUNCTION_NAME`.
 * - `image.mjs.map` — the bundle's source map (sources embedded, package-relative paths),
 *   beside the bundle and not referenced from it: for mapping a minified stack position
 *   back to the sources. The instance never reads it.
 * - `manifest.json` — `ImageManifest`: name, id, size and SHA-256 of the bundle (and of
 *   the source map), memory limit, devices, counters, modules (package-relative paths with
 *   their hashes and bytes in the bundle), build inputs.
 * - **Image id** = SHA-256 of the canonical JSON of the manifest without `id`
 *   (`computeImageId`); it covers the bundle through the bundle's SHA-256.
 * - **Build key** = SHA-256 of the canonical JSON of the build inputs (`computeBuildKey`):
 *   the store's cache key, computed before bundling.
 */
import { z } from 'zod';
import { ImageIntegrityError } from '../errors/catalog.ts';
import type { CounterInfo, PipelineTraceInfo } from '../pipeline/compiled-pipeline.ts';
import type { FusedPart } from '../pipeline/fused-pipeline.ts';
import { canonicalJson, sha256Hex } from './canonical-json.ts';

/** Format tag of the images this builder writes; a reader refuses other formats. */
export const IMAGE_FORMAT = 'nfvkit-image/1';

/** File name of an image's bundle inside its store directory. */
export const IMAGE_FILE = 'image.mjs';

/** File name of an image's source map inside its store directory (beside the bundle). */
export const SOURCE_MAP_FILE = 'image.mjs.map';

/** File name of an image's manifest inside its store directory. */
export const MANIFEST_FILE = 'manifest.json';

/** Memory limit of an image when neither `--memory` nor the function's `memoryMiB` says one. */
export const DEFAULT_IMAGE_MEMORY_MIB = 64;

/** Prefix of the modules the builder generates (no file on disk): the pipeline and the entry. */
export const GENERATED_MODULE_PREFIX = 'nfvkit-image:';

/** One network device of an instance. */
export interface ImageDevice {
  readonly name: string;
  readonly side: 'inside' | 'outside';
  readonly model: 'virtio-net';
}

/** The devices every image has today: eth0 inside, eth1 outside (`InstanceWorkerData`). */
export const IMAGE_DEVICES: readonly ImageDevice[] = [
  { name: 'eth0', side: 'inside', model: 'virtio-net' },
  { name: 'eth1', side: 'outside', model: 'virtio-net' },
];

/** One module bundled into an image. */
export interface ImageModule {
  /**
   * Path relative to the nfvkit package root with `/` separators (`src/packet/parse-frame.ts`,
   * `node_modules/…`), or `nfvkit-image:pipeline.mjs` / `nfvkit-image:entry.mjs` for the
   * two generated modules.
   */
  readonly path: string;
  /** Bytes the module contributes to the bundle. */
  readonly bytes: number;
  /** SHA-256 of the module's source as read by the bundler. */
  readonly sha256: string;
}

/** An image's source map, sealed by the manifest like the bundle. */
export interface ImageSourceMap {
  /** File name in the image directory (`image.mjs.map`). */
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * The canonical build inputs of an image. Their hash (`BuildInputs` without `key`, as
 * canonical JSON, SHA-256) is the **build key**: the store's cache key, known before
 * bundling. Library sources are not in the key (they are only known after resolving
 * imports); a cache hit is confirmed by re-hashing the modules the manifest lists.
 */
export interface BuildInputs {
  readonly format: string;
  /** Function name. */
  readonly function: string;
  /** SHA-256 of the canonical JSON of the *validated* configuration (defaults applied). */
  readonly configSha256: string;
  /** SHA-256 of the generated pipeline source (`CompiledPipeline.sourceHash`). */
  readonly pipelineSha256: string;
  /** Memory limit of the image in MiB. */
  readonly memoryMiB: number;
  /** nfvkit package version. */
  readonly nfvkitVersion: string;
  /** esbuild version that bundles. */
  readonly esbuildVersion: string;
  /** esbuild target (`node20`). */
  readonly target: string;
  /** Whitespace and syntax minification (the default; identifiers are never renamed). */
  readonly minify: boolean;
}

/** Build inputs with their hash. */
export interface SealedBuildInputs extends BuildInputs {
  /** SHA-256 of the canonical JSON of the other fields: the cache key. */
  readonly key: string;
}

/**
 * An image's manifest (`manifest.json` beside `image.mjs`). Its `id` is the image id:
 *
 *   id = SHA-256( canonicalJson(manifest without `id`) )
 *
 * The manifest carries the bundle's own SHA-256 (`sha256`) and size (and the source map's),
 * so the id seals the bundle's bytes and every field that says how to run them (memory
 * limit, devices, counters, modules, build inputs). There is no timestamp in it: the same
 * inputs give the same bundle, source map, manifest and id, byte for byte. The time an image entered
 * a store is in the store's index.
 */
export interface ImageManifest {
  readonly format: string;
  /** Image id: 64 hex digits (see above). */
  readonly id: string;
  /** Function name. */
  readonly name: string;
  /** Bundle file name in the image directory (`image.mjs`). */
  readonly file: string;
  /** Bundle size in bytes. */
  readonly size: number;
  /** SHA-256 of the bundle bytes. */
  readonly sha256: string;
  /** The source map beside the bundle (absent in images built before source maps were kept). */
  readonly sourceMap?: ImageSourceMap;
  /** Heap limit of an instance (`resourceLimits.maxOldGenerationSizeMb`). */
  readonly memoryMiB: number;
  readonly devices: readonly ImageDevice[];
  /** The pipeline's counters, indexed by slot (`countersSab` holds one float64 each). */
  readonly counters: readonly CounterInfo[];
  /** A fused chain's functions, in chain order, each with its block of `counters`. */
  readonly parts?: readonly FusedPart[];
  /** Bytes of connection state an instance keeps in host memory (`CompiledPipeline.stateBytes`); absent: none. */
  readonly stateBytes?: number;
  /**
   * What trace records' element and note numbers name: one entry per pipeline (a fused
   * image: per part, in chain order). Absent in images built before traces.
   */
  readonly trace?: readonly PipelineTraceInfo[];
  /** Every module in the bundle, sorted by path. */
  readonly modules: readonly ImageModule[];
  readonly build: SealedBuildInputs;
}

/** The image id of a manifest: SHA-256 of its canonical JSON without `id`. */
export function computeImageId(manifest: Omit<ImageManifest, 'id'> | ImageManifest): string {
  return sha256Hex(canonicalJson({ ...manifest, id: undefined }));
}

/** The build key of `inputs` (SHA-256 of their canonical JSON, `key` left out). */
export function computeBuildKey(inputs: BuildInputs): string {
  return sha256Hex(canonicalJson({ ...inputs, key: undefined }));
}

/**
 * `manifest.json` text: JSON in the manifest's fixed field order, two-space indent, one
 * line per device, counter and module; newline-terminated. Deterministic.
 */
export function renderManifest(manifest: ImageManifest): string {
  const fields = Object.entries(manifest);
  const lines = fields.map(([key, value], i) => {
    let text: string;
    if (Array.isArray(value)) {
      text = value.length === 0 ? '[]' : `[\n${value.map((v) => `    ${JSON.stringify(v)}`).join(',\n')}\n  ]`;
    } else if (typeof value === 'object' && value !== null) {
      text = JSON.stringify(value, null, 2).replace(/\n/g, '\n  ');
    } else {
      text = JSON.stringify(value);
    }
    return `  ${JSON.stringify(key)}: ${text}${i < fields.length - 1 ? ',' : ''}`;
  });
  return `{\n${lines.join('\n')}\n}\n`;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const manifestSchema = z.object({
  format: z.literal(IMAGE_FORMAT),
  id: hex64,
  name: z.string().min(1),
  file: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: hex64,
  sourceMap: z.object({ file: z.string().min(1), size: z.number().int().nonnegative(), sha256: hex64 }).optional(),
  memoryMiB: z.number().int().positive(),
  devices: z.array(z.object({ name: z.string(), side: z.enum(['inside', 'outside']), model: z.literal('virtio-net') })),
  counters: z.array(z.object({ name: z.string(), element: z.string(), drop: z.boolean(), help: z.string() })),
  parts: z.array(z.object({ name: z.string(), firstCounter: z.number().int().nonnegative(), counterCount: z.number().int().nonnegative() })).optional(),
  stateBytes: z.number().int().positive().max(2 ** 31).optional(),
  trace: z
    .array(
      z.object({
        elements: z.array(z.string()),
        notes: z.array(z.object({ element: z.number().int().nonnegative(), label: z.string(), values: z.array(z.string()).optional() })),
      }),
    )
    .optional(),
  modules: z.array(z.object({ path: z.string(), bytes: z.number().int().nonnegative(), sha256: hex64 })),
  build: z.object({
    format: z.string(),
    function: z.string(),
    configSha256: hex64,
    pipelineSha256: hex64,
    memoryMiB: z.number().int().positive(),
    nfvkitVersion: z.string(),
    esbuildVersion: z.string(),
    target: z.string(),
    minify: z.boolean(),
    key: hex64,
  }),
});

/**
 * Parses `manifest.json` text and checks that it is sealed: right format, every field
 * present, and `id` equal to the hash of the rest. Throws `ImageIntegrityError` otherwise.
 *
 * @example
 * ```ts
 * const manifest = parseManifest(readFileSync(join(dir, MANIFEST_FILE), 'utf8'), dir);
 * ```
 */
export function parseManifest(text: string, where: string): ImageManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ImageIntegrityError(`${where}: manifest is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ImageIntegrityError(`${where}: not an ${IMAGE_FORMAT} manifest (${first.path.join('.') || '(root)'}: ${first.message})`);
  }
  const manifest = parsed.data as ImageManifest;
  const id = computeImageId(manifest);
  if (id !== manifest.id) throw new ImageIntegrityError(`${where}: manifest says id ${manifest.id.slice(0, 12)} but its content hashes to ${id.slice(0, 12)}`);
  return manifest;
}
