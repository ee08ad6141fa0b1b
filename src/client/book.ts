// The client's copy of one book view (symbol, depth), and the checks that make
// drift impossible to miss. Pure: no socket, no clock, no events.
//
// Every frame is verified before the book counts as synced again:
//   - epoch: a Delta of another epoch is a break (a new epoch comes with a Snapshot);
//   - range: a Delta's seq_first must be the previous seq + 1; one wholly at or
//     below the current seq is a duplicate (already applied, ignored); anything
//     else (gap, overlap, reorder) is a break;
//   - digest: recomputed incrementally with level_hash (subtract the old level,
//     add the new one) and compared with the frame's digest after applying;
//   - never crossed, never more than `depth` levels per side.
// A Snapshot always REPLACES the content (never merges), and is checked the same way.
//
// Levels live in src/book's Ladder (parallel sorted typed arrays, best at the
// end): no object per level, no allocation per Delta. Arrays of level objects
// are built only when someone reads `bids`/`asks`, at most once per version.
// A Delta comes either as arrays (apply_delta: tests, the verifying decoder's
// DeltaMsg) or read in place from the frame's bytes (apply_delta_from a
// DeltaSource: the SDK's hot path); both run the same code.
import { digest_add, digest_sub, level_hash } from '../book/digest.js';
import { Ladder } from '../book/ladder.js';
import { DecimalFormat } from './decimal_format.js';
import { side_ask, side_bid, type L2Level, type Side } from '../book/types.js';

/** Outcome of applying one frame to a book. */
export type Verdict =
  | 'ok'
  | 'duplicate'        // Delta wholly at or below the current seq: ignored, book unchanged
  | 'range_break'      // seq_first is not previous seq + 1 (gap, overlap, reorder)
  | 'epoch_change'     // Delta of another epoch without a Snapshot first
  | 'digest_mismatch'  // digest after applying differs from the frame's
  | 'crossed'          // best bid >= best ask after applying
  | 'invalid';         // impossible content: unsorted snapshot, too many levels, bad numbers

export interface SnapshotLike {
  epoch: number;
  seq: number;
  digest: number;
  tick_size: string;
  lot_size: string;
  price_decimals: number;
  size_decimals: number;
  bids: readonly L2Level[];
  asks: readonly L2Level[];
}

export interface DeltaLike {
  epoch: number;
  seq_first: number;
  seq: number;
  digest: number;
  bids: readonly L2Level[];
  asks: readonly L2Level[];
}

/**
 * A Delta read in place (src/wire/delta_reader.ts's DeltaReader): the same
 * fields as DeltaLike, levels through accessors (i < level_count(side), in
 * the order sent). apply_delta_from reads each level once, builds nothing.
 */
export interface DeltaSource {
  readonly epoch: number;
  readonly seq_first: number;
  readonly seq: number;
  readonly digest: number;
  level_count(side: Side): number;
  level_price(side: Side, i: number): number;
  level_size(side: Side, i: number): number;
  level_orders(side: Side, i: number): number;
}

export interface InstrumentInfo {
  tick_size: string;
  lot_size: string;
  price_decimals: number;
  size_decimals: number;
}

export class ClientBook {
  /** True once a snapshot was loaded and every frame since verified. */
  has_snapshot = false;
  epoch = 0;
  seq = 0;
  /** Digest of the content as the client computed it (uint32). */
  digest = 0;
  /** Increments on every content change; lets readers cache derived data. */
  version = 0;
  instrument: InstrumentInfo = { tick_size: '1', lot_size: '1', price_decimals: 0, size_decimals: 0 };
  /** Removals (size 0) of levels this book did not hold; harmless, counted. */
  unknown_level_removals = 0;
  /** Why the last non-ok verdict was given (for error events and logs). */
  last_problem = '';

