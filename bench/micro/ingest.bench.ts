// What it measures (issue 3, "Ingest"): level updates per second applied to
// the books through the feed's real ingest path — SymbolFeed.on_message with
// the engine's encoded EventBatches (decode with bounds and seq checks,
// continuity per (epoch, seq), L2Book.apply, trade records, commit points) —
// on one core. Every book event changes exactly one level, so level updates
// = events. Goal: at least 5M level updates/s per core.
//
// Baseline in the same run: the same events, decoded ahead of time into
// BookEvent objects, applied with bare L2Book.apply (no decoding, no checks):
// ratio = ingest ÷ bare apply is the price of reading the wire safely.
// Also reported: decoding alone (EventBatchReader.read + event() per event).
// Both paths take the books' change lists once per batch, as a flush would.
// Rates are per CPU-second of this process (process.cpuUsage), so "per core"
// holds on a shared machine; wall-clock rates are in the file too.
//
// Two streams, both the engine's own (generate_event_batches: seeded order
// flow and matcher on a virtual clock, default symbols, batches cut as the
// live engine cuts them): "loaded", the engine at --rate orders/s so batches
// fill up (the goal is judged here), and the default rate (2,000 orders/s),
// where batches hold a few events and per-batch costs dominate. Caveats: one thread, no bus and no views (those are in
// micro/book and e2e/fanout); runs alternate, medians reported.
// Run: npx tsx bench/micro/ingest.bench.ts [--orders N] [--runs N] [--rate N] [--quick]
import '../e2e/harness/quiet.js';
import { L2Book } from '../../src/book/l2_book.js';
import { new_book_event, side_ask, side_bid, type BookEvent } from '../../src/book/types.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { Subjects } from '../../src/bus/subjects.js';
import { default_config } from '../../src/config.js';
import { generate_event_batches } from '../../src/engine/engine.js';
import { SymbolFeed, type SymbolFeedHooks } from '../../src/feed/symbol_feed.js';
import { EventBatchReader } from '../../src/wire/engine_codec.js';
import { recording_epoch, serve_empty_snapshots } from '../e2e/harness/recording.js';
import { machine_description, round, si, write_result } from '../lib.js';
import { arg, quick } from '../e2e/harness/args.js';

const orders = arg('--orders', quick ? 100_000 : 600_000);
const runs = arg('--runs', quick ? 2 : 5);
const goal = 5_000_000;
/** Engine rate for the loaded stream: batches fill to batch_events_max. */
const high_rate_orders_per_s = arg('--rate', 1_000_000);
const started = performance.now();

const base_config = { ...default_config(), log_level: 'warn' };
const subjects = new Subjects(base_config.subject_prefix);
const bus = new MemoryBus();
serve_empty_snapshots(bus, base_config);
let commits = 0;
const hooks: SymbolFeedHooks = {
  on_commit: () => { commits++; },
  on_reset: () => {},
  on_continue: () => {},
  on_state: () => {},
  before_recovery: () => {},
  on_batch_applied: () => {},
};

/** Live SymbolFeeds (an empty snapshot at seq 0 from the bus): the stream starts from empty books. */
async function live_feeds(symbols: string[]): Promise<Map<string, SymbolFeed>> {
  const feeds = new Map<string, SymbolFeed>();
  for (const symbol of symbols) {
    const f = new SymbolFeed(symbol, bus, subjects, hooks, 1000, { engine_silence_ms_max: default_config().engine_silence_ms_max });
    f.start();
    feeds.set(symbol, f);
  }
  for (let i = 0; i < 200 && [...feeds.values()].some((f) => f.state !== 'live'); i++) await new Promise((r) => setTimeout(r, 1));
  if ([...feeds.values()].some((f) => f.state !== 'live')) throw new Error('feeds did not go live');
  return feeds;
}

interface CpuRate {
  /** Median over runs of operations per CPU-second of this process: per core, whatever else runs on the machine. */
  ops_per_s: number;
  runs_ops_per_s: number[];
  /** The same runs by the wall clock (lower when other processes take the core). */
  wall_ops_per_s: number;
}

/**
 * Runs each body once untimed, then `runs` rounds of all bodies alternately,
 * timing each by the process's CPU time (process.cpuUsage) and the wall clock.
 * CPU time is the honest "per core" measure on a shared machine.
 */
function cpu_rates(bodies: (() => number)[], runs: number): CpuRate[] {
  for (const b of bodies) b();
  const cpu: number[][] = bodies.map(() => []);
  const wall: number[][] = bodies.map(() => []);
  for (let r = 0; r < runs; r++) {
    bodies.forEach((body, i) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const ops = body();
      const wall_s = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      cpu[i].push(ops / ((c.user + c.system) / 1e6));
      wall[i].push(ops / wall_s);
    });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return bodies.map((_, i) => ({ ops_per_s: Math.round(median(cpu[i])), runs_ops_per_s: cpu[i].map(Math.round), wall_ops_per_s: Math.round(median(wall[i])) }));
}

