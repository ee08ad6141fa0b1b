// Seeded order flow that looks like a market, one generator per symbol:
// - Poisson arrivals at the symbol's rate, times burst_factor inside bursts
//   (bursts start a few times a minute and last a short random time; during a
//   burst more of the flow is aggressive);
// - a fair price doing a random walk (volatility in ticks per √s);
// - passive orders mostly at or near the touch, a long tail far from it,
//   sizes log-normal and larger deeper in the book;
// - cancels of resting orders, mostly near the touch but also anywhere
//   (uniform over resting orders, so far-away ones go too), at a rate that
//   keeps the number of resting orders around a target;
// - cancel/replace: size reductions (keep priority), increases and price moves;
// - marketable limit, IOC and market orders sweeping one to several levels,
//   leaning towards the side the fair price has moved to, so the book follows it;
// - a thin side (fewer than a few levels) is refilled first, keeping the book two-sided.
//
// The generator reads the book it feeds (OrderBookReader, implemented by Matcher), so
// the stream depends only on (seed, symbol, rate, burst factor) and the order
// count: same inputs, same orders.
import { type Side, side_ask, side_bid } from '../book/types.js';
import { Prng, fnv1a } from '../util/random.js';
import type { InstrumentSpec } from './instruments.js';
import { type OrderCommand, order_cancel, order_ioc, order_limit, order_market, order_replace } from './matcher.js';

/** What the generator reads of the book; the Matcher implements it. */
export interface OrderBookReader {
  depth(side: Side): number;
  level_price(side: Side, depth: number): number;
  level_size(side: Side, depth: number): number;
  readonly resting_orders: number;
  pick_resting(u: number): number;
  pick_in_level(side: Side, depth: number, u: number): number;
  order_price(order_id: number): number;
  order_qty(order_id: number): number;
}

export interface OrderFlowOptions {
  seed: number;
  rate_orders_per_s: number;
  burst_factor: number;
}

const bursts_per_s = 1 / 20;
const burst_duration_mean_s = 0.5;
const burst_duration_s_max = 3;
/** Cancels scale with resting orders / this, keeping the book's size stationary. */
const resting_orders_target = 1000;
/** Below this many levels a side is refilled first. */
const side_levels_min = 5;
const offset_ticks_max = 5000;

// Order mix outside bursts (weights; cancels are scaled, aggressive doubles in a burst).
const weight_passive = 0.47;
const weight_cancel = 0.40;
const weight_replace = 0.08;
const weight_aggressive = 0.05;

export class OrderFlow {
  /** Arrival time of the next order, in seconds since the flow started. */
  next_arrival_s = 0;
  /** The fair price (ticks, fractional): where the market "wants" to trade. */
  fair: number;
  private last_arrival_s = 0;
  private in_burst = false;
  private burst_end_s = 0;
  private next_burst_s: number;
  private readonly rng: Prng;
  private readonly rate_orders_per_s: number;
  private readonly burst_factor: number;

  constructor(private readonly book: OrderBookReader, private readonly spec: InstrumentSpec, options: OrderFlowOptions) {
    this.rng = new Prng(options.seed, fnv1a(spec.instrument.symbol));
    this.rate_orders_per_s = options.rate_orders_per_s;
    this.burst_factor = options.burst_factor;
    this.fair = spec.start_mid_ticks;
    this.next_burst_s = this.rng.exponential(1 / bursts_per_s);
    this.schedule();
  }

  get bursting(): boolean {
    return this.in_burst;
  }

  /** Drops a backlog: no order arrives before t_s (after a pause or when the engine fell behind). */
  skip_to(t_s: number): void {
    if (this.next_arrival_s < t_s) {
      this.next_arrival_s = t_s;
      this.last_arrival_s = t_s;
    }
  }

  /** The order arriving at next_arrival_s; schedules the one after. */
  next(out: OrderCommand): OrderCommand {
    const rng = this.rng;
    const dt = this.next_arrival_s - this.last_arrival_s;
    this.last_arrival_s = this.next_arrival_s;
    this.walk(dt);
    this.schedule();

    const book = this.book;
    const bid_depth = book.depth(side_bid);
    const ask_depth = book.depth(side_ask);
    if ((bid_depth < side_levels_min || ask_depth < side_levels_min) && rng.next() < 0.8) {
      return this.passive(out, bid_depth <= ask_depth ? side_bid : side_ask);
    }
    const aggressive = weight_aggressive * (this.in_burst ? 2 : 1);
    const cancel = weight_cancel * Math.min(3, Math.max(0.2, book.resting_orders / resting_orders_target));
    const u = rng.next() * (weight_passive + cancel + weight_replace + aggressive);
    if (u < weight_passive) return this.passive(out, rng.next() < 0.5 ? side_bid : side_ask);
    if (u < weight_passive + cancel) return this.cancel(out);
    if (u < weight_passive + cancel + weight_replace) return this.replace(out);
    return this.aggressive(out);
  }

  /** A passive order on `side` at the fair-anchored touch or deeper (also used to fill a new book). */
  passive(out: OrderCommand, side: Side): OrderCommand {
    const offset = this.draw_offset();
    let price: number;
    if (side === side_bid) {
      price = Math.floor(this.fair - 0.5) - offset;
      const best_ask = this.book.level_price(side_ask, 0);
      if (price >= best_ask) price = best_ask - 1;
    } else {
      price = Math.ceil(this.fair + 0.5) + offset;
      const best_bid = this.book.level_price(side_bid, 0);
      if (price <= best_bid) price = best_bid + 1;
    }
    out.type = order_limit;
    out.side = side;
    out.price = Math.max(1, price);
    out.qty = this.draw_size(offset);
    out.order_id = 0;
    return out;
  }

