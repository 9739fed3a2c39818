import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { build, version as esbuildVersion, type Message, type Plugin } from 'esbuild';
import { ImageBuildError } from '../errors/catalog.ts';
import type { CompiledPipeline } from '../pipeline/compiled-pipeline.ts';
import { fusedPartModule } from '../pipeline/fuse-chain.ts';
import { sha256Hex } from './canonical-json.ts';
import { GENERATED_MODULE_PREFIX, IMAGE_FILE, SOURCE_MAP_FILE, type ImageModule } from './image-manifest.ts';
import { PACKAGE_ROOT } from './package-info.ts';

/** esbuild target of images: the Node line nfvkit runs on. */
export const IMAGE_TARGET = 'node20';

/** esbuild options every bundle instances load shares: one ES module for Node, from the package root, kept in memory. */
export const INSTANCE_BUNDLE_OPTIONS = {
  absWorkingDir: PACKAGE_ROOT,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: IMAGE_TARGET,
  write: false,
} as const;

/** The esbuild version the builder uses (part of every image's build inputs). */
export const ESBUILD_VERSION: string = esbuildVersion;

/** Path (in the generated namespace) of the image's entry module. */
export const ENTRY_MODULE = `${GENERATED_MODULE_PREFIX}entry.mjs`;
/** Path (in the generated namespace) of the compiled pipeline module. */
export const PIPELINE_MODULE = `${GENERATED_MODULE_PREFIX}pipeline.mjs`;

/**
 * Source of an image's entry module: boot the pipeline when started as an instance worker,
 * and re-export it so the image can also be imported in process.
 */
export const ENTRY_SOURCE =
  `import { createPipeline, COUNTERS, FUNCTION_NAME } from ${JSON.stringify(PIPELINE_MODULE)};\n` +
  `import { startInstanceIfBooted } from "#nfvkit/runtime/instance-main.ts";\n` +
  `export { createPipeline, COUNTERS, FUNCTION_NAME };\n` +
  `startInstanceIfBooted({ createPipeline, COUNTERS, FUNCTION_NAME });\n`;

/** Options of `bundleImage`. */
export interface BundleOptions {
  /**
   * Minify whitespace and syntax (default true: about 40 % smaller, and less for the
   * instance to parse when it boots). Identifiers are never renamed, so function and class
   * names stay in stack traces and error names stay right (`new.target.name`); line and
   * column numbers map back to the sources through the source map beside the bundle.
   * `false` gives a readable bundle with one `// path` comment per module.
   */
  readonly minify?: boolean;
}

/** A bundle and what went into it. */
export interface BundledImage {
  /** The bundle (`image.mjs`): one ES module, only Node built-ins left as imports. */
  readonly bytes: Uint8Array;
  /**
   * Source map of the bundle (`image.mjs.map`), with the sources' text embedded and
   * package-relative source paths. It is NOT referenced from the bundle (no
   * `sourceMappingURL` comment): the store keeps it beside the bundle for debugging.
   */
  readonly sourceMap: Uint8Array;
  /** Every module esbuild read, sorted by path, with the bytes it contributes. */
  readonly modules: ImageModule[];
  /** esbuild warnings, formatted `file:line: text`. */
  readonly warnings: string[];
}

/**
 * Bundles a compiled pipeline and the instance runtime (`src/runtime/instance-main.ts`)
 * into one ES module with esbuild: format esm, platform node, target `node20`, whitespace
 * and syntax minified unless `minify: false` (identifiers never), an external source map
 * (a separate output, not linked from the bundle), no legal comments, bundled from the
 * package root (so every path esbuild records is package-relative and `#nfvkit/…` /
 * `#functions/…` resolve through package.json `imports`), TypeScript compiled away. The generated
 * pipeline and the entry are virtual modules (`nfvkit-image:*`): nothing is written to disk.
 *
 * The output is a function of the pipeline source, the library sources it reaches, the
 * options and the esbuild version only: not of the working directory, the checkout's location or the time.
 * Throws `ImageBuildError` when esbuild fails or the bundle would still import anything but
 * a Node built-in.
 *
 * @example
 * ```ts
 * const { bytes, modules, sourceMap } = await bundleImage(compilePipeline(passThrough, {}));
 * ```
 */
