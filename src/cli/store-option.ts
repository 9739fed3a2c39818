/**
 * The `--store <dir>` option of the commands that use the image store (`build`, `images`,
 * `up`): the directory, else `$NFVKIT_IMAGE_STORE`, else `.nfvkit/images`.
 *
 * @example
 * ```ts
 * program.command('images').addOption(storeOption()).action((o) => ImageStore.open(o.store).list());
 * ```
 */
import { Option } from 'commander';

/** A new `--store <dir>` option (one per command: commander options are not shared). */
export function storeOption(): Option {
  return new Option('--store <dir>', 'image store directory (default: $NFVKIT_IMAGE_STORE, else .nfvkit/images)');
}
