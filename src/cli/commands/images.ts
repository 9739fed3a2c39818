/**
 * `nfvkit images [ls] [-o text|json|yaml]`, `nfvkit images inspect <id>`, `nfvkit images rm
 * <id>`, `nfvkit images prune [--older-than <duration>] [--dry-run]`: the image store
 * (`--store <dir>`, else `$NFVKIT_IMAGE_STORE`, else `.nfvkit/images`). Ids may be
 * abbreviated to a unique prefix of at least 4 hex digits.
 *
 * `prune` works on the store directly, not through a controller: every controller using
 * the store holds a lease on the images its chains use (`ImageLease`), and the prune keeps
 * whatever a live lease names, whichever controller (or how many) runs on the store and
 * whether this command could reach it or not. `rm` refuses an image a lease holds.
 *
 * @example
 * ```sh
 * nfvkit images
 * nfvkit images inspect 3f2a9c
 * nfvkit images prune --older-than 1h --dry-run
 * ```
 */
import type { Command } from 'commander';
import { renderManifest } from '../../image/image-manifest.ts';
import { ImageStore, type ImageIndexEntry, type PruneResult } from '../../image/image-store.ts';
import { durationMs } from '../arg-parsers.ts';
import { println, type CliContext } from '../cli-context.ts';
import { outputOption, printResult, renderTable, type OutputFormat } from '../output.ts';
import { storeOption } from '../store-option.ts';
import { formatAge, formatBytes, formatKib, formatTimestamp, shortId } from '../units.ts';

/** Registers `nfvkit images` on `program`; output goes to `ctx`. */
export function registerImagesCommand(program: Command, ctx: CliContext): void {
  const images = program.command('images').description('list, inspect or remove the images in the image store');
  images
    .command('ls', { isDefault: true })
    .description('list the images (the default)')
    .addOption(storeOption())
    .addOption(outputOption())
    .action((opts: { store?: string; output: OutputFormat }) => {
      const store = ImageStore.open(opts.store);
      const list = store.list();
      if (opts.output === 'text' && list.length === 0) println(ctx, `no images in ${store.dir}`);
      else printResult(ctx, opts.output, list, () => imageTable(list));
    });
  images
    .command('inspect')
    .description("print an image's manifest")
    .argument('<id>', 'image id or unique id prefix (at least 4 hex digits)')
    .addOption(storeOption())
    .action((ref: string, opts: { store?: string }) => {
      ctx.stdout.write(renderManifest(ImageStore.open(opts.store).manifest(ref)));
    });
  images
    .command('rm')
    .description('remove an image from the store')
    .argument('<id>', 'image id or unique id prefix')
    .addOption(storeOption())
    .action((ref: string, opts: { store?: string }) => {
      const removed = ImageStore.open(opts.store).remove(ref);
      println(ctx, `removed ${removed.name} image ${shortId(removed.id)}`);
    });
  images
    .command('prune')
    .description('remove the images no running controller uses that were last used longer ago than --older-than')
    .option('--older-than <duration>', 'only images last used at least this long ago (90s, 10m, 1h30m; 0: every unused image)', durationMs, 0)
    .option('--dry-run', 'print what would be removed, remove nothing')
    .addOption(storeOption())
    .addOption(outputOption())
    .action((opts: { olderThan: number; dryRun?: boolean; store?: string; output: OutputFormat }) => {
      const store = ImageStore.open(opts.store);
      const result = store.prune({ olderThanMs: opts.olderThan, dryRun: opts.dryRun === true });
      printResult(ctx, opts.output, result, () => pruneReport(result, opts.olderThan));
    });
}

/** What `images prune` prints: one line per image removed, then the totals. */
function pruneReport(r: PruneResult, olderThanMs: number): string {
  const verb = r.dryRun ? 'would remove' : 'removed';
  const lines = r.removed.map((img) => `${verb} ${img.name} image ${shortId(img.id)} (${formatBytes(img.bytes)}, last used ${formatTimestamp(Date.parse(img.lastUsed))})`);
  const n = r.removed.length;
  const kept = [`${r.inUse} in use`, ...(olderThanMs > 0 ? [`${r.recent} used within ${formatAge(olderThanMs)}`] : [])].join(', ');
  lines.push(`${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.freedBytes)} (${n} image${n === 1 ? '' : 's'}); kept ${r.images} image${r.images === 1 ? '' : 's'}, ${formatBytes(r.bytes)}: ${kept}`);
  return lines.join('\n');
}

function imageTable(list: readonly ImageIndexEntry[]): string {
  return renderTable<ImageIndexEntry>(
    [
      { header: 'NAME', value: (e) => e.name },
      { header: 'ID', value: (e) => shortId(e.id) },
      { header: 'SIZE', value: (e) => formatKib(e.size), right: true },
      { header: 'MODULES', value: (e) => String(e.modules), right: true },
      { header: 'MEMORY', value: (e) => `${e.memoryMiB} MiB`, right: true },
      { header: 'CREATED', value: (e) => e.created.replace('T', ' ').replace(/\.\d+Z$/, 'Z') },
    ],
    list,
  );
}
