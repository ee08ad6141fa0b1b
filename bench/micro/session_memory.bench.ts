// What it measures: the JavaScript memory one idle subscribed connection
// costs the feed, object by object, so e2e/connections' RSS per connection
// can be traced to code. N (10,000) of each part are made and kept alive;
// after a forced full GC, (V8 heap used after − before) ÷ N and (ArrayBuffer
// backing stores after − before) ÷ N are that part's bytes:
//   ReaderFlow, TokenBucket, StreamGate     a Session's parts, alone
//   Session                                 with a transport (the parts + its FrameSender, subs Map)
//   Feed.open_session                       + the per-session limits, event hooks, the feed's Set entry
//   + subscribe (one symbol, depth 10)      + the Subscription, its Map entries, the view's Set entry
// The transports are in-memory objects shaped like the server's UwsTransport
// (not measured: it and the server's per-socket data object are a few
// hundred bytes, and uWS's own per-socket memory is native; e2e/connections
// measures them inside the RSS).
// Baseline in the same run: the same N slots holding nothing (the keeping
// array is allocated before the first reading).
//
// Caveats: ArrayBuffer backing stores larger than 64 bytes live outside the
// V8 heap (malloc); `array_buffers` counts their bytes, not malloc's or V8's
// bookkeeping per store (about 100 B more each), which the RSS column shows
// (noisy: a few hundred bytes per object). Needs no node flag: gc is exposed
// with v8.setFlagsFromString.
// Run: npx tsx bench/micro/session_memory.bench.ts [--sessions N] [--quick]
import '../e2e/harness/quiet.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { Feed } from '../../src/feed/feed.js';
import { TokenBucket } from '../../src/feed/rate_limiter.js';
import { ReaderFlow } from '../../src/feed/reader_flow.js';
import { Session, type SessionEvents, type SessionLimits } from '../../src/feed/session.js';
import { StreamGate } from '../../src/feed/stream_gate.js';
import type { ClientTransport } from '../../src/feed/transport.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { bench_config, serve_empty_snapshots } from '../e2e/harness/recording.js';
import { machine_description, round, write_result } from '../lib.js';
import { arg, quick } from '../e2e/harness/args.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const n = arg('--sessions', quick ? 2000 : 10_000);
const started = performance.now();
const config = bench_config(8);
const limits: SessionLimits = {
  slow_enter_bytes: config.slow_enter_bytes, slow_exit_bytes: config.slow_exit_bytes, send_buffer_bytes_max: config.send_buffer_bytes_max,
  slow_policy: config.slow_policy, inbound_messages_per_s_max: config.inbound_messages_per_s_max,
  reader_lag_target_ms: config.reader_lag_target_ms, in_flight_bytes_min: config.in_flight_bytes_min, in_flight_bytes_max: config.in_flight_bytes_max,
  reader_probe_interval_ms: config.reader_probe_interval_ms, reader_lag_ms_max: config.reader_lag_ms_max,
};
const events: SessionEvents = {
  on_bytes_sent: () => {}, on_slow_change: () => {}, on_close_decision: () => {}, on_snapshot: () => {}, on_catch_up: () => {},
  on_send_dropped: () => {}, on_pump_change: () => {}, on_lag_sample: () => {}, pump_soon: () => {}, probe_with_publish: () => {},
};

/** Shaped like src/server/server.ts's UwsTransport (fields and methods), over nothing. */
class MemoryTransport implements ClientTransport {
  closed = false;
  readonly entitled = undefined;
  constructor(readonly remote_address: string) {}
  send(): number { return 1; }
  ping(): number { return 1; }
  buffered_bytes(): number { return 0; }
  cork(fn: () => void): void { fn(); }
  end(): void { this.closed = true; }
}

interface Footprint {
  heap_bytes: number;
  array_buffer_bytes: number;
  rss_bytes: number;
}

function full_gc(): void {
  for (let i = 0; i < 3; i++) gc();
}

function reading(): Footprint {
  full_gc();
  const m = process.memoryUsage();
  return { heap_bytes: m.heapUsed, array_buffer_bytes: m.arrayBuffers, rss_bytes: m.rss };
}

