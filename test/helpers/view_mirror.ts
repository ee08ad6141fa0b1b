// The tests' one independent protocol checker. It knows only docs/PROTOCOL.md:
// the digest is recomputed with its own BigInt implementation of the
// documented algorithm (not src/book/digest.ts). Fed decoded frames (by our
// codec, or by ProtocolClient from the flatc-generated classes), it mirrors
// the views of one connection and keeps the evidence tests need: every frame's range, kind, conflated flag
// and arrival time, and the trades each view accounted for (listed one by one,
// or folded into an aggregate, in Deltas and in catch-up Snapshots). It
// checks, per view: contiguous ranges in an epoch, the digest after every
// frame (recomputed with the BigInt implementation written from
// docs/PROTOCOL.md), never crossed, and trade ids contiguous from the first
// trade seen (an aggregate must cover exactly the ids it claims).
import { decode_server_frame } from '../../src/wire/feed_decoder.js';
import type { ServerMsg, TradeAggregateRec, TradeIdRange, TradeRec } from '../../src/wire/feed_types.js';
import { side_bid, type L2Level, type Side } from '../../src/book/types.js';
import { view_key } from '../../src/util/symbol.js';

const mask32 = 0xffffffffn;

/** docs/PROTOCOL.md "Digest", written from the text with BigInt. */
export function protocol_level_hash(side: number, price: bigint, size: bigint, orders: number): number {
  const words = [BigInt(side), price & mask32, (price >> 32n) & mask32, size & mask32, (size >> 32n) & mask32, BigInt(orders)];
  let h = 0x811c9dc5n;
  for (const w of words) h = ((h ^ w) * 0x01000193n) & mask32;
  h ^= h >> 16n;
  h = (h * 0x85ebca6bn) & mask32;
  h ^= h >> 13n;
  h = (h * 0xc2b2ae35n) & mask32;
  h ^= h >> 16n;
  return Number(h);
}

export interface FrameRecord {
  kind: 'snapshot' | 'delta';
  seq_first: number;
  seq: number;
  conflated: boolean;
  updates_merged: number;
  trades_listed: number;
  trades_folded: number;
  /** The trade ids the frame named missing (§5.5), or null. */
  missing: TradeIdRange | null;
  at_ms: number;
  /** The view's epoch and its digest recomputed after this frame (compare books of two runs at one (epoch, seq)). */
  epoch: number;
  digest: number;
}

export class MirrorView {
  epoch = 0;
  seq = 0;
  digest = 0;
  readonly bids = new Map<number, { size: number; orders: number }>();
  readonly asks = new Map<number, { size: number; orders: number }>();
  readonly frames: FrameRecord[] = [];
  /** First and last trade id accounted for (0 = none yet). */
  first_trade_id = 0;
  last_trade_id = 0;
  trades_listed = 0;
  trades_folded = 0;
  /** Trades a Delta said never reached the feed (a rebuild that continued the view, PROTOCOL.md §5.5). */
  trades_missing = 0;
  /** Every trade listed one by one, in order, and every aggregate received. */
  readonly trades: TradeRec[] = [];
  readonly aggregates: TradeAggregateRec[] = [];
  /** The next trade may skip ids (set by a snapshot that restarts the view, when the mirror allows that). */
  trade_gap_allowed = false;

  constructor(readonly key: string, readonly depth: number) {}

  get snapshots(): number {
    return this.count((f) => f.kind === 'snapshot');
  }

  get deltas(): number {
    return this.count((f) => f.kind === 'delta');
  }

  get conflated(): number {
    return this.count((f) => f.conflated);
  }

  count(what: (f: FrameRecord) => boolean): number {
    let n = 0;
    for (const f of this.frames) if (what(f)) n++;
    return n;
  }

  /** Sides best first, as [price, size, orders]. */
  sorted(): { bids: [number, number, number][]; asks: [number, number, number][] } {
    const list = (m: Map<number, { size: number; orders: number }>) => [...m].map(([p, l]) => [p, l.size, l.orders] as [number, number, number]);
    return { bids: list(this.bids).sort((a, b) => b[0] - a[0]), asks: list(this.asks).sort((a, b) => a[0] - b[0]) };
  }
}

export class ViewMirror {
  readonly views = new Map<string, MirrorView>();
  readonly violations: string[] = [];
  readonly other: ServerMsg[] = [];
  frames = 0;