  /** @internal The sides themselves (src/book/ladder.ts), for subclasses in this repository's tests. */
  protected readonly bid_ladder = new Ladder(side_bid);
  /** @internal */
  protected readonly ask_ladder = new Ladder(side_ask);
  private bids_cache: L2Level[] = [];
  private asks_cache: L2Level[] = [];
  private bids_cache_version = -1;
  private asks_cache_version = -1;
  private readonly price_format: DecimalFormat = new DecimalFormat('1', 0);
  private readonly size_format: DecimalFormat = new DecimalFormat('1', 0);
  private readonly arrays = new ArrayDelta();

  constructor(readonly symbol: string, readonly depth: number) {}

  // ---- reading ----

  /** Bids, best (highest) first. A new array per version; do not mutate. */
  get bids(): readonly L2Level[] {
    if (this.bids_cache_version !== this.version) {
      this.bids_cache = levels_of(this.bid_ladder);
      this.bids_cache_version = this.version;
    }
    return this.bids_cache;
  }

  /** Asks, best (lowest) first. A new array per version; do not mutate. */
  get asks(): readonly L2Level[] {
    if (this.asks_cache_version !== this.version) {
      this.asks_cache = levels_of(this.ask_ladder);
      this.asks_cache_version = this.version;
    }
    return this.asks_cache;
  }

  level_count(side: Side): number {
    return this.ladder(side).count;
  }

  /** Level at rank (0 = best) written into out, or null past the end. No allocation. */
  level_at(side: Side, rank: number, out: L2Level): L2Level | null {
    const ladder = this.ladder(side);
    if (rank < 0 || rank >= ladder.count) return null;
    out.price = ladder.price_at(rank);
    out.size = ladder.size_at(rank);
    out.orders = ladder.orders_at(rank);
    return out;
  }

  /** Best bid price in ticks, or undefined when there are no bids. */
  best_bid_price(): number | undefined {
    return this.bid_ladder.count === 0 ? undefined : this.bid_ladder.price_at(0);
  }

  best_ask_price(): number | undefined {
    return this.ask_ladder.count === 0 ? undefined : this.ask_ladder.price_at(0);
  }

  best_bid(): L2Level | undefined {
    return this.bid_ladder.count === 0 ? undefined : this.level_at(side_bid, 0, { price: 0, size: 0, orders: 0 })!;
  }

  best_ask(): L2Level | undefined {
    return this.ask_ladder.count === 0 ? undefined : this.level_at(side_ask, 0, { price: 0, size: 0, orders: 0 })!;
  }

  /** (best bid + best ask) / 2 in ticks (may end in .5); undefined if a side is empty. */
  mid(): number | undefined {
    const bid = this.best_bid_price();
    const ask = this.best_ask_price();
    return bid === undefined || ask === undefined ? undefined : (bid + ask) / 2;
  }

  /** best ask - best bid in ticks; undefined if a side is empty. */
  spread(): number | undefined {
    const bid = this.best_bid_price();
    const ask = this.best_ask_price();
    return bid === undefined || ask === undefined ? undefined : ask - bid;
  }

  /** A price in ticks as a decimal string in quote currency (ticks × tick_size). */
  format_price(ticks: number): string {
    return this.price_format.format(ticks);
  }

  /** A size in lots as a decimal string in base units (lots × lot_size). */
  format_size(lots: number): string {
    return this.size_format.format(lots);
  }

  // ---- applying (the SDK calls these; a verdict other than 'ok' means resync) ----

  /** Replaces the whole content with a snapshot, then verifies it. */
  load_snapshot(s: SnapshotLike): Verdict {
    this.bid_ladder.clear();
    this.ask_ladder.clear();
    this.version++;
    this.has_snapshot = false;
    this.epoch = s.epoch;
    this.seq = s.seq;
    this.digest = 0;
    if (s.tick_size !== this.instrument.tick_size || s.lot_size !== this.instrument.lot_size
      || s.price_decimals !== this.instrument.price_decimals || s.size_decimals !== this.instrument.size_decimals) {
      this.instrument = { tick_size: s.tick_size, lot_size: s.lot_size, price_decimals: s.price_decimals, size_decimals: s.size_decimals };
      this.price_format.reset(s.tick_size, s.price_decimals);
      this.size_format.reset(s.lot_size, s.size_decimals);
    }
    const problem = this.load_side(this.bid_ladder, s.bids) ?? this.load_side(this.ask_ladder, s.asks);
    if (problem !== undefined) return this.fail('invalid', `snapshot ${problem}`, true);
    if (this.is_crossed()) return this.fail('crossed', `snapshot crossed: bid ${this.best_bid_price()} >= ask ${this.best_ask_price()}`, true);
    if (this.digest !== s.digest >>> 0) {
      return this.fail('digest_mismatch', `snapshot seq ${s.seq}: digest ${hex(this.digest)} computed, ${hex(s.digest)} sent`, true);
    }
    this.has_snapshot = true;
    return 'ok';
  }

