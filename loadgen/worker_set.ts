// The load generator's worker threads, seen from the main thread: started
// together, one message handler for all, the first failure (a worker's
// 'failed' message or a crash) turned into one rejected promise the run
// races everything against, and wait_until, a poll raced against it.
//
// Cost: one Worker per --workers (each loads tsx and the client code, up to
// seconds on first use); messages are structured-cloned; wait_until polls
// every 10 ms.
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './messages.js';

/** The worker threads of one run (loadgen/worker_boot.mjs → worker.ts), numbered 0..count-1. */
export class WorkerSet {
  private readonly workers: Worker[] = [];
  private failure: Error | null = null;
  private on_failure: ((err: Error) => void) | null = null;

  constructor(count: number, private readonly on_message: (msg: FromWorker) => void) {
    for (let w = 0; w < count; w++) {
      const worker = new Worker(new URL('./worker_boot.mjs', import.meta.url), { workerData: { worker: w } });
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'failed') this.fail(new Error(`loadgen worker ${msg.worker} failed: ${msg.message}`));
        else this.on_message(msg);
      });
      worker.on('error', (err) => this.fail(new Error(`loadgen worker ${w} crashed: ${err.stack ?? err.message}`)));
      this.workers.push(worker);
    }
  }

  get count(): number {
    return this.workers.length;
  }

  /** Rejects with the first worker failure; the run aborts on it. */
  failed(): Promise<never> {
    return new Promise((_, reject) => {
      if (this.failure) reject(this.failure);
      else this.on_failure = reject;
    });
  }

  post(worker: number, msg: ToWorker): void {
    this.workers[worker].postMessage(msg);
  }

  broadcast(msg: ToWorker): void {
    for (const w of this.workers) w.postMessage(msg);
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.on_failure?.(err);
  }
}

/** Polls `predicate` every 10 ms until it holds; rejects after `timeout_ms`, or as soon as `failed` (a WorkerSet's failed()) rejects. */
export function wait_until(predicate: () => boolean, timeout_ms: number, what: string, failed: Promise<never>): Promise<void> {
  return Promise.race([
    failed,
    new Promise<void>((resolve_, reject) => {
      const deadline = Date.now() + timeout_ms;
      const poll = setInterval(() => {
        if (predicate()) {
          clearInterval(poll);
          resolve_();
        } else if (Date.now() > deadline) {
          clearInterval(poll);
          reject(new Error(`loadgen: timed out after ${timeout_ms} ms waiting for ${what}`));
        }
      }, 10);
    }),
  ]);
}
