import type { ChildProcess } from 'node:child_process';
import { NetlabError } from '../errors/catalog.ts';

/** How a lab process ended. */
export interface LabProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A process a `Lab` started inside one of its namespaces (`ip netns exec`), with its output
 * collected as text. The lab kills it on `destroy()` if it still runs.
 *
 * @example
 * ```ts
 * const server = lab.spawnNode(ns, new URL('./server.ts', import.meta.url), ['198.18.2.2', '8080']);
 * await server.waitForOutput(/listening/, 5000);
 * …
 * const { code } = await client.exited;
 * ```
 */
export class LabProcess {
  /** Everything written to stdout so far. */
  stdout = '';
  /** Everything written to stderr so far. */
  stderr = '';
  /** Settles when the process has ended (never rejects; a spawn error ends it with code null). */
  readonly exited: Promise<LabProcessExit>;
  private exit: LabProcessExit | null = null;

  constructor(
    readonly child: ChildProcess,
    /** The namespace it runs in. */
    readonly ns: string,
    /** The command line, for messages. */
    readonly label: string,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        this.stderr += `\n[spawn error] ${err.message}`;
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
      child.on('close', (code, signal) => {
        this.exit ??= { code, signal };
        resolve(this.exit);
      });
    });
  }

  /** True until the process has ended. */
  get running(): boolean {
    return this.exit === null;
  }

  /** The process id (undefined if it never started). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Resolves with the first match of `pattern` in stdout, waiting up to `timeoutMs`.
   * Rejects with `NetlabError` (quoting the output so far) on timeout or if the process ends first.
   */
  waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = pattern.exec(this.stdout);
        if (m === null) return false;
        finish();
        resolve(m);
        return true;
      };
      const onData = (): void => void check();
      const onExit = (): void => {
        if (check()) return;
        finish();
        reject(new NetlabError(`${this.label} ended before printing ${pattern}: stdout=${JSON.stringify(this.stdout)} stderr=${JSON.stringify(this.stderr)}`));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new NetlabError(`${this.label} did not print ${pattern} within ${timeoutMs} ms: stdout=${JSON.stringify(this.stdout)} stderr=${JSON.stringify(this.stderr)}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.child.stdout?.off('data', onData);
        this.child.off('close', onExit);
      };
      if (check()) return;
      this.child.stdout?.on('data', onData);
      this.child.on('close', onExit);
    });
  }

  /** Ends the process: SIGTERM, then SIGKILL after `graceMs`. Resolves when it has ended. */
  async kill(graceMs = 2000): Promise<LabProcessExit> {
    if (this.exit !== null) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}