  /** Applies a Delta on top of the current content, then verifies it. */
  apply_delta(d: DeltaLike): Verdict {
    return this.apply_delta_from(this.arrays.over(d));
  }

  /** apply_delta for a Delta read in place (the SDK's hot path): the same checks, the same verdicts. */
  apply_delta_from(d: DeltaSource): Verdict {
    if (!this.has_snapshot) return this.fail('range_break', 'delta before snapshot', false);
    if (d.epoch !== this.epoch) return this.fail('epoch_change', `delta of epoch ${d.epoch} on a book of epoch ${this.epoch}`, false);
    if (!(d.seq_first <= d.seq)) return this.fail('invalid', `delta range ${d.seq_first}..${d.seq} is empty`, false);
    if (d.seq <= this.seq) return this.fail('duplicate', `delta ${d.seq_first}..${d.seq} already covered (at ${this.seq})`, false);
    if (d.seq_first !== this.seq + 1) {
      return this.fail('range_break', `delta ${d.seq_first}..${d.seq} after ${this.seq}: expected seq_first ${this.seq + 1}`, false);
    }
    this.version++;
    const problem = this.apply_side(this.bid_ladder, d) ?? this.apply_side(this.ask_ladder, d);
    this.seq = d.seq;
    if (problem !== undefined) return this.fail('invalid', `delta ..${d.seq}: ${problem}`, false);
    if (this.is_crossed()) return this.fail('crossed', `delta ..${d.seq}: crossed, bid ${this.best_bid_price()} >= ask ${this.best_ask_price()}`, false);
    if (this.digest !== d.digest >>> 0) {
      return this.fail('digest_mismatch', `delta ..${d.seq}: digest ${hex(this.digest)} computed, ${hex(d.digest)} sent`, false);
    }
    return 'ok';
  }

  /** Forgets the content (e.g. on unsubscribe); the next snapshot starts afresh. */
  clear(): void {
    this.bid_ladder.clear();
    this.ask_ladder.clear();
    this.version++;
    this.has_snapshot = false;
    this.digest = 0;
  }

  is_crossed(): boolean {
    return this.bid_ladder.count > 0 && this.ask_ladder.count > 0 && this.bid_ladder.price_at(0) >= this.ask_ladder.price_at(0);
  }

  /** Digest of the content from scratch (tests and paranoid callers). */
  digest_from_scratch(): number {
    let d = 0;
    for (const ladder of [this.bid_ladder, this.ask_ladder]) {
      for (let r = 0; r < ladder.count; r++) d = digest_add(d, level_hash(ladder.side, ladder.price_at(r), ladder.size_at(r), ladder.orders_at(r)));
    }
    return d;
  }

  protected ladder(side: Side): Ladder {
    return side === side_bid ? this.bid_ladder : this.ask_ladder;
  }

  private fail(verdict: Verdict, problem: string, drop_content: boolean): Verdict {
    this.last_problem = problem;
    if (verdict !== 'duplicate') this.has_snapshot = false;
    if (drop_content) {
      // A snapshot that failed its checks must not be shown as a book.
      this.bid_ladder.clear();
      this.ask_ladder.clear();
      this.digest = 0;
      this.version++;
    }
    return verdict;
  }

