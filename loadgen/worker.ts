// A loadgen worker thread: runs its share of the clients (client_pool.ts) and
// answers the main thread's once-a-second tick with that second's histograms
// (encoded) and its counters.
import { parentPort, workerData } from 'node:worker_threads';
import { ClientPool } from './client_pool.js';
import type { FromWorker, ToWorker } from './messages.js';

const port = parentPort;
if (port === null) throw new Error('loadgen/worker.ts runs as a worker thread (see loadgen/worker_set.ts)');
const worker = (workerData as { worker: number }).worker;
let pool: ClientPool | null = null;
/** Reports go out one after another, in the order asked (each spans several event-loop turns). */
let reporting: Promise<void> = Promise.resolve();

function post(msg: FromWorker): void {
  port!.postMessage(msg);
}

port.on('message', (msg: ToWorker) => {
  try {
    switch (msg.type) {
      case 'start':
        pool = new ClientPool(msg.options, msg.clients, msg.connect_rate_per_s);
        pool.start();
        break;
      case 'tick':
        if (pool) send_report(pool, msg.seq, false);
        break;
      case 'storm':
        pool?.storm(msg.clients);
        break;
      case 'drain':
        if (pool) {
          pool.drain(msg.deadline_ms).then(
            () => post({ type: 'drained', worker }),
            (err: Error) => post({ type: 'failed', worker, message: err.stack ?? String(err) }),
          );
        }
        break;
      case 'stop':
        pool?.stop();
        if (pool) send_report(pool, msg.seq, true);
        break;
    }
  } catch (err) {
    post({ type: 'failed', worker, message: (err as Error).stack ?? String(err) });
  }
});

function send_report(p: ClientPool, seq: number, final: boolean): void {
  reporting = reporting.then(() => p.report(seq, final, worker)).then(post, (err: Error) => post({ type: 'failed', worker, message: err.stack ?? String(err) }));
}

post({ type: 'ready', worker });
