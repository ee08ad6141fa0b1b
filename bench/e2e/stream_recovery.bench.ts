// What it measures: how long a feed that (re)starts takes until every book is
// live, and how many bytes it reads to get there, recovering from the durable
// JetStream stream (latest stored snapshot + the batches after it) against
// asking the engine (request/reply snapshot), in the same run on the same
// books. Then the case only the stream can serve: the engine stopped.
//
// Setup: one nats-server -js; the engine in this process at --rate orders/s
// over the 4 default symbols, snapshots stored every 1000 ms (the default), so
// a stream recovery replays on average half an interval of batches. Each run
// starts a fresh Feed (its own NATS connection, no WebSocket server), waits
// until all 4 symbols are live, stops it. Modes alternate; medians.
// Caveats: 2 cores — engine, feed and bench here, nats-server on the other.
// Run: npx tsx bench/e2e/stream_recovery.bench.ts [--runs N] [--rate N]
import { NatsBus } from '../../src/bus/nats_bus.js';
import { type Config, default_config } from '../../src/config.js';
import { start_engine } from '../../src/engine/engine.js';
import { Feed } from '../../src/feed/feed.js';
import { start_nats_server } from '../../test/helpers/nats_server.js';
import { median, round, write_result } from '../lib.js';
import { arg } from './harness/args.js';

const runs = arg('--runs', 7);
const server = await start_nats_server({ jetstream: true });
const config: Config = { ...default_config(), nats_url: server.url, rate_orders_per_s: arg('--rate', 2000), log_level: 'warn', snapshot_timeout_ms: 2000 };
const engine_bus = await NatsBus.connect({ url: server.url, name: 'bench-engine', reconnect_wait_ms: 200 });
const engine = await start_engine(config, engine_bus);
await new Promise((r) => setTimeout(r, 3000)); // books, and a stream with history

type Mode = 'stream' | 'engine';
interface Recovery { ms: number; bytes: number; sources: string[]; live: boolean }

async function recover(mode: Mode, wait_ms = 10_000): Promise<Recovery> {
  const bus = await NatsBus.connect({ url: server.url, name: `bench-feed-${mode}`, reconnect_wait_ms: 200 });
  const feed = new Feed({ ...config, stream: mode === 'stream' }, bus);
  const t0 = performance.now();
  feed.start();
  const symbols = [...feed.symbols.values()];
  while (!symbols.every((f) => f.state === 'live') && performance.now() - t0 < wait_ms) await new Promise((r) => setImmediate(r));
  const ms = performance.now() - t0;
  const result = {
    ms, live: symbols.every((f) => f.state === 'live'),
    bytes: symbols.reduce((n, f) => n + f.stats.last_recovery_bytes, 0),
    sources: [...new Set(symbols.map((f) => f.last_recovery_source))],
  };
  await feed.stop();
  await bus.close();
  return result;
}

const got: Record<Mode, Recovery[]> = { stream: [], engine: [] };
await recover('stream'); // warm-up (JIT, first consumer)
await recover('engine');
for (let i = 0; i < runs; i++) {
  for (const mode of (i % 2 === 0 ? ['stream', 'engine'] : ['engine', 'stream']) as Mode[]) {
    got[mode].push(await recover(mode));
    await new Promise((r) => setTimeout(r, 137)); // a different phase of the snapshot interval each time
  }
}
await engine.stop();
const engine_stopped_stream = await recover('stream');
const engine_stopped_engine = await recover('engine', 3000);

const summary = (list: Recovery[]) => ({
  ms_median: round(median(list.map((r) => r.ms)), 1), ms_max: round(Math.max(...list.map((r) => r.ms)), 1),
  bytes_median: Math.round(median(list.map((r) => r.bytes))), sources: [...new Set(list.flatMap((r) => r.sources))],
});
const stream = summary(got.stream);
const from_engine = summary(got.engine);
const result = {
  what: 'a feed (4 symbols) starting until every book is live: from the JetStream stream vs from the engine request/reply, same run; then with the engine stopped',
  rate_orders_per_s: config.rate_orders_per_s, stream_snapshot_interval_ms: config.stream_snapshot_interval_ms, runs,
  stream, engine: from_engine,
  ratios: {
    time_stream_over_engine: round(stream.ms_median / from_engine.ms_median, 2),
    bytes_stream_over_engine: round(stream.bytes_median / from_engine.bytes_median, 2),
  },
  engine_stopped: {
    stream: { live: engine_stopped_stream.live, ms: round(engine_stopped_stream.ms, 1), bytes: engine_stopped_stream.bytes, sources: engine_stopped_stream.sources },
    engine: { live: engine_stopped_engine.live, gave_up_after_ms: round(engine_stopped_engine.ms, 0) },
  },
};
const path = write_result('stream_recovery', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\nwrote ${path}\n`);
await engine_bus.close();
await server.stop();
