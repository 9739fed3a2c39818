/**
 * `nfvkit build <function> [--config <file>] [--store <dir>] [--memory <MiB>] [--no-minify]
 * [--force] [-o text|json|yaml]`: builds the sealed image (bundle + manifest) into the image
 * store, or reports the cached one when the build inputs are unchanged.
 *
 * @example
 * ```sh
 * nfvkit build firewall -c fw.yaml --memory 128 -o json
 * ```
 */
import type { Command } from 'commander';
import { buildImage, type BuildImageResult } from '../../image/image-builder.ts';
import { ImageStore } from '../../image/image-store.ts';
import { eprintln, type CliContext } from '../cli-context.ts';
import { outputOption, printResult, type OutputFormat } from '../output.ts';
import { readConfigFile } from '../read-input.ts';
import { storeOption } from '../store-option.ts';
import { formatKib, shortId } from '../units.ts';

interface BuildFlags {
  config?: string;
  store?: string;
  memory?: number;
  minify?: boolean;
  force?: boolean;
  output: OutputFormat;
}

/** Registers `nfvkit build` on `program`; output goes to `ctx`. */
export function registerBuildCommand(program: Command, ctx: CliContext): void {
  program
    .command('build')
    .description('build a function with a configuration into a sealed image in the image store')
    .argument('<function>', 'function name (see `nfvkit functions`)')
    .option('-c, --config <file>', 'configuration file, YAML or JSON (default: empty configuration)')
    .addOption(storeOption())
    .option('--memory <MiB>', "instance memory limit in MiB (default: the function's, else 64)", (v) => Number(v))
    .option('--no-minify', 'build a readable image (default: minified, names kept, source map beside it)')
    .option('--force', 'bundle again even if the store holds this image')
    .addOption(outputOption())
    .action(async (name: string, opts: BuildFlags) => {
      const store = ImageStore.open(opts.store);
      const result = await buildImage(ctx.registry.get(name), readConfigFile(opts.config), {
        store,
        ...(opts.memory === undefined ? {} : { memoryMiB: opts.memory }),
        minify: opts.minify !== false,
        force: opts.force === true,
      });
      for (const w of result.warnings) eprintln(ctx, `nfvkit: esbuild warning: ${w}`);
      printResult(ctx, opts.output, buildSummary(result), () => describeBuild(result));
    });
}

function buildSummary(r: BuildImageResult): Record<string, unknown> {
  const m = r.manifest;
  return { id: m.id, name: m.name, cache: r.cache, size: m.size, modules: m.modules.length, memoryMiB: m.memoryMiB, path: r.imagePath, ms: Math.round(r.ms) };
}

function describeBuild(r: BuildImageResult): string {
  const m = r.manifest;
  const what = `${m.name} image ${shortId(m.id)} (${formatKib(m.size)}, ${m.modules.length} modules, ${m.memoryMiB} MiB)`;
  const head =
    r.cache === 'hit'
      ? `cached ${what}: build inputs unchanged, nothing bundled (${r.ms.toFixed(0)} ms)`
      : r.cache === 'stale'
        ? `rebuilt ${what} in ${r.ms.toFixed(0)} ms: library sources changed since the cached image`
        : `built ${what} in ${r.ms.toFixed(0)} ms`;
  return `${head}\n  ${r.imagePath}`;
}
