import { afterEach, describe, expect, it } from 'vitest';
import { WorkerService } from '../../../src/runtime/worker-service.ts';

interface Task {
  readonly echo: string;
  readonly delayMs: number;
  readonly crash?: boolean;
}
interface Answer {
  readonly id: number;
  readonly echo: string;
}

const ENTRY = new URL('./workers/sleepy-echo-worker.ts', import.meta.url);
let service: WorkerService<Task, Answer>;

afterEach(() => service?.stop(new Error('test over')));

function start(timeoutMs = 20_000): WorkerService<Task, Answer> {
  service = new WorkerService<Task, Answer>(ENTRY, { memoryMiB: 64, timeoutMs, failure: (detail) => new Error(`echo worker ${detail}`) });
  return service;
}

describe('WorkerService', () => {
  it('answers each call with the reply carrying its id, calls overlapping', async () => {
    const s = start();
    const answers = await Promise.all([s.call({ echo: 'slow', delayMs: 60 }, () => new Error('late')), s.call({ echo: 'fast', delayMs: 1 }, () => new Error('late'))]);
    expect(answers.map((a) => a.echo)).toEqual(['slow', 'fast']);
  }, 30_000);

  it('stops a worker that overruns, failing what waits on it; the next call gets a new worker that the old one’s exit does not stop', async () => {
    // The time limit counts the worker's start (a tsx loader here: up to seconds under load).
    const s = start(4000);
    const late = s.call({ echo: 'never', delayMs: 60_000 }, () => new Error('took too long'));
    const other = s.call({ echo: 'also waiting', delayMs: 60_000 }, () => new Error('took too long'));
    await expect(late).rejects.toThrow('took too long');
    await expect(other).rejects.toThrow('took too long');
    // Started before the old worker's exit event arrives: must survive it.
    const next = s.call({ echo: 'fresh', delayMs: 200 }, () => new Error('took too long'));
    await expect(next).resolves.toMatchObject({ echo: 'fresh' });
  }, 30_000);

  it('fails waiting calls with its failure when the worker crashes, and recovers on the next call', async () => {
    const s = start();
    await expect(s.call({ echo: '', delayMs: 0, crash: true }, () => new Error('late'))).rejects.toThrow(/^echo worker failed \(asked to crash\)$/);
    await expect(s.call({ echo: 'again', delayMs: 1 }, () => new Error('late'))).resolves.toMatchObject({ echo: 'again' });
  }, 30_000);

  it('stop fails what waits with the reason given', async () => {
    const s = start();
    const waiting = s.call({ echo: 'x', delayMs: 5000 }, () => new Error('late'));
    s.stop(new Error('closed'));
    await expect(waiting).rejects.toThrow('closed');
  });
});
