/**
 * The `nfvkit` command line. Commands so far:
 * - `nfvkit functions`: the registered functions;
 * - `nfvkit emit <function> [--config <file>]`: validates a configuration (YAML or JSON),
 *   runs the pipeline compiler and prints the generated source;
 * - `nfvkit build <function> [--config <file>] [--store <dir>] [--memory <MiB>] [--minify]`:
 *   builds the sealed image (bundle + manifest) into the image store, or reports the
 *   cached one when the build inputs are unchanged;
 * - `nfvkit images [-o json]`, `nfvkit images inspect <id>`, `nfvkit images rm <id>`:
 *   the image store (`--store <dir>`, else `$NFVKIT_IMAGE_STORE`, else `.nfvkit/images/`).
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or invalid input.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { NfvkitError, ConfigValidationError, InvalidArgumentError } from '../errors/catalog.ts';
import { FunctionRegistry } from '../pipeline/function-registry.ts';
import { compilePipeline } from '../pipeline/compiler.ts';
import { buildImage, type BuildImageResult } from '../image/image-builder.ts';
import { ImageStore, type ImageIndexEntry } from '../image/image-store.ts';
import { renderManifest } from '../image/image-manifest.ts';
import { registerBuiltinFunctions } from '../../functions/index.ts';

/** Error codes that mean "bad input" (exit 2) rather than a failure (exit 1). */
const USAGE_ERRORS = new Set(['NFVKIT_ERR_UNKNOWN_FUNCTION', 'NFVKIT_ERR_IMAGE_NOT_FOUND', 'NFVKIT_ERR_INVALID_ARGUMENT']);
const SHORT_ID = 12;

function readConfig(file: string | undefined): unknown {
  if (file === undefined) return {};
  try {
    const text = readFileSync(file, 'utf8');
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`cannot read configuration ${file}: ${(err as Error).message}`);
  }
}

/** Builds the program (exported for tests). */
export function buildProgram(registry: FunctionRegistry): Command {
  const program = new Command('nfvkit').description('Network functions as compiled packet pipelines').exitOverride();
  program
    .command('functions')
    .description('list the registered functions')
    .action(() => {
      for (const name of registry.names()) console.log(`${name.padEnd(16)} ${registry.get(name).description}`);
    });
  program
    .command('emit')
    .description('compile a function with a configuration and print the generated pipeline source')
    .argument('<function>', 'function name (see `nfvkit functions`)')
    .option('-c, --config <file>', 'configuration file, YAML or JSON (default: empty configuration)')
    .action((name: string, opts: { config?: string }) => {
      const compiled = compilePipeline(registry.get(name), readConfig(opts.config));
      process.stdout.write(compiled.source);
    });
  const outputOption = (): Option => new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');
  const storeOption = (): Option => new Option('--store <dir>', 'image store directory (default: $NFVKIT_IMAGE_STORE, else .nfvkit/images)');
  program
    .command('build')
    .description('build a function with a configuration into a sealed image in the image store')
    .argument('<function>', 'function name (see `nfvkit functions`)')
    .option('-c, --config <file>', 'configuration file, YAML or JSON (default: empty configuration)')
    .addOption(storeOption())
    .option('--memory <MiB>', "instance memory limit in MiB (default: the function's, else 64)", (v) => Number(v))
    .option('--minify', 'minify whitespace and syntax (identifiers are kept)')
    .option('--force', 'bundle again even if the store holds this image')
    .addOption(outputOption())
    .action(async (name: string, opts: { config?: string; store?: string; memory?: number; minify?: boolean; force?: boolean; output: string }) => {
      const store = ImageStore.open(opts.store);
      const result = await buildImage(registry.get(name), readConfig(opts.config), {
        store,
        ...(opts.memory === undefined ? {} : { memoryMiB: opts.memory }),
        minify: opts.minify === true,
        force: opts.force === true,
      });
      for (const w of result.warnings) console.error(`nfvkit: esbuild warning: ${w}`);
      if (opts.output === 'json') console.log(JSON.stringify(buildSummary(result), null, 2));
      else console.log(describeBuild(result));
    });

  const images = program.command('images').description('list, inspect or remove the images in the image store');
  images
    .command('ls', { isDefault: true })
    .description('list the images (the default)')
    .addOption(storeOption())
    .addOption(outputOption())
    .action((opts: { store?: string; output: string }) => {
      const list = ImageStore.open(opts.store).list();
      if (opts.output === 'json') console.log(JSON.stringify(list, null, 2));
      else if (list.length === 0) console.log(`no images in ${ImageStore.open(opts.store).dir}`);
      else console.log(imageTable(list));
    });
  images
    .command('inspect')
    .description("print an image's manifest")
    .argument('<id>', 'image id or unique id prefix (at least 4 hex digits)')
    .addOption(storeOption())
    .action((ref: string, opts: { store?: string }) => {
      process.stdout.write(renderManifest(ImageStore.open(opts.store).manifest(ref)));
    });
  images
    .command('rm')
    .description('remove an image from the store')
    .argument('<id>', 'image id or unique id prefix')
    .addOption(storeOption())
    .action((ref: string, opts: { store?: string }) => {
      const removed = ImageStore.open(opts.store).remove(ref);
      console.log(`removed ${removed.name} image ${removed.id.slice(0, SHORT_ID)}`);
    });
  return program;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function buildSummary(r: BuildImageResult): Record<string, unknown> {
  const m = r.manifest;
  return { id: m.id, name: m.name, cache: r.cache, size: m.size, modules: m.modules.length, memoryMiB: m.memoryMiB, path: r.imagePath, ms: Math.round(r.ms) };
}

function describeBuild(r: BuildImageResult): string {
  const m = r.manifest;
  const what = `${m.name} image ${m.id.slice(0, SHORT_ID)} (${kib(m.size)}, ${m.modules.length} modules, ${m.memoryMiB} MiB)`;
  const head =
    r.cache === 'hit'
      ? `cached ${what}: build inputs unchanged, nothing bundled (${r.ms.toFixed(0)} ms)`
      : r.cache === 'stale'
        ? `rebuilt ${what} in ${r.ms.toFixed(0)} ms: library sources changed since the cached image`
        : `built ${what} in ${r.ms.toFixed(0)} ms`;
  return `${head}\n  ${r.imagePath}`;
}

function imageTable(list: readonly ImageIndexEntry[]): string {
  const rows = [['NAME', 'ID', 'SIZE', 'MODULES', 'MEMORY', 'CREATED']];
  for (const e of list) {
    rows.push([e.name, e.id.slice(0, SHORT_ID), kib(e.size), String(e.modules), `${e.memoryMiB} MiB`, e.created.replace('T', ' ').replace(/\.\d+Z$/, 'Z')]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const right = new Set([2, 3, 4]);
  return rows.map((r) => r.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  const program = buildProgram(registerBuiltinFunctions(new FunctionRegistry()));
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    if (err instanceof ConfigValidationError) {
      console.error(`nfvkit: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof NfvkitError) {
      console.error(`nfvkit: ${err.code}: ${err.message}`);
      process.exit(USAGE_ERRORS.has(err.code) ? 2 : 1);
    }
    throw err;
  }
}

await main();
