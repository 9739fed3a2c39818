/**
 * Reading the files a command is given: chain specs and function configurations. A file
 * that cannot be read is invalid input (exit 2), reported with its name. `-` is stdin.
 *
 * @example
 * ```ts
 * const text = readTextInput('topologies/web-edge.yaml');
 * const config = readConfigFile(opts.config);   // {} when no file was given
 * ```
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { InvalidArgumentError } from '../errors/catalog.ts';

/** The text of `file` (`-`: standard input). */
export function readTextInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${file === '-' ? 'standard input' : file}: ${(err as Error).message}`);
  }
}

/** A function configuration (YAML, or JSON for `.json` files); `{}` when `file` is undefined. */
export function readConfigFile(file: string | undefined): unknown {
  if (file === undefined) return {};
  try {
    const text = readFileSync(file, 'utf8');
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`cannot read configuration ${file}: ${(err as Error).message}`);
  }
}