  /**
   * `trade_gaps_at_snapshots`: a Snapshot that carries no trades (a recovery's
   * or a resync's, not a conflating client's catch-up) may be followed by a
   * trade id past the next one: trades the feed never saw cannot be delivered.
   * Ids must still increase. Off: trade ids are contiguous for the whole run.
   */
  constructor(private readonly clock_ms: () => number = () => performance.now(), private readonly trade_gaps_at_snapshots = false) {}

  view(symbol: string, depth: number, group = 1): MirrorView | undefined {
    return this.views.get(view_key(symbol, depth, group));
  }

  on_bytes(bytes: Uint8Array): void {
    this.on_msg(decode_server_frame(bytes));
  }

  on_msg(msg: ServerMsg): void {
    this.frames++;
    const at_ms = this.clock_ms();
    if (msg.type !== 'snapshot' && msg.type !== 'delta') {
      this.other.push(msg);
      return;
    }
    const key = view_key(msg.symbol, msg.depth, msg.group ?? 1);
    let v = this.views.get(key);
    if (msg.type === 'snapshot') {
      if (v === undefined) this.views.set(key, (v = new MirrorView(key, msg.depth)));
      v.bids.clear();
      v.asks.clear();
      v.digest = 0;
      for (const l of msg.bids) this.set(v, 0, l);
      for (const l of msg.asks) this.set(v, 1, l);
      // Trade ids count from 1 per epoch (schemas/engine_events.fbs): a new epoch starts them again.
      if (msg.epoch !== v.epoch) v.last_trade_id = 0;
      v.epoch = msg.epoch;
      v.seq = msg.seq;
      if (this.trade_gaps_at_snapshots && (msg.trades?.length ?? 0) === 0 && (msg.trade_aggregate ?? null) === null) v.trade_gap_allowed = true;
      this.account(v, msg.trades ?? [], msg.trade_aggregate ?? null, msg.missing_trades);
      v.frames.push({ kind: 'snapshot', seq_first: msg.seq, seq: msg.seq, conflated: false, updates_merged: 0,
        trades_listed: msg.trades?.length ?? 0, trades_folded: msg.trade_aggregate?.count ?? 0, missing: msg.missing_trades ?? null, at_ms,
        epoch: v.epoch, digest: v.digest });
    } else {
      if (v === undefined) {
        this.violations.push(`${key}: delta before any snapshot`);
        return;
      }
      if (msg.epoch !== v.epoch) this.violations.push(`${key}: delta of epoch ${msg.epoch} on a view of epoch ${v.epoch}`);
      if (msg.seq_first !== v.seq + 1) this.violations.push(`${key}: range break: seq_first ${msg.seq_first} after seq ${v.seq}`);
      if (msg.seq < msg.seq_first) this.violations.push(`${key}: empty range ${msg.seq_first}..${msg.seq}`);
      for (const l of msg.bids) this.set(v, 0, l);
      for (const l of msg.asks) this.set(v, 1, l);
      v.seq = msg.seq;
      this.account(v, msg.trades, msg.trade_aggregate, msg.missing_trades);
      v.frames.push({ kind: 'delta', seq_first: msg.seq_first, seq: msg.seq, conflated: msg.conflated, updates_merged: msg.updates_merged,
        trades_listed: msg.trades.length, trades_folded: msg.trade_aggregate?.count ?? 0, missing: msg.missing_trades ?? null, at_ms,
        epoch: v.epoch, digest: v.digest });
    }
    if (v.digest !== msg.digest) this.violations.push(`${key}: digest ${v.digest} != frame's ${msg.digest} at seq ${v.seq}`);
    this.check_shape(v);
  }

  private set(v: MirrorView, side: Side, l: L2Level): void {
    const map = side === side_bid ? v.bids : v.asks;
    const old = map.get(l.price);
    if (old !== undefined) v.digest = (v.digest - hash(side, l.price, old.size, old.orders)) >>> 0;
    if (l.size === 0) {
      map.delete(l.price);
      return;
    }
    map.set(l.price, { size: l.size, orders: l.orders });
    v.digest = (v.digest + hash(side, l.price, l.size, l.orders)) >>> 0;
  }

