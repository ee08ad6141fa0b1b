// What one slow reader sees of a running service: issue 10's scenario, as a
// new user would try it. One reader subscribes to a view through
// test/helpers/throttle_proxy.py (a small SO_RCVBUF toward the feed, a fixed
// byte rate: the subscription's rate ÷ --fraction, measured first on a fast
// reader), for --duration-s; it prints its staleness (now − ts_engine of the
// newest frame read, clock offset corrected), the conflated frames it got,
// how it was closed if it was, and the server's slow-consumer counters.
// Not a benchmark (nothing is compared or written): bench/e2e/slow_readers
// measures the same against buffer-only detection, with fast readers beside.
//
// Cost: one proxy process and two WebSocket clients for the duration.
//
// Run, with the service up (`npm start`, port 8080):
//   npx tsx bench/e2e/slow_reader_check.ts [--port 8080] [--fraction 7] [--duration-s 40] [--depth 0]
import { setTimeout as sleep } from 'node:timers/promises';
import { ThrottleProxy } from '../../test/helpers/throttle_proxy.js';
import { quantiles_ms } from '../lib.js';
import { arg } from './harness/args.js';
import { estimate_clock_offset } from './harness/clock_offset.js';
import { Reader, subscription_bytes_per_s } from './harness/reader_clients.js';

const port = arg('--port', 8080);
const fraction = arg('--fraction', 7);
const duration_s = arg('--duration-s', 40);
const view = { symbol: 'BTC-USD', depth: arg('--depth', 0) };
/** The reader's kernel receive buffer toward the feed: small, as on a thin link. */
const rcvbuf_bytes = 4096;
const sample_ms = 100;

const offset_ns = (await estimate_clock_offset(port)).offset_ns;
const stream_bytes_per_s = await subscription_bytes_per_s(port, offset_ns, view);
const proxy = await ThrottleProxy.start(port, rcvbuf_bytes, stream_bytes_per_s / fraction);
const reader = await Reader.open(proxy.url, offset_ns, view);
await sleep(3000); // its snapshot read at its own rate
const staleness_ms: number[] = [];
for (const until = Date.now() + duration_s * 1000; Date.now() < until;) {
  await sleep(sample_ms);
  staleness_ms.push(reader.staleness_ms());
}
const stats = await (await fetch(`http://127.0.0.1:${port}/stats`)).json() as { slow_consumers: Record<string, unknown> };
const server = stats.slow_consumers;
process.stdout.write(`${JSON.stringify({
  view, stream_bytes_per_s: Math.round(stream_bytes_per_s), read_bytes_per_s: Math.round(stream_bytes_per_s / fraction), duration_s,
  staleness: quantiles_ms(staleness_ms),
  conflated_frames: reader.conflated, bytes_read: reader.bytes, closed_with: reader.closed_with,
  server: { conflation_episodes_by_cause_total: server.conflation_episodes_by_cause_total, conflating_connections: server.conflating_connections, slow_closes_total: server.slow_closes_total },
}, null, 2)}\n`);
reader.ws.terminate();
proxy.close();
process.exit(0);
