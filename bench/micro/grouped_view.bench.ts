// What it measures: the cost of grouped views per update against ungrouped
// ones. An "update" is what the feed does per commit point: apply the engine
// events of one batch to the L2Book, take its changes, move its views. Three
// subjects on the same pre-decoded stream (the engine's own order flow,
// BTC-USD, --orders orders): views depth 10 and full, ungrouped (the
// baseline); the same views of a group-10 book (GroupedBook.update from the
// raw changes, then the views on the grouped book); and both at once (a feed
// serving grouped and ungrouped clients). Reported as updates/s and ns per
// update, with the ratios, medians of runs that alternate.
// Caveats: one core, no I/O, no encoding (the Delta encode is the same per
// view grouped or not); decoding is not timed.
// Run: npx tsx bench/micro/grouped_view.bench.ts [--orders N] [--runs N] [--group N]
import { GroupedBook } from '../../src/book/grouped_book.js';
import { L2Book } from '../../src/book/l2_book.js';
import { new_book_event, type BookEvent } from '../../src/book/types.js';
import { BookView, ViewLevels } from '../../src/book/view.js';
import { default_config } from '../../src/config.js';
import { generate_event_batches } from '../../src/engine/engine.js';
import { EventBatchReader } from '../../src/wire/engine_codec.js';
import { arg } from '../e2e/harness/args.js';
import { median, round, write_result } from '../lib.js';

const orders = arg('--orders', 200_000);
const runs = arg('--runs', 7);
const group = arg('--group', 10);
const depths = [10, 0];

// Pre-decoded batches: the timed loops see only book work.
const batches: BookEvent[][] = [];
const reader = new EventBatchReader();
for (const b of generate_event_batches({ ...default_config(), symbols: ['BTC-USD'] }, { orders, epoch: 1 })) {
  reader.read(b.bytes);
  const events: BookEvent[] = [];
  for (let i = 0; i < reader.count; i++) events.push(reader.event(i, new_book_event()));
  batches.push(events);
}
const event_count = batches.reduce((n, b) => n + b.length, 0);

type Mode = 'ungrouped' | 'grouped' | 'both';
function run(mode: Mode): number {
  const raw = new L2Book();
  const grouped = new GroupedBook(group);
  const raw_views = mode === 'grouped' ? [] : depths.map((d) => new BookView(d));
  const grouped_views = mode === 'ungrouped' ? [] : depths.map((d) => new BookView(d));
  const out = new ViewLevels();
  for (const events of batches) {
    for (const ev of events) raw.apply(ev);
    const changes = raw.take_changes();
    for (const v of raw_views) v.update(raw, changes.bids, changes.asks, out);
    if (grouped_views.length > 0) {
      grouped.update(raw, changes);
      const g = grouped.book.take_changes();
      for (const v of grouped_views) v.update(grouped.book, g.bids, g.asks, out);
    }
  }
  return batches.length;
}

const rates: Record<Mode, number[]> = { ungrouped: [], grouped: [], both: [] };
for (const mode of ['ungrouped', 'grouped', 'both'] as Mode[]) run(mode); // warm-up
for (let i = 0; i < runs; i++) {
  for (const mode of ['ungrouped', 'grouped', 'both'] as Mode[]) {
    const t0 = performance.now();
    const n = run(mode);
    rates[mode].push(n / ((performance.now() - t0) / 1000));
  }
}
const summary = (m: Mode) => ({ updates_per_s: Math.round(median(rates[m])), ns_per_update: round(1e9 / median(rates[m]), 0) });
const result = {
  what: `per update (one engine batch applied, its changes taken, views depth 10 and full moved): ungrouped views vs the same views grouped by ${group} ticks vs both`,
  orders, updates: batches.length, events: event_count, group, depths, runs,
  ungrouped: summary('ungrouped'), grouped: summary('grouped'), both: summary('both'),
  ratios: {
    grouped_cost_over_ungrouped: round(median(rates.ungrouped) / median(rates.grouped), 2),
    both_cost_over_ungrouped: round(median(rates.ungrouped) / median(rates.both), 2),
    grouping_ns_per_update: round(1e9 / median(rates.both) - 1e9 / median(rates.ungrouped), 0),
  },
};
const path = write_result('grouped_view', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\nwrote ${path}\n`);
