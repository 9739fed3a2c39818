import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of the nfvkit package root (the directory holding `package.json`), with a
 * trailing separator. The image builder bundles from here: `#nfvkit/…` and `#functions/…`
 * resolve through this package.json's `imports`, and every path esbuild records is made
 * relative to it, so images do not depend on where the checkout lives.
 */
export const PACKAGE_ROOT: string = fileURLToPath(new URL('../../', import.meta.url));

let version: string | undefined;

/** The `version` field of nfvkit's package.json (read once). */
export function nfvkitVersion(): string {
  if (version === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  }
  return version;
}