async function bench_stream(rate_orders_per_s: number) {
  const config = { ...base_config, rate_orders_per_s };
  const batches = generate_event_batches(config, { orders, epoch: recording_epoch });
  const reader = new EventBatchReader();
  // Bare path input: every event decoded once, grouped per symbol, batch ends marked.
  const decoded = new Map<string, { events: BookEvent[]; batch_ends: number[] }>();
  for (const b of batches) {
    reader.read(b.bytes);
    let d = decoded.get(reader.symbol);
    if (d === undefined) decoded.set(reader.symbol, (d = { events: [], batch_ends: [] }));
    for (let i = 0; i < reader.count; i++) d.events.push(reader.event(i, new_book_event()));
    d.batch_ends.push(d.events.length);
  }
  const total_events = [...decoded.values()].reduce((sum, d) => sum + d.events.length, 0);
  const feed_sets: Map<string, SymbolFeed>[] = [];
  for (let i = 0; i <= runs; i++) feed_sets.push(await live_feeds(config.symbols));
  const symbol_of_batch = batches.map((b) => subjects.symbol_of(b.subject));
  let last_feeds: Map<string, SymbolFeed> | undefined;
  commits = 0;

  const run_ingest = (): number => {
    const feeds = feed_sets.shift();
    if (feeds === undefined) throw new Error('no fresh feeds left');
    for (let i = 0; i < batches.length; i++) {
      const f = feeds.get(symbol_of_batch[i])!;
      f.on_message(batches[i].bytes, 0);
      f.book.take_changes();
      f.pending_trades.length = 0;
    }
    last_feeds = feeds;
    return total_events;
  };

  let last_books: Map<string, L2Book> | undefined;
  const run_bare_apply = (): number => {
    const books = new Map<string, L2Book>();
    for (const [symbol, d] of decoded) {
      const book = new L2Book();
      let end = 0;
      for (let i = 0; i < d.events.length; i++) {
        book.apply(d.events[i]);
        if (i + 1 === d.batch_ends[end]) {
          book.take_changes();
          end++;
        }
      }
      books.set(symbol, book);
    }
    last_books = books;
    return total_events;
  };

  const scratch = new_book_event();
  const run_decode_only = (): number => {
    let n = 0;
    for (const b of batches) {
      reader.read(b.bytes);
      for (let i = 0; i < reader.count; i++) n += reader.event(i, scratch).seq > 0 ? 1 : 0;
    }
    return n;
  };

  const [ingest, bare_apply, decode_only] = cpu_rates([run_ingest, run_bare_apply, run_decode_only], runs);

  // Same books both ways, and nothing skipped: the ingest path really applied every event.
  for (const [symbol, f] of last_feeds!) {
    const bare = last_books!.get(symbol)!;
    if (f.state !== 'live' || f.book.level_count(side_bid) !== bare.level_count(side_bid) || f.book.level_count(side_ask) !== bare.level_count(side_ask)) {
      throw new Error(`${symbol}: ingest book differs from the bare book`);
    }
    if (f.stats.duplicates_skipped + f.stats.gaps + f.stats.bad_messages > 0) throw new Error(`${symbol}: ingest skipped batches ${JSON.stringify(f.stats)}`);
  }
  return {
    engine_rate_orders_per_s: rate_orders_per_s,
    events: total_events,
    batches: batches.length,
    events_per_batch: round(total_events / batches.length, 1),
    commit_points_per_run: Math.round(commits / (runs + 1)),
    ingest,
    bare_apply,
    ratio_ingest_to_bare_apply: round(ingest.ops_per_s / bare_apply.ops_per_s, 3),
    decode_only,
  };
}

// Full batches (an engine under load, the case the throughput goal is about) and the default rate's small batches.
const loaded = await bench_stream(high_rate_orders_per_s);
const default_rate = await bench_stream(base_config.rate_orders_per_s);

const result = {
  what: 'level updates/s applied to books through SymbolFeed.on_message (encoded EventBatches) on one core',
  baseline: 'the same events pre-decoded, applied with bare L2Book.apply',
  orders,
  symbols: base_config.symbols,
  runs,
  // The headline: an engine under load (full batches).
  ingest: loaded.ingest,
  bare_apply: loaded.bare_apply,
  ratio_ingest_to_bare_apply: loaded.ratio_ingest_to_bare_apply,
  loaded,
  default_rate,
  goal_level_updates_per_s: goal,
  meets_goal: loaded.ingest.ops_per_s >= goal,
  duration_s: round((performance.now() - started) / 1000, 1),
};
const path = write_result('ingest', result);
const m = machine_description();
const lines = (name: string, r: typeof loaded): string[] => [
  `  ${name}: engine at ${si(r.engine_rate_orders_per_s)} orders/s, ${si(r.events)} events, ${r.events_per_batch} per batch`,
  `    SymbolFeed.on_message: ${si(r.ingest.ops_per_s)} level updates/s`,
  `    bare L2Book.apply:     ${si(r.bare_apply.ops_per_s)} level updates/s → ratio ingest/bare ${r.ratio_ingest_to_bare_apply}`,
  `    decode only:           ${si(r.decode_only.ops_per_s)} events/s`,
];
process.stdout.write([
  `ingest bench on ${m.cpu_model} (${m.cores} cores, load ${m.load_average_1m}), node ${m.node}`,
  ...lines('loaded', loaded),
  ...lines('default rate', default_rate),
  `  goal ${si(goal)} level updates/s (loaded): ${result.meets_goal ? 'met' : 'NOT met'}`,
  `  wrote ${path} (${result.duration_s} s)`,
  '',
].join('\n'));
await bus.close();
