// A flyweight over one server frame's bytes, for the client's hot path: a
// Delta is checked exactly as decode_server_frame checks it (same
// FlatbufferReader, same checks, so the same frames are refused), but nothing
// is built: levels and trades are read in place through accessors, the symbol
// string is interned, the reader itself is reused. What the SDK applies a
// Delta from (src/client/book.ts's DeltaSource).
//
//   const r = new DeltaReader();
//   if (r.read(bytes) === body_delta) { r.symbol, r.seq, r.level_count(side_bid), r.level_price(side_bid, 0), … }
//   else decode_server_frame(bytes)   every other body (rare) goes through the verifying decoder
//
// Cost per Delta: the frame, vtable and fields checked once, every level's
// price and size checked once and read again when applied; the frame copied
// into the reader's own buffer (FlatbufferReader.reset_copy: a copy of ~300
// bytes is cheaper than a DataView per frame). No object per level or trade,
// no string: a symbol seen before is found by hashing its bytes. A trade
// aggregate (conflated frames only) is decoded into a new object.
// Valid until the next read(); not reentrant (one reader per client).
import { side_bid, type Side } from '../book/types.js';
import { decode_aggregate, open_frame_in, trade_into, trade_vector } from './feed_decoder.js';
import { delta_slot, symbol_cache_entries_max, trade_bytes } from './feed_slots.js';
import { symbol_bytes_max, type TradeAggregateRec, type TradeRec } from './feed_types.js';
import { FlatbufferReader, TableRef } from './flatbuffer_reader.js';
import { level_bytes } from './flatbuffer_write.js';
import { Body } from './generated/depthcast/feed/body.js';

/** Frames up to this size are copied into the reader's own buffer (no allocation); larger ones (big snapshots) are read in place. */
const copy_bytes_max = 64 * 1024;

/** read()'s answer for a Delta; any other body: decode it with decode_server_frame. */
export const body_delta: number = Body.Delta;

export class DeltaReader {
  // The fields of the last Delta read (meaningless after another body).
  symbol = '';
  depth = 0;
  /** Price bucket in ticks; 1 = ungrouped (the field absent). */
  group = 1;
  epoch = 0;
  seq_first = 0;
  seq = 0;
  digest = 0;
  updates_merged = 0;
  conflated = false;
  ts_engine_ns = 0;
  ts_ingest_ns = 0;
  ts_send_ns = 0;
  trade_count = 0;
  trade_aggregate: TradeAggregateRec | null = null;
  /** Trade ids the feed never had (a rebuild within the epoch, docs/PROTOCOL.md §5.5); 0 = none. */
  missing_first_trade_id = 0;
  missing_last_trade_id = 0;

  private readonly r = new FlatbufferReader();
  private readonly frame_t = new TableRef();
  private readonly body_t = new TableRef();
  private readonly inner_t = new TableRef();
  private bids_pos = 0;
  private asks_pos = 0;
  private bid_count = 0;
  private ask_count = 0;
  private trades_pos = 0;
  private readonly symbols = new Map<number, string>();
  /** The symbol of the last Delta: a client's frames mostly name one symbol in a row, so it is compared first. */
  private last_symbol = '';

