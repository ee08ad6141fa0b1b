// What it measures: level updates per second applied to one L2Book through
// L2Book.apply, replaying a pre-generated, realistic event stream (adds,
// cancels, partial reduces, executions at the touch; prices clustered near the
// mid; a few hundred levels per side), with take_changes() at every engine
// event boundary as the feed does. Baseline in the same run: the same stream
// applied to a plain Map<number, number> per side (get, then set or delete),
// the least a price → size structure can do. Also: the whole ingest step
// (apply + take_changes + updating views of depth 10, 50 and 0 at every
// flush), with a flush every 4 book events (one engine event per event-loop
// turn: the worst case) and every 64 (a busy feed: many events per turn).
//
// Caveats: one core, no I/O; event generation is not timed. Runs alternate
// (baseline, book, ingest) and the median of the runs is reported.
// Run: npx tsx bench/micro/book.bench.ts [--events N] [--runs N]
// Goal (issue 3): >= 5M level updates/s per core.

import { L2Book } from '../../src/book/l2_book.js';
import { event_add, event_execute, event_reduce, new_book_event, side_ask, side_bid, type BookEvent, type Side } from '../../src/book/types.js';
import { BookView, ViewLevels } from '../../src/book/view.js';
import { median, write_result } from '../lib.js';
import { arg } from '../e2e/harness/args.js';
import { seeded_random } from '../../src/util/random.js';

const event_count = arg('--events', 1_000_000);
const runs = arg('--runs', 7);
/** Book events per engine event: take_changes() after each, as the feed does at commit points. */
const events_per_batch = 4;

interface Resting { side: Side; price: number; remaining: number }

/** An order-level simulation, so every event is one a real book can take. */
function generate(n: number): BookEvent[] {
  // Seeded: every run and machine replays the same stream.
  const r = seeded_random(42);
  const orders: Resting[] = [];
  const events: BookEvent[] = [];
  const mid = 100_000;
  const best = [mid - 1, mid + 1];
  while (events.length < n) {
    const u = r();
    const side = r() < 0.5 ? side_bid : side_ask;
    const ev = new_book_event();
    ev.seq = events.length + 1;
    if (u < 0.5 || orders.length < 200) {
      // Distance from the touch: geometric, most orders within a few ticks.
      const distance = Math.floor(-Math.log(1 - r()) * 12);
      const price = side === side_bid ? best[0] - distance : best[1] + distance;
      const qty = 1 + Math.floor(r() * 20);
      orders.push({ side, price, remaining: qty });
      Object.assign(ev, { kind: event_add, side, price, qty, remaining: qty });
    } else {
      const i = Math.floor(r() * orders.length);
      const o = orders[i];
      const partial = u > 0.9 && o.remaining > 1;
      const qty = partial ? 1 + Math.floor(r() * (o.remaining - 1)) : o.remaining;
      o.remaining -= qty;
      Object.assign(ev, { kind: u < 0.8 ? event_reduce : event_execute, side: o.side, price: o.price, qty, remaining: o.remaining });
      if (o.remaining === 0) {
        orders[i] = orders[orders.length - 1];
        orders.pop();
      }
    }
    events.push(ev);
  }
  return events;
}

function run_book(events: BookEvent[]): { ms: number; book: L2Book } {
  const book = new L2Book();
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) {
    book.apply(events[i]);
    if (i % events_per_batch === events_per_batch - 1) book.take_changes();
  }
  return { ms: performance.now() - t0, book };
}

function run_baseline(events: BookEvent[]): { ms: number; levels: number } {
  const sides = [new Map<number, number>(), new Map<number, number>()];
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) {
    const ev = events[i];
    const m = sides[ev.side];
    const size = (m.get(ev.price) ?? 0) + (ev.kind === event_add ? ev.qty : -ev.qty);
    if (size === 0) m.delete(ev.price);
    else m.set(ev.price, size);
  }
  return { ms: performance.now() - t0, levels: sides[0].size + sides[1].size };
}

function run_ingest(events: BookEvent[], events_per_flush: number): { ms: number; changed_levels: number } {
  const book = new L2Book();
  const views = [new BookView(10), new BookView(50), new BookView(0)];
  const out = new ViewLevels();
  let changed_levels = 0;
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) {
    book.apply(events[i]);
    if (i % events_per_flush !== events_per_flush - 1) continue;
    const changes = book.take_changes();
    for (const v of views) changed_levels += v.update(book, changes.bids, changes.asks, out);
  }
  return { ms: performance.now() - t0, changed_levels };
}

const events = generate(event_count);
const book_ms: number[] = [];
const baseline_ms: number[] = [];
const ingest4_ms: number[] = [];
const ingest64_ms: number[] = [];
let final_levels = 0;
// One warm-up round, then measured rounds.
for (let round = 0; round <= runs; round++) {
  const base = run_baseline(events);
  const b = run_book(events);
  const ing4 = run_ingest(events, 4);
  const ing64 = run_ingest(events, 64);
  if (round === 0) continue;
  baseline_ms.push(base.ms);
  book_ms.push(b.ms);
  ingest4_ms.push(ing4.ms);
  ingest64_ms.push(ing64.ms);
  final_levels = b.book.level_count(side_bid) + b.book.level_count(side_ask);
  if (final_levels !== base.levels) throw new Error(`book has ${final_levels} levels, baseline ${base.levels}`);
}

const per_s = (ms: number) => event_count / (ms / 1000);
const result = {
  what: 'L2Book.apply level updates/s vs a Map<number, number> baseline (same stream, same run)',
  events: event_count,
  runs,
  events_per_batch,
  book_levels_at_end: final_levels,
  book_updates_per_s: Math.round(per_s(median(book_ms))),
  baseline_map_updates_per_s: Math.round(per_s(median(baseline_ms))),
  ratio_book_to_baseline: Number((median(baseline_ms) / median(book_ms)).toFixed(3)),
  ingest_views_10_50_0_flush_every_4_updates_per_s: Math.round(per_s(median(ingest4_ms))),
  ingest_views_10_50_0_flush_every_64_updates_per_s: Math.round(per_s(median(ingest64_ms))),
  goal_updates_per_s: 5_000_000,
  goal_met: per_s(median(book_ms)) >= 5_000_000,
  runs_ms: { book: book_ms.map(Math.round), baseline: baseline_ms.map(Math.round), ingest_4: ingest4_ms.map(Math.round), ingest_64: ingest64_ms.map(Math.round) },
};
write_result('micro_book', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
