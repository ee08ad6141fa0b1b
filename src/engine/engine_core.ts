// The engine without I/O or timers: per symbol a matcher, its order flow and
// its publisher, advanced to a point in time by the caller. start_engine
// drives it with the wall clock and a bus; generate_event_batches drives it
// with a virtual clock, which makes the output a pure function of the
// configuration (the determinism test and the benchmarks use that).
import { type L2Snapshot, side_ask, side_bid } from '../book/types.js';
import type { Subjects } from '../bus/subjects.js';
import type { Config } from '../config.js';
import { instrument_spec, type InstrumentSpec } from './instruments.js';
import { Matcher, new_order_command, type OrderCommand } from './matcher.js';
import { OrderFlow } from './order_flow.js';
import { BatchPublisher, type PublishFn } from './publisher.js';

/** Passive orders per symbol placed at start, so the first snapshot already shows a book. */
const prefill_orders = 400;
/** A backlog older than this is dropped rather than replayed in a flood. */
const backlog_ns_max = 1e9;

export interface EngineCoreOptions {
  config: Readonly<Config>;
  subjects: Subjects;
  epoch: number;
  /** ns since 1970; the wall clock in production, a virtual one for determinism. */
  clock_ns: () => number;
  publish: PublishFn;
  /** Per-symbol rates (orders/s); symbols not listed share config.rate_orders_per_s equally. */
  rates_orders_per_s?: Readonly<Record<string, number>>;
}

export interface SymbolStats {
  orders: number;
  events: number;
  batches: number;
  bytes: number;
  publish_failures: number;
  /** Batches sent again after the bus came back (resend_ring.ts). */
  resent: number;
  seq: number;
  trades: number;
  resting_orders: number;
  bid_levels: number;
  ask_levels: number;
}

class SymbolEngine {
  readonly matcher: Matcher;
  readonly flow: OrderFlow;
  readonly publisher: BatchPublisher;
  private readonly command: OrderCommand = new_order_command();
  orders = 0;

  constructor(readonly spec: InstrumentSpec, options: EngineCoreOptions, rate_orders_per_s: number) {
    const { config, subjects, epoch } = options;
    const symbol = spec.instrument.symbol;
    this.publisher = new BatchPublisher(symbol, epoch, subjects.events(symbol), config, options.publish, subjects.resend(symbol));
    this.matcher = new Matcher({ instrument: spec.instrument, epoch, sink: this.publisher.on_event });
    this.flow = new OrderFlow(this.matcher, spec, {
      seed: config.seed,
      rate_orders_per_s,
      burst_factor: config.burst_factor,
    });
  }

  prefill(now_ns: number): void {
    for (let i = 0; i < prefill_orders; i++) {
      this.matcher.apply(this.flow.passive(this.command, i % 2 === 0 ? side_bid : side_ask), now_ns);
      this.publisher.flush_due(now_ns);
      this.orders++;
    }
    this.publisher.flush(now_ns);
  }

  /** Applies the orders that arrived by elapsed_s, at most orders_max; returns how many. */
  run_until(elapsed_s: number, orders_max: number, clock_ns: () => number): number {
    const flow = this.flow;
    const matcher = this.matcher;
    const publisher = this.publisher;
    let n = 0;
    while (n < orders_max && flow.next_arrival_s <= elapsed_s) {
      const now = clock_ns();
      matcher.apply(flow.next(this.command), now);
      publisher.flush_due(now);
      n++;
    }
    this.orders += n;
    return n;
  }

  stats(): SymbolStats {
    const p = this.publisher;
    const m = this.matcher;
    return {
      orders: this.orders, events: p.events, batches: p.batches, bytes: p.bytes, publish_failures: p.publish_failures, resent: p.resent,
      seq: m.seq, trades: m.last_trade_id, resting_orders: m.resting_orders, bid_levels: m.depth(side_bid), ask_levels: m.depth(side_ask),
    };
  }
}

export class EngineCore {
  readonly symbols: string[];
  private readonly books = new Map<string, SymbolEngine>();
  private readonly clock_ns: () => number;
  private start_ns = 0;
  /** Time not generated for (pauses, dropped backlog). */
  private skipped_ns = 0;
  private last_now_ns = 0;
  /** True when the last advance() stopped at its order cap with arrivals still due. */
  behind = false;