/**
 * The generated modules of an image, by path: the entry, the pipeline and, for a fused
 * chain, each part's pipeline (`fusedPartModule(i)`).
 */
export function generatedModules(compiled: CompiledPipeline): Map<string, string> {
  const modules = new Map<string, string>([
    [ENTRY_MODULE, ENTRY_SOURCE],
    [PIPELINE_MODULE, compiled.source],
  ]);
  compiled.parts?.forEach((part, i) => modules.set(fusedPartModule(i), part.source));
  return modules;
}

export async function bundleImage(compiled: CompiledPipeline, options: BundleOptions = {}): Promise<BundledImage> {
  const minify = options.minify !== false;
  const virtual = generatedModules(compiled);
  const generated: Plugin = {
    name: 'nfvkit-image',
    setup(b) {
      b.onResolve({ filter: /^nfvkit-image:/ }, (args) => ({ path: args.path.slice(GENERATED_MODULE_PREFIX.length), namespace: 'nfvkit-image' }));
      b.onLoad({ filter: /.*/, namespace: 'nfvkit-image' }, (args) => {
        const contents = virtual.get(GENERATED_MODULE_PREFIX + args.path);
        return contents === undefined
          ? { errors: [{ text: `no generated module ${args.path}` }] }
          : { contents, loader: 'js', resolveDir: PACKAGE_ROOT };
      });
    },
  };

  let result;
  try {
    result = await build({
      entryPoints: [ENTRY_MODULE],
      outfile: IMAGE_FILE,
      ...INSTANCE_BUNDLE_OPTIONS,
      metafile: true,
      sourcemap: 'external',
      sourcesContent: true,
      minifyWhitespace: minify,
      minifySyntax: minify,
      minifyIdentifiers: false,
      legalComments: 'none',
      charset: 'utf8',
      logLevel: 'silent',
      banner: { js: `// nfvkit image of function "${compiled.name}" (pipeline ${compiled.sourceHash.slice(0, 16)}); built by nfvkit, do not edit.` },
      plugins: [generated],
    });
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    const detail = errors?.map(formatMessage).join('; ') ?? (err as Error).message;
    throw new ImageBuildError(`bundling ${compiled.name} failed: ${detail}`, { cause: err });
  }

  const output = result.outputFiles.find((f) => f.path === join(PACKAGE_ROOT, IMAGE_FILE));
  const map = result.outputFiles.find((f) => f.path === join(PACKAGE_ROOT, SOURCE_MAP_FILE));
  const meta = result.metafile.outputs[IMAGE_FILE];
  if (output === undefined || map === undefined || meta === undefined) {
    throw new ImageBuildError(`bundling ${compiled.name} produced no ${IMAGE_FILE} or no ${SOURCE_MAP_FILE}`);
  }
  const foreign = meta.imports.filter((i) => !isBuiltin(i.path)).map((i) => i.path);
  if (foreign.length > 0) throw new ImageBuildError(`image of ${compiled.name} would import modules it does not hold: ${foreign.join(', ')}`);

  const modules: ImageModule[] = Object.keys(result.metafile.inputs)
    .sort()
    .map((path) => {
      const source = virtual.get(path) ?? readFileSync(join(PACKAGE_ROOT, path));
      return { path, bytes: meta.inputs[path]?.bytesInOutput ?? 0, sha256: sha256Hex(source) };
    });
  return { bytes: output.contents, sourceMap: map.contents, modules, warnings: result.warnings.map(formatMessage) };
}

function formatMessage(m: Message): string {
  return m.location === null ? m.text : `${m.location.file}:${m.location.line}: ${m.text}`;
}
