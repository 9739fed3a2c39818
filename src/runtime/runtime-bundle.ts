import { mkdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ImageBuildError } from '../errors/catalog.ts';
import { sha256Hex } from '../image/canonical-json.ts';
import { IMAGE_TARGET } from '../image/image-bundler.ts';
import { PACKAGE_ROOT } from '../image/package-info.ts';

/** The module instances import to open their own ports (`openLocalPorts`). */
const ENTRY = 'src/dataplane/ports/local-ports.ts';

let cached: Promise<string> | undefined;

/**
 * The path of the port runtime: `src/dataplane/ports/local-ports.ts` and what it imports,
 * bundled by esbuild into one ES module (plain JavaScript: instances run without a
 * TypeScript loader), written once per content under `.nfvkit/runtime/` (or
 * `$NFVKIT_RUNTIME_DIR`) as `local-ports-<sha256>.mjs`. An instance whose chain places the
 * ports in the instances imports it at boot. Built once per process.
 *
 * @example
 * ```ts
 * const bundle = await portRuntimePath();
 * await dataPlane.addInstance(0, image, { ports: { inside: { type: 'generator', frames }, outside: { type: 'sink' } } });
 * ```
 */
export function portRuntimePath(): Promise<string> {
  cached ??= bundlePortRuntime().catch((err) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function bundlePortRuntime(): Promise<string> {
  let result;
  try {
    result = await build({
      entryPoints: [ENTRY],
      absWorkingDir: PACKAGE_ROOT,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: IMAGE_TARGET,
      write: false,
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'none',
      logLevel: 'silent',
      banner: { js: '// nfvkit port runtime (instances open their own ports with it); built by nfvkit, do not edit.' },
    });
  } catch (err) {
    throw new ImageBuildError(`bundling the port runtime failed: ${(err as Error).message}`, { cause: err });
  }
  const bytes = result.outputFiles[0].contents;
  const dir = process.env.NFVKIT_RUNTIME_DIR ?? join(PACKAGE_ROOT, '.nfvkit', 'runtime');
  const path = join(dir, `local-ports-${sha256Hex(bytes)}.mjs`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  }
  return path;
}