  /** Checks the frame and returns its body type; a Delta is checked whole and readable here. Throws WireError. */
  read(bytes: Uint8Array): number {
    const r = this.r;
    r.reset_copy(bytes, copy_bytes_max);
    const type = open_frame_in(r, this.frame_t, this.body_t);
    if (type !== Body.Delta) return type;
    // The order of decode_delta (feed_decoder.ts), so a frame fails here iff it fails there.
    const t = this.body_t;
    this.symbol = this.read_symbol(t);
    this.depth = r.u16(t, delta_slot.depth);
    const group = r.u32(t, delta_slot.group);
    this.group = group > 1 ? group : 1;
    this.epoch = r.u64_exact(t, delta_slot.epoch, 'epoch');
    this.seq_first = r.u64_exact(t, delta_slot.seq_first, 'seq_first');
    this.seq = r.u64_exact(t, delta_slot.seq, 'seq');
    this.digest = r.u32(t, delta_slot.digest);
    this.bids_pos = r.level_vector(t, delta_slot.bids, false, 'bids');
    this.asks_pos = r.level_vector(t, delta_slot.asks, false, 'asks');
    this.bid_count = this.bids_pos === 0 ? 0 : r.view.getUint32(this.bids_pos, true);
    this.ask_count = this.asks_pos === 0 ? 0 : r.view.getUint32(this.asks_pos, true);
    this.trades_pos = trade_vector(r, t, delta_slot.trades);
    this.trade_count = this.trades_pos === 0 ? 0 : r.view.getUint32(this.trades_pos, true);
    this.trade_aggregate = decode_aggregate(r, t, delta_slot.trade_aggregate, this.inner_t);
    this.updates_merged = r.u32(t, delta_slot.updates_merged);
    this.conflated = r.u8(t, delta_slot.conflated) !== 0;
    this.ts_engine_ns = r.u64_time(t, delta_slot.ts_engine_ns);
    this.ts_ingest_ns = r.u64_time(t, delta_slot.ts_ingest_ns);
    this.ts_send_ns = r.u64_time(t, delta_slot.ts_send_ns);
    const missing_first = r.u64_exact(t, delta_slot.missing_first_trade_id, 'missing_first_trade_id');
    const missing_last = missing_first === 0 ? 0 : r.u64_exact(t, delta_slot.missing_last_trade_id, 'missing_last_trade_id');
    if (missing_last < missing_first) r.fail(`missing trades ${missing_first}..${missing_last}: last before first`);
    this.missing_first_trade_id = missing_first;
    this.missing_last_trade_id = missing_last;
    return type;
  }

  // Levels of the last Delta, in the order sent (i < level_count(side)).

  level_count(side: Side): number {
    return side === side_bid ? this.bid_count : this.ask_count;
  }

  level_price(side: Side, i: number): number {
    return this.r.level_price(this.level_pos(side, i));
  }

  level_size(side: Side, i: number): number {
    return this.r.level_size(this.level_pos(side, i));
  }

  level_orders(side: Side, i: number): number {
    return this.r.level_orders(this.level_pos(side, i));
  }

  /** Trade i (< trade_count) of the last Delta, written into out. */
  trade_into(i: number, out: TradeRec): TradeRec {
    return trade_into(this.r, this.trades_pos + 4 + trade_bytes * i, out);
  }

  private level_pos(side: Side, i: number): number {
    return (side === side_bid ? this.bids_pos : this.asks_pos) + 4 + level_bytes * i;
  }

  /** The symbol, checked like required_string; an ASCII one seen before costs a hash of its bytes, no string. */
  private read_symbol(t: TableRef): string {
    const r = this.r;
    const pos = r.target(t, delta_slot.symbol, 'symbol');
    if (pos === 0) r.fail('symbol is required');
    const n = r.string_length(pos, symbol_bytes_max, 'symbol');
    if (same_ascii(this.last_symbol, r.bytes, pos + 4, n)) return this.last_symbol;
    const hash = fnv1a_bytes_ascii(r.bytes, pos + 4, n);
    if (hash < 0) return r.string(pos, symbol_bytes_max, 'symbol'); // not ASCII: checked as UTF-8, not interned
    const known = this.symbols.get(hash);
    if (known !== undefined && same_ascii(known, r.bytes, pos + 4, n)) return (this.last_symbol = known);
    const s = r.string(pos, symbol_bytes_max, 'symbol');
    if (this.symbols.size >= symbol_cache_entries_max) this.symbols.clear();
    this.symbols.set(hash, s);
    return (this.last_symbol = s);
  }
}

function same_ascii(s: string, bytes: Uint8Array, start: number, n: number): boolean {
  if (s.length !== n) return false;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}

/**
 * FNV-1a of bytes[start, start + n), cut to 30 bits so that it is a small
 * integer (a Map keyed by larger numbers boxes them: garbage per frame),
 * if they are all ASCII; else -1. Collisions are caught by comparing bytes.
 */
function fnv1a_bytes_ascii(bytes: Uint8Array, start: number, n: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < start + n; i++) {
    const c = bytes[i];
    if (c >= 0x80) return -1;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h & 0x3fffffff;
}
