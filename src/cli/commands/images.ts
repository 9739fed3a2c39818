/**
 * `nfvkit images [ls] [-o text|json|yaml]`, `nfvkit images inspect <id>`, `nfvkit images rm
 * <id>`: the image store (`--store <dir>`, else `$NFVKIT_IMAGE_STORE`, else `.nfvkit/images`).
 * Ids may be abbreviated to a unique prefix of at least 4 hex digits.
 *
 * @example
 * ```sh
 * nfvkit images
 * nfvkit images inspect 3f2a9c
 * ```
 */
import type { Command } from 'commander';
import { renderManifest } from '../../image/image-manifest.ts';
import { ImageStore, type ImageIndexEntry } from '../../image/image-store.ts';
import { println, type CliContext } from '../cli-context.ts';
import { outputOption, printResult, renderTable, type OutputFormat } from '../output.ts';
import { storeOption } from '../store-option.ts';
import { formatKib, shortId } from '../units.ts';

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
