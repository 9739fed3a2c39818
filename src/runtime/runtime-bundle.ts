import { mkdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ImageBuildError } from '../errors/catalog.ts';
import { sha256Hex } from '../image/canonical-json.ts';
import { INSTANCE_BUNDLE_OPTIONS } from '../image/image-bundler.ts';
import { PACKAGE_ROOT } from '../image/package-info.ts';

/** A runtime bundle: what instances import beside their image. */
interface RuntimeBundle {
  /** Entry module, relative to the package root. */
  readonly entry: string;
  /** File name prefix under the runtime directory. */
  readonly name: string;
  /** What the bundle is, for its banner. */
  readonly purpose: string;
}

const PORT_RUNTIME: RuntimeBundle = { entry: 'src/dataplane/ports/local-ports.ts', name: 'local-ports', purpose: 'instances open their own ports with it' };
const DIRECT_LINK_RUNTIME: RuntimeBundle = { entry: 'src/dataplane/links/direct-link.ts', name: 'direct-links', purpose: 'instances link directly to the adjacent stages with it' };
const PROCESS_BOOTSTRAP: RuntimeBundle = { entry: 'src/runtime/instance-process.ts', name: 'instance-process', purpose: 'the entry of an instance process' };

const cached = new Map<RuntimeBundle, Promise<string>>();

/**
 * The path of the port runtime: `src/dataplane/ports/local-ports.ts` and what it imports,
 * bundled into one ES module (see `runtimeBundlePath`). An instance whose chain places the
 * ports in the instances imports it at boot.
 *
 * @example
 * ```ts
 * const bundle = await portRuntimePath();
 * await dataPlane.addInstance(0, image, { ports: { inside: { type: 'generator', frames }, outside: { type: 'sink' } } });
 * ```
 */
export function portRuntimePath(): Promise<string> {
  return runtimeBundlePath(PORT_RUNTIME);
}

/**
 * The path of the direct-link runtime: `src/dataplane/links/direct-link.ts` and what it
 * imports (queue pairs, steering, link tables), bundled into one ES module. An instance of
 * a data plane with `links: 'direct'` imports it at boot; images do not carry it.
 */
export function directLinkRuntimePath(): Promise<string> {
  return runtimeBundlePath(DIRECT_LINK_RUNTIME);
}

/** The path of the bootstrap an instance process runs (`src/runtime/instance-process.ts`, bundled). */
export function processBootstrapPath(): Promise<string> {
  return runtimeBundlePath(PROCESS_BOOTSTRAP);
}

/**
 * A module and what it imports, bundled by esbuild into one ES module (plain JavaScript:
 * instances run without a TypeScript loader), written once per content under
 * `.nfvkit/runtime/` (or `$NFVKIT_RUNTIME_DIR`) as `<name>-<sha256>.mjs`. Built once per
 * process.
 */
function runtimeBundlePath(bundle: RuntimeBundle): Promise<string> {
  let path = cached.get(bundle);
  if (path === undefined) {
    path = buildRuntimeBundle(bundle).catch((err) => {
      cached.delete(bundle);
      throw err;
    });
    cached.set(bundle, path);
  }
  return path;
}

async function buildRuntimeBundle(bundle: RuntimeBundle): Promise<string> {
  let result;
  try {
    result = await build({
      entryPoints: [bundle.entry],
      ...INSTANCE_BUNDLE_OPTIONS,
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'none',
      logLevel: 'silent',
      banner: { js: `// nfvkit ${bundle.name} runtime (${bundle.purpose}); built by nfvkit, do not edit.` },
    });
  } catch (err) {
    throw new ImageBuildError(`bundling the ${bundle.name} runtime failed: ${(err as Error).message}`, { cause: err });
  }
  const bytes = result.outputFiles[0].contents;
  const dir = process.env.NFVKIT_RUNTIME_DIR ?? join(PACKAGE_ROOT, '.nfvkit', 'runtime');
  const path = join(dir, `${bundle.name}-${sha256Hex(bytes)}.mjs`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  }
  return path;
}