  constructor(options: EngineCoreOptions) {
    const { config } = options;
    this.clock_ns = options.clock_ns;
    this.symbols = [...config.symbols];
    const listed = options.rates_orders_per_s ?? {};
    const unlisted = this.symbols.filter((s) => listed[s] === undefined);
    const listed_total = this.symbols.reduce((sum, s) => sum + (listed[s] ?? 0), 0);
    const shared = unlisted.length > 0 ? Math.max(0, config.rate_orders_per_s - listed_total) / unlisted.length : 0;
    for (const symbol of this.symbols) {
      const rate = listed[symbol] ?? shared;
      if (!(rate > 0)) throw new Error(`engine: symbol ${symbol} gets no order rate (total ${config.rate_orders_per_s}/s)`);
      this.books.set(symbol, new SymbolEngine(instrument_spec(symbol), options, rate));
    }
  }

  /** Sends an engine heartbeat for every symbol that has published nothing for quiet_ns. */
  heartbeat(now_ns: number, quiet_ns: number): void {
    for (const book of this.books.values()) {
      if (now_ns - book.publisher.last_send_ns >= quiet_ns) book.publisher.heartbeat(book.matcher.seq + 1, now_ns);
    }
  }

  /** Places the initial books and publishes them. */
  start(): void {
    const now = this.clock_ns();
    this.start_ns = now;
    this.last_now_ns = now;
    for (const book of this.books.values()) book.prefill(now);
  }

  /**
   * Generates and applies every order due by `now_ns`, at most `orders_max`
   * (split over the symbols so none starves), and sends batches that are due.
   * While `paused`, time passes without orders (and without a backlog).
   */
  advance(now_ns: number, orders_max: number, paused = false): number {
    if (paused) this.skipped_ns += now_ns - this.last_now_ns;
    this.last_now_ns = now_ns;
    let done = 0;
    this.behind = false;
    if (!paused) {
      const elapsed_s = (now_ns - this.start_ns - this.skipped_ns) / 1e9;
      const per_symbol_max = Math.max(1, Math.ceil(orders_max / this.books.size));
      for (const book of this.books.values()) {
        if ((elapsed_s - book.flow.next_arrival_s) * 1e9 > backlog_ns_max) {
          const dropped_ns = (elapsed_s - book.flow.next_arrival_s) * 1e9;
          book.flow.skip_to(elapsed_s);
          this.on_backlog_dropped?.(book.spec.instrument.symbol, dropped_ns);
        }
        done += book.run_until(elapsed_s, Math.min(per_symbol_max, orders_max - done), this.clock_ns);
        if (book.flow.next_arrival_s <= elapsed_s) this.behind = true;
      }
    }
    // End of a turn: what arrived in it goes out now. Batching comes from the
    // turn (everything the engine did in ~1 ms), not from holding events back;
    // batch_interval_ms_max still bounds a long catch-up turn (run_until).
    for (const book of this.books.values()) book.publisher.flush(now_ns);
    return done;
  }

  /** Called when a symbol fell so far behind that its backlog was dropped. */
  on_backlog_dropped?: (symbol: string, dropped_ns: number) => void;

  /** Sends everything staged (stop, or before answering a snapshot). */
  flush(symbol?: string): void {
    const now = this.clock_ns();
    if (symbol !== undefined) this.books.get(symbol)?.publisher.flush(now);
    else for (const book of this.books.values()) book.publisher.flush(now);
  }

  /** Every symbol's batches sent at or after `from_ns`, sent again (BatchPublisher.resend_since); returns how many. */
  resend_since(from_ns: number): number {
    let n = 0;
    for (const book of this.books.values()) n += book.publisher.resend_since(from_ns);
    return n;
  }

  has(symbol: string): boolean {
    return this.books.has(symbol);
  }

  /** The symbol's L2 book at its current seq (always at an engine-event boundary). */
  snapshot(symbol: string): L2Snapshot | undefined {
    return this.books.get(symbol)?.matcher.l2_snapshot();
  }

  instruments(): InstrumentSpec['instrument'][] {
    return [...this.books.values()].map((b) => b.spec.instrument);
  }

  stats_by_symbol(): Record<string, SymbolStats> {
    const out: Record<string, SymbolStats> = {};
    for (const [symbol, book] of this.books) out[symbol] = book.stats();
    return out;
  }

  /** The matcher of a symbol, for tests. */
  matcher(symbol: string): Matcher | undefined {
    return this.books.get(symbol)?.matcher;
  }
}