  /** Loads one side (best first, strictly sorted, sizes > 0); returns a problem or undefined. */
  private load_side(ladder: Ladder, levels: readonly L2Level[]): string | undefined {
    const n = levels.length;
    const name = ladder.side === side_bid ? 'bids' : 'asks';
    if (this.depth > 0 && n > this.depth) return `${name}: ${n} levels in a depth-${this.depth} view`;
    ladder.reserve(n);
    let d = this.digest;
    for (let r = 0; r < n; r++) {
      const l = levels[r];
      if (!valid_level(l) || l.size === 0) return `${name} level ${r}: price, size, orders must be integers with size > 0`;
      const key = l.price * ladder.sign;
      // Stored worst first: rank r at index n-1-r; keys must ascend with the index.
      if (r > 0 && key >= ladder.keys[n - r]) return `${name} not strictly sorted best first at level ${r} (price ${l.price})`;
      const i = n - 1 - r;
      ladder.keys[i] = key;
      ladder.sizes[i] = l.size;
      ladder.orders[i] = l.orders;
      d = digest_add(d, level_hash(ladder.side, l.price, l.size, l.orders));
    }
    ladder.count = n;
    this.digest = d;
    return undefined;
  }

  private apply_side(ladder: Ladder, src: DeltaSource): string | undefined {
    let d = this.digest;
    const side = ladder.side;
    const n = src.level_count(side);
    for (let k = 0; k < n; k++) {
      const price = src.level_price(side, k);
      const size = src.level_size(side, k);
      const orders = src.level_orders(side, k);
      if (!valid_numbers(price, size, orders)) return `${side === side_bid ? 'bid' : 'ask'} change ${k}: price, size, orders must be non-negative integers`;
      const i = ladder.index_of(price);
      if (i >= 0) d = digest_sub(d, level_hash(side, price, ladder.sizes[i], ladder.orders[i]));
      else if (size === 0) this.unknown_level_removals++;
      if (size > 0) d = digest_add(d, level_hash(side, price, size, orders));
      // What ladder.set does, without searching for the level a second time.
      if (i < 0) ladder.set(price, size, orders);
      else if (size === 0) ladder.remove_at(i);
      else {
        ladder.sizes[i] = size;
        ladder.orders[i] = orders;
      }
    }
    this.digest = d;
    if (this.depth > 0 && ladder.count > this.depth) return `${ladder.count} ${side === side_bid ? 'bid' : 'ask'} levels in a depth-${this.depth} view`;
    return undefined;
  }
}

function valid_level(l: L2Level): boolean {
  return valid_numbers(l.price, l.size, l.orders);
}

function valid_numbers(price: number, size: number, orders: number): boolean {
  return Number.isSafeInteger(price) && Number.isSafeInteger(size) && size >= 0 && Number.isSafeInteger(orders) && orders >= 0;
}

/** A DeltaLike seen as a DeltaSource; one per book, pointed at each Delta (no allocation per frame). */
class ArrayDelta implements DeltaSource {
  private d: DeltaLike = { epoch: 0, seq_first: 0, seq: 0, digest: 0, bids: [], asks: [] };
  get epoch(): number { return this.d.epoch; }
  get seq_first(): number { return this.d.seq_first; }
  get seq(): number { return this.d.seq; }
  get digest(): number { return this.d.digest; }

  over(d: DeltaLike): this {
    this.d = d;
    return this;
  }

  level_count(side: Side): number { return this.levels(side).length; }
  level_price(side: Side, i: number): number { return this.levels(side)[i].price; }
  level_size(side: Side, i: number): number { return this.levels(side)[i].size; }
  level_orders(side: Side, i: number): number { return this.levels(side)[i].orders; }

  private levels(side: Side): readonly L2Level[] {
    return side === side_bid ? this.d.bids : this.d.asks;
  }
}

function levels_of(ladder: Ladder): L2Level[] {
  const out: L2Level[] = new Array(ladder.count);
  for (let r = 0; r < ladder.count; r++) out[r] = { price: ladder.price_at(r), size: ladder.size_at(r), orders: ladder.orders_at(r) };
  return out;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