function per(before: Footprint, after: Footprint): Footprint {
  return {
    heap_bytes: Math.round((after.heap_bytes - before.heap_bytes) / n),
    array_buffer_bytes: Math.round((after.array_buffer_bytes - before.array_buffer_bytes) / n),
    rss_bytes: Math.round((after.rss_bytes - before.rss_bytes) / n),
  };
}

/** Bytes per object of what make() returns, N of them kept alive. */
async function measure(make: (i: number) => unknown | Promise<unknown>): Promise<Footprint> {
  const keep: unknown[] = new Array(n).fill(null);
  const before = reading();
  for (let i = 0; i < n; i++) keep[i] = await make(i);
  const after = reading();
  keep.length = 0;
  return per(before, after);
}

const now_ms = Date.now();
const parts: Record<string, Footprint> = {};
parts.reader_flow = await measure(() => new ReaderFlow(limits));
parts.token_bucket = await measure(() => new TokenBucket(50, 50, now_ms));
parts.stream_gate = await measure(() => new StreamGate(now_ms, 500));
parts.transport = await measure((i) => new MemoryTransport(`127.0.0.${i & 255}`));
parts.session = await measure((i) => new Session(new MemoryTransport(`127.0.0.${i & 255}`), limits, events, () => {}, now_ms));

// The real Feed: sessions opened, then each subscribed to one symbol at depth 10 (round-robin).
const bus = new MemoryBus();
serve_empty_snapshots(bus, config);
const feed = new Feed(config, bus);
feed.start();
for (let i = 0; i < 400 && !feed.health().ready; i++) await new Promise((r) => setTimeout(r, 5));
if (!feed.health().ready) throw new Error('feed not ready');
const subscribes = config.symbols.map((s) => new FrameEncoder().subscribe({ symbols: [s], depth: 10, interval_ms: 0 }));
const sessions = new Array<ReturnType<Feed['open_session']>>(n);
const turn = () => new Promise((r) => setImmediate(r));
{
  const before = reading();
  for (let i = 0; i < n; i++) sessions[i] = feed.open_session(new MemoryTransport(`127.0.0.${i & 255}`));
  const after_open = reading();
  for (let i = 0; i < n; i++) feed.on_client_frame(sessions[i], subscribes[i % subscribes.length]);
  await turn(); // the Snapshots go out in the flush
  await turn();
  const after_subscribe = reading();
  const transport = parts.transport;
  parts.feed_open_session = per(before, after_open);
  parts.feed_open_session.heap_bytes -= transport.heap_bytes; // its transport is the server's
  parts.subscription_one_view = per(after_open, after_subscribe);
  parts.feed_session_subscribed = {
    heap_bytes: parts.feed_open_session.heap_bytes + parts.subscription_one_view.heap_bytes,
    array_buffer_bytes: parts.feed_open_session.array_buffer_bytes + parts.subscription_one_view.array_buffer_bytes,
    rss_bytes: parts.feed_open_session.rss_bytes + parts.subscription_one_view.rss_bytes,
  };
}
await feed.stop();
await bus.close();

const result = {
  what: 'JS memory per idle subscribed connection in the feed, by part: V8 heap used and ArrayBuffer backing stores per object after a forced GC (N kept alive)',
  baseline: 'the same N slots holding nothing',
  sessions: n,
  parts,
  per_connection_js_bytes: parts.feed_session_subscribed.heap_bytes + parts.feed_session_subscribed.array_buffer_bytes,
  duration_s: round((performance.now() - started) / 1000, 1),
};
const path = write_result('session_memory', result);
const m = machine_description();
process.stdout.write([
  `JS memory per session on ${m.cpu_model} (load ${m.load_average_1m}), node ${m.node}, ${n} of each kept alive:`,
  ...Object.entries(parts).map(([k, v]) => `  ${k.padEnd(26)} heap ${String(v.heap_bytes).padStart(6)} B   array buffers ${String(v.array_buffer_bytes).padStart(6)} B   rss ${String(v.rss_bytes).padStart(6)} B`),
  `  wrote ${path} (${result.duration_s} s)`, '',
].join('\n'));
process.exit(0);