  /**
   * Trade ids must continue; `missing` (a Delta after a rebuild in the epoch) is a range of ids the frame
   * says are in no frame: between its folded and listed trades, or inside its aggregate, or after all of them.
   */
  private account(v: MirrorView, trades: readonly TradeRec[], aggregate: TradeAggregateRec | null, missing?: TradeIdRange): void {
    let pending = missing;
    const skip_missing = (first: number): void => {
      // No trade seen yet on this view (its Snapshot names none): the missing ids may be the first it hears of.
      const follows = v.last_trade_id === 0 || v.last_trade_id + 1 === pending?.first_trade_id;
      if (pending !== undefined && follows && first === pending.last_trade_id + 1) {
        if (v.first_trade_id === 0) v.first_trade_id = pending.first_trade_id;
        v.last_trade_id = pending.last_trade_id;
        v.trades_missing += pending.last_trade_id - pending.first_trade_id + 1;
        pending = undefined;
      }
    };
    // A folded range is always the oldest part of a frame's trades.
    if (aggregate !== null) {
      skip_missing(aggregate.first_trade_id);
      const inside = pending !== undefined && pending.first_trade_id > aggregate.first_trade_id && pending.last_trade_id < aggregate.last_trade_id
        ? pending.last_trade_id - pending.first_trade_id + 1 : 0;
      if (inside > 0) {
        v.trades_missing += inside;
        pending = undefined;
      }
      if (aggregate.last_trade_id - aggregate.first_trade_id + 1 - inside !== aggregate.count) {
        this.violations.push(`${v.key}: aggregate of ${aggregate.count} trades claims ids ${aggregate.first_trade_id}..${aggregate.last_trade_id}`);
      }
      this.next_trade(v, aggregate.first_trade_id, aggregate.last_trade_id);
      v.trades_folded += aggregate.count;
      v.aggregates.push(aggregate);
    }
    for (const t of trades) {
      skip_missing(t.trade_id);
      this.next_trade(v, t.trade_id, t.trade_id);
      v.trades_listed++;
      v.trades.push(t);
    }
    if (pending !== undefined) {
      // Nothing after the missing ids in this frame: they follow the last trade accounted for.
      this.next_trade(v, pending.first_trade_id, pending.last_trade_id);
      v.trades_missing += pending.last_trade_id - pending.first_trade_id + 1;
    }
  }

  private next_trade(v: MirrorView, first: number, last: number): void {
    if (v.trade_gap_allowed) {
      if (first <= v.last_trade_id) this.violations.push(`${v.key}: trade id ${first} not increasing after ${v.last_trade_id}`);
      v.trade_gap_allowed = false;
    } else if (v.last_trade_id !== 0 && first !== v.last_trade_id + 1) {
      this.violations.push(`${v.key}: trade ids jump from ${v.last_trade_id} to ${first}`);
    }
    if (v.first_trade_id === 0) v.first_trade_id = first;
    v.last_trade_id = last;
  }

  private check_shape(v: MirrorView): void {
    if (v.depth > 0 && (v.bids.size > v.depth || v.asks.size > v.depth)) this.violations.push(`${v.key}: more than ${v.depth} levels shown`);
    let best_bid = -Infinity;
    for (const p of v.bids.keys()) if (p > best_bid) best_bid = p;
    let best_ask = Infinity;
    for (const p of v.asks.keys()) if (p < best_ask) best_ask = p;
    if (best_bid >= best_ask) this.violations.push(`${v.key}: crossed at seq ${v.seq}: ${best_bid} >= ${best_ask}`);
  }
}

function hash(side: Side, price: number, size: number, orders: number): number {
  return protocol_level_hash(side, BigInt(price), BigInt(size), orders);
}

/** The trades of a range folded as the protocol's TradeAggregate defines them (docs/PROTOCOL.md §5.5). */
export function expected_aggregate(trades: readonly TradeRec[]): TradeAggregateRec {
  let volume = 0;
  let notional = 0;
  let buy_volume = 0;
  let high = -Infinity;
  let low = Infinity;
  for (const t of trades) {
    volume += t.size;
    notional += t.price * t.size;
    if (t.aggressor === side_bid) buy_volume += t.size;
    high = Math.max(high, t.price);
    low = Math.min(low, t.price);
  }
  return {
    count: trades.length, first_trade_id: trades[0].trade_id, last_trade_id: trades[trades.length - 1].trade_id,
    volume, vwap: notional / volume, high, low, last: trades[trades.length - 1].price, buy_volume,
  };
}
