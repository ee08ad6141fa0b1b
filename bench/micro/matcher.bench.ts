// What it measures: order operations per second of the matcher on one core,
// replaying the order-flow generator's own mix (passive limits near the touch
// and deep, cancels near and far, cancel/replace, marketable limit/IOC/market
// sweeps) recorded once per default symbol, into fresh books with a sink that
// only counts events. Goal (issue 2): at least 1M order operations/s.
//
// Baseline in the same run: the same command stream applied to a plain
// Map<order id, size> (set on a new order or replace, delete on a cancel):
// the bookkeeping any order book must at least do, in the same JS engine.
// ratio = matcher ÷ baseline says how far the full price-time book is from
// that floor. Runs alternate matcher and baseline; medians are reported.
//
// Also reported (not compared): the matcher feeding the real publisher path
// (events copied into EventBatchEncoder, batches finished) and generator +
// matcher together, i.e. what the live engine does per order minus I/O.
//
// Caveats: one thread, no I/O; generation is not timed in the main figure.
// Run: npx tsx bench/micro/matcher.bench.ts [--orders N] [--runs N]
import type { BookEvent, Side } from '../../src/book/types.js';
import { default_config } from '../../src/config.js';
import { instrument_spec } from '../../src/engine/instruments.js';
import { Matcher, new_order_command, order_cancel, order_ioc, order_limit, order_market, order_replace, type OrderType } from '../../src/engine/matcher.js';
import { OrderFlow } from '../../src/engine/order_flow.js';
import { BatchPublisher } from '../../src/engine/publisher.js';
import { compare, machine_description, measure, round, si, write_result } from '../lib.js';
import { arg } from '../e2e/harness/args.js';

const orders_per_symbol = arg('--orders', 1_000_000) / 4;
const runs = arg('--runs', 5);
const config = default_config();
const symbols = config.symbols;

/** One symbol's recorded command stream, in typed arrays (no objects to chase while timing). */
interface Recording {
  symbol: string;
  type: Uint8Array;
  side: Uint8Array;
  price: Float64Array;
  qty: Float64Array;
  order_id: Float64Array;
  events: number;
}

function record(symbol: string, n: number): Recording {
  const spec = instrument_spec(symbol);
  let events = 0;
  const matcher = new Matcher({ instrument: spec.instrument, epoch: 1, sink: () => { events++; } });
  const flow = new OrderFlow(matcher, spec, { seed: config.seed, rate_orders_per_s: config.rate_orders_per_s / symbols.length, burst_factor: config.burst_factor });
  const r: Recording = {
    symbol, type: new Uint8Array(n), side: new Uint8Array(n), price: new Float64Array(n), qty: new Float64Array(n), order_id: new Float64Array(n), events: 0,
  };
  const cmd = new_order_command();
  for (let i = 0; i < n; i++) {
    if (i < 400) flow.passive(cmd, i % 2 === 0 ? 0 : 1); else flow.next(cmd);
    r.type[i] = cmd.type; r.side[i] = cmd.side; r.price[i] = cmd.price; r.qty[i] = cmd.qty; r.order_id[i] = cmd.order_id;
    matcher.apply(cmd, i);
  }
  r.events = events;
  return r;
}

function replay(r: Recording, sink: (ev: Readonly<BookEvent>) => void): Matcher {
  const matcher = new Matcher({ instrument: instrument_spec(r.symbol).instrument, epoch: 1, sink });
  const cmd = new_order_command();
  const n = r.type.length;
  for (let i = 0; i < n; i++) {
    cmd.type = r.type[i] as OrderType;
    cmd.side = r.side[i] as Side;
    cmd.price = r.price[i];
    cmd.qty = r.qty[i];
    cmd.order_id = r.order_id[i];
    matcher.apply(cmd, i);
  }
  return matcher;
}

