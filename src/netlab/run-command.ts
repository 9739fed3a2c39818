import { spawn } from 'node:child_process';
import { NetlabError } from '../errors/catalog.ts';

/** What a finished command returned. */
export interface CommandResult {
  /** Exit code (`null` when it was ended by a signal). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Bytes written to the command's stdin, then closed (default: empty stdin). */
  readonly input?: string;
  /** Kill the command (SIGKILL) after this many ms (default 10 000). */
  readonly timeoutMs?: number;
  /** Return a non-zero exit instead of throwing (default false). */
  readonly allowFailure?: boolean;
}

/**
 * Runs `file args…` without a shell and collects its output. Throws `NetlabError` when it
 * cannot start, times out, or (unless `allowFailure`) exits non-zero; the message names the
 * command line and its stderr.
 *
 * @example
 * ```ts
 * const { stdout } = await runCommand('ip', ['netns', 'list']);
 * const r = await runCommand('ip', ['link', 'del', 'gone0'], { allowFailure: true }); // r.code === 1
 * ```
 */
export function runCommand(file: string, args: readonly string[], options: RunCommandOptions = {}): Promise<CommandResult> {
  const line = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 10_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new NetlabError(`cannot run '${line}': ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new NetlabError(`'${line}' timed out after ${options.timeoutMs ?? 10_000} ms`));
      else if (code !== 0 && options.allowFailure !== true) reject(new NetlabError(`'${line}' exited with ${code}: ${stderr.trim() || stdout.trim()}`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
