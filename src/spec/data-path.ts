/**
 * The lexical rule for file paths in chain specs (a pcap port's `read` and `write`): a path
 * names a file inside one of the controller's data directories (`nfvkit up --data-dir`,
 * `--read-dir`, `--write-dir`), so it is relative, has no `..` segment and names a file,
 * not a directory. The spec validator reports a breach with the value's position before
 * anything is opened; the controller checks again, then resolves the path on disk
 * (`src/controller/data-dir.ts`: symbolic links out of the directory, non-regular files).
 *
 * @example
 * ```ts
 * dataPathProblem('captures/in.pcap'); // undefined
 * dataPathProblem('/etc/shadow');       // 'absolute paths are refused: …'
 * ```
 */

/** Longest path accepted (Linux PATH_MAX is 4096 including the directory). */
export const MAX_DATA_PATH_CHARS = 1024;

/** Why `text` is not an acceptable data path, or undefined when it is one. */
export function dataPathProblem(text: string): string | undefined {
  if (text.length === 0) return 'empty path';
  if (text.length > MAX_DATA_PATH_CHARS) return `longer than ${MAX_DATA_PATH_CHARS} characters`;
  if (text.includes('\0')) return 'a path cannot hold a NUL character';
  if (text.startsWith('/') || text.startsWith('\\') || /^[A-Za-z]:/.test(text)) {
    return "absolute paths are refused: give a path relative to the controller's data directory (nfvkit up --data-dir)";
  }
  const segments = text.split(/[/\\]/);
  if (segments.includes('..')) return "`..` is refused: the path must stay inside the controller's data directory";
  const last = segments[segments.length - 1];
  if (last === '' || last === '.') return 'names a directory, not a file';
  return undefined;
}

/** `text` for a message: quoted, control characters escaped, cut to 200 characters. */
export function quotePath(text: string): string {
  const cut = text.length > 200 ? `${text.slice(0, 199)}…` : text;
  return JSON.stringify(cut);
}