function map_floor(r: Recording): number {
  const sizes = new Map<number, number>();
  let next_id = 0;
  const n = r.type.length;
  for (let i = 0; i < n; i++) {
    switch (r.type[i]) {
      case order_limit: sizes.set(++next_id, r.qty[i]); break;
      case order_ioc:
      case order_market: ++next_id; break;
      case order_cancel: sizes.delete(r.order_id[i]); break;
      case order_replace: if (sizes.has(r.order_id[i])) sizes.set(r.order_id[i], r.qty[i]); break;
    }
  }
  return sizes.size;
}

const started = performance.now();
const recordings = symbols.map((s) => record(s, orders_per_symbol));
const total_orders = orders_per_symbol * symbols.length;
const total_events = recordings.reduce((sum, r) => sum + r.events, 0);
const mix: Record<string, number> = { limit: 0, ioc: 0, market: 0, cancel: 0, replace: 0 };
const names = ['limit', 'ioc', 'market', 'cancel', 'replace'];
for (const r of recordings) for (const t of r.type) mix[names[t]]++;

// Sanity: replaying reproduces the recorded stream (same ids, so every cancel hits).
let replay_events = 0;
for (const r of recordings) replay(r, () => { replay_events++; });
if (replay_events !== total_events) throw new Error(`replay emitted ${replay_events} events, recording ${total_events}`);

let sink_count = 0;
const count_sink = (): void => { sink_count++; };
const matcher_vs_map = await compare(
  () => { for (const r of recordings) replay(r, count_sink); return total_orders; },
  () => { let kept = 0; for (const r of recordings) kept += map_floor(r); return kept >= 0 ? total_orders : 0; },
  runs,
);
if (sink_count !== total_events * (runs + 1)) throw new Error(`sink saw ${sink_count} events, expected ${total_events * (runs + 1)}`);

const with_publisher = await measure(() => {
  for (const r of recordings) {
    const publisher = new BatchPublisher(r.symbol, 1, `bench.events.${r.symbol}`, config, () => {});
    replay(r, publisher.on_event);
    publisher.flush(0);
  }
  return total_orders;
}, runs);

const generate_and_match = await measure(() => {
  for (const symbol of symbols) record(symbol, orders_per_symbol);
  return total_orders;
}, Math.max(1, runs - 2));

const goal = 1_000_000;
const result = {
  what: 'matcher order operations/s on one core, generator mix, replayed into fresh books (sink counts events)',
  baseline: 'same command stream on a plain Map<order id, size> (set on new order/replace, delete on cancel)',
  orders: total_orders,
  events: total_events,
  events_per_order: round(total_events / total_orders, 3),
  mix: Object.fromEntries(Object.entries(mix).map(([k, v]) => [k, round(v / total_orders, 4)])),
  runs,
  matcher: matcher_vs_map.subject,
  map_baseline: matcher_vs_map.baseline,
  ratio_matcher_to_map: matcher_vs_map.ratio,
  matcher_with_publisher: with_publisher,
  generator_and_matcher: generate_and_match,
  goal_ops_per_s: goal,
  meets_goal: matcher_vs_map.subject.ops_per_s >= goal,
  duration_s: round((performance.now() - started) / 1000, 1),
};
const path = write_result('matcher', result);
const m = machine_description();
process.stdout.write([
  `matcher bench on ${m.cpu_model} (${m.cores} cores, load ${m.load_average_1m}), node ${m.node}`,
  `  orders ${si(total_orders)}, events/order ${result.events_per_order}, mix ${JSON.stringify(result.mix)}`,
  `  matcher:                 ${si(result.matcher.ops_per_s)} orders/s (best ${si(result.matcher.ops_per_s_best)})  goal ${si(goal)}: ${result.meets_goal ? 'met' : 'NOT met'}`,
  `  baseline Map floor:      ${si(result.map_baseline.ops_per_s)} orders/s  → ratio matcher/baseline ${result.ratio_matcher_to_map}`,
  `  matcher + publisher:     ${si(with_publisher.ops_per_s)} orders/s`,
  `  generator + matcher:     ${si(generate_and_match.ops_per_s)} orders/s`,
  `  wrote ${path} (${result.duration_s} s)`,
  '',
].join('\n'));
