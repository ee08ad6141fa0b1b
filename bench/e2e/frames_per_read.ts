// A diagnostic, not a bench (no result file, no goal): how many Deltas a
// client of a running feed gets per socket read. At one frame per read a
// verifying client pays a read and an event-loop wake-up per frame, which is
// most of its cost (bench/e2e/client_cost, loadgen/README.md "How many
// load-generator cores"); this says which regime a live feed puts it in.
// N SDK clients on NodeWebSocket, each subscribed to the first --symbols
// symbols at depth 10; every socket read and every 'update' is counted over
// --seconds after a 2 s warm-up. Used for issue 21: a client of 1 symbol
// read 0.99 Deltas per read against `npm start`, a client of 4 symbols 1.8,
// the same with --no-fanout-topics (so the feed writes each flush to a
// connection in one write either way).
// Cost: the clients verify every frame in this one process, so many clients
// (hundreds) saturate it, and a saturated reader reads more per read.
// Run: npx tsx bench/e2e/frames_per_read.ts --url ws://127.0.0.1:8080/ws [--symbols 4] [--clients 1] [--seconds 5]
import { connect } from '../../src/client/index.js';
import { NodeWebSocket } from '../../src/client/node/index.js';
import { string_flag } from '../../src/util/flags.js';
import { arg } from './harness/args.js';

const argv = process.argv.slice(2);
const url = string_flag(argv, '--url', 'ws://127.0.0.1:8080/ws');
const symbol_count = arg('--symbols', 4);
const clients = arg('--clients', 1);
const seconds = arg('--seconds', 5);
const warmup_ms = 2000;
const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'].slice(0, symbol_count);

let reads = 0;
let updates = 0;

/** NodeWebSocket counting its reads (on_read is private: wrapped per instance). */
class CountingSocket extends NodeWebSocket {
  constructor(u: string, protocols?: string | string[]) {
    super(u, protocols);
    const self = this as unknown as { on_read: (n: number, buf: Buffer) => boolean };
    const on_read = self.on_read.bind(this);
    self.on_read = (n, buf) => {
      reads++;
      return on_read(n, buf);
    };
  }
}

const opened = Array.from({ length: clients }, () => {
  const client = connect(url, { WebSocket: CountingSocket, reconnect: false });
  client.on('update', () => {
    updates++;
  });
  client.on('error', (err) => process.stderr.write(`client error: ${err.message}\n`));
  for (const symbol of symbols) client.subscribe(symbol, { depth: 10 });
  return client;
});

setTimeout(() => {
  reads = 0;
  updates = 0;
  setTimeout(() => {
    const per_read = reads === 0 ? 0 : updates / reads;
    process.stdout.write(`${clients} client(s) × ${symbols.length} symbol(s) at depth 10, ${seconds} s: ${reads} reads, ${updates} updates → ` +
      `${per_read.toFixed(3)} updates per read, ${(updates / seconds / clients).toFixed(0)} updates/s per client\n`);
    for (const c of opened) c.close();
    process.exit(0);
  }, seconds * 1000);
}, warmup_ms);