  private walk(dt: number): void {
    const vol = this.spec.volatility_ticks_per_sqrt_s * (this.in_burst ? 2 : 1);
    this.fair += this.rng.normal() * vol * Math.sqrt(dt);
    const floor = Math.max(10, this.spec.start_mid_ticks / 100);
    if (this.fair < floor) this.fair = 2 * floor - this.fair;
  }

  private schedule(): void {
    const rng = this.rng;
    const t = this.next_arrival_s;
    if (this.in_burst && t >= this.burst_end_s) {
      this.in_burst = false;
      this.next_burst_s = t + rng.exponential(1 / bursts_per_s);
    }
    if (!this.in_burst && t >= this.next_burst_s) {
      this.in_burst = true;
      this.burst_end_s = t + Math.min(burst_duration_s_max, rng.exponential(burst_duration_mean_s));
    }
    const rate = this.rate_orders_per_s * (this.in_burst ? this.burst_factor : 1);
    this.next_arrival_s = t + rng.exponential(1 / rate);
  }

  /** Ticks behind the touch: mostly 0–2 scales, a quarter a few scales, a Pareto tail deep into the book. */
  private draw_offset(): number {
    const rng = this.rng;
    const scale = this.spec.offset_scale_ticks;
    const u = rng.next();
    let offset: number;
    if (u < 0.6) offset = rng.exponential(scale * 0.5);
    else if (u < 0.92) offset = rng.exponential(scale * 5);
    else offset = scale * 10 * Math.pow(1 / (1 - rng.next()), 1 / 1.2);
    return Math.min(offset_ticks_max, Math.floor(offset));
  }

  /** Log-normal around the instrument's median, larger deeper in the book. */
  private draw_size(offset: number): number {
    const median = this.spec.size_median_lots;
    const depth_factor = 1 + offset / (this.spec.offset_scale_ticks * 20);
    const size = median * depth_factor * Math.exp(0.9 * this.rng.normal());
    return Math.max(1, Math.min(median * 200, Math.round(size)));
  }

  private cancel(out: OrderCommand): OrderCommand {
    const id = this.pick_order();
    if (id === 0) return this.passive(out, this.rng.next() < 0.5 ? side_bid : side_ask);
    out.type = order_cancel;
    out.order_id = id;
    return out;
  }

  /** Mostly an order near the touch, otherwise any resting order (0 if the book is empty). */
  private pick_order(): number {
    const rng = this.rng;
    const book = this.book;
    if (book.resting_orders === 0) return 0;
    if (rng.next() < 0.65) {
      const side: Side = rng.next() < 0.5 ? side_bid : side_ask;
      const depth = book.depth(side);
      if (depth > 0) return book.pick_in_level(side, Math.min(depth - 1, Math.floor(rng.exponential(2))), rng.next());
    }
    return book.pick_resting(rng.next());
  }

  private replace(out: OrderCommand): OrderCommand {
    const rng = this.rng;
    const id = this.pick_order();
    if (id === 0) return this.passive(out, rng.next() < 0.5 ? side_bid : side_ask);
    const price = this.book.order_price(id);
    const qty = this.book.order_qty(id);
    out.type = order_replace;
    out.order_id = id;
    const u = rng.next();
    if (u < 0.5 && qty > 1) {
      out.price = price;
      out.qty = Math.max(1, Math.floor(qty * (0.2 + 0.7 * rng.next())));
    } else if (u < 0.75) {
      out.price = price;
      out.qty = qty + 1 + Math.floor(qty * rng.next());
    } else {
      const move = 1 + Math.floor(rng.exponential(1.5));
      out.price = Math.max(1, rng.next() < 0.5 ? price - move : price + move);
      out.qty = qty;
    }
    return out;
  }

  private aggressive(out: OrderCommand): OrderCommand {
    const rng = this.rng;
    const book = this.book;
    const scale = this.spec.offset_scale_ticks;
    const best_bid = book.level_price(side_bid, 0);
    const best_ask = book.level_price(side_ask, 0);
    const mid = Number.isNaN(best_bid) || Number.isNaN(best_ask) ? this.fair : (best_bid + best_ask) / 2;
    const p_buy = Math.min(0.9, Math.max(0.1, 0.5 + (0.15 * (this.fair - mid)) / scale));
    const side: Side = rng.next() < p_buy ? side_bid : side_ask;
    const other: Side = side === side_bid ? side_ask : side_bid;
    const other_depth = book.depth(other);
    if (other_depth === 0) return this.passive(out, other);
    // Most takers want about an order's size at the touch; some sweep several levels (more in a burst).
    let levels = 1;
    let qty: number;
    if (rng.next() < (this.in_burst ? 0.3 : 0.08)) {
      levels = Math.min(other_depth, 2 + Math.floor(rng.exponential(this.in_burst ? 2 : 1)));
      qty = 0;
      for (let d = 0; d < levels - 1; d++) qty += book.level_size(other, d);
      qty += Math.max(1, Math.ceil(book.level_size(other, levels - 1) * (0.2 + 0.8 * rng.next())));
    } else {
      qty = this.draw_size(0);
    }
    const u = rng.next();
    out.side = side;
    out.order_id = 0;
    out.price = book.level_price(other, levels - 1);
    if (u < 0.4) {
      // Marketable limit; some are larger than what they sweep and post the rest.
      out.type = order_limit;
      out.qty = rng.next() < 0.3 ? Math.ceil(qty * 1.5) : qty;
    } else if (u < 0.75) {
      out.type = order_ioc;
      out.qty = qty;
    } else {
      out.type = order_market;
      out.qty = qty;
    }
    return out;
  }
}
