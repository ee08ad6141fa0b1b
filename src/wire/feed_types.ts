// Plain message types of the client protocol (schemas/feed.fbs), as the SDK,
// the UI and the feed see them after decoding / before encoding. No
// flatbuffers import: browsers and tests use these without the codec.
//
// Numbers: every int64/uint64 field is a JS number. Prices, sizes, seqs,
// epochs, trade ids, volumes and nonces are exact integers below 2^53 (the
// decoder rejects larger ones). Nanosecond timestamps (ts_*_ns, *_time_ns) are
// doubles: ~1.7e18 ns since the Unix epoch is above 2^53, so they carry about
// 256 ns granularity, far below what they measure (hops of µs to ms).

// Levels are the book's L2Level {price (ticks), size (lots), orders}: in a
// Snapshot a shown level, in a Delta its new value (size 0 = removed). Sides
// are the book's Side (side_bid 0 = bid/buy, side_ask 1 = ask/sell; feed.fbs Side).
import type { L2Level, Side } from '../book/types.js';

export interface TradeRec {
  trade_id: number;
  price: number;
  size: number;
  ts_engine_ns: number;
  aggressor: Side; // side of the incoming order: side_bid = a buyer lifted the ask, side_ask = a seller hit the bid
}

/** Trades folded into one record while a client was conflating; never silently lost. */
export interface TradeAggregateRec {
  count: number;
  first_trade_id: number;
  last_trade_id: number;
  volume: number;     // lots
  vwap: number;       // ticks (double)
  high: number;
  low: number;
  last: number;
  buy_volume: number; // lots where the aggressor bought
}

export interface SnapshotMsg {
  type: 'snapshot';
  symbol: string;
  depth: number;
  epoch: number;
  seq: number;
  digest: number; // uint32, of the view after this frame (docs/PROTOCOL.md "Digest")
  tick_size: string;
  lot_size: string;
  price_decimals: number;
  size_decimals: number;
  bids: L2Level[]; // best first
  asks: L2Level[]; // best first
  ts_engine_ns: number;
  ts_ingest_ns: number;
  ts_send_ns: number;
  /** Catch-up snapshot to a conflating client only: trades since its previous frame of this view. Decoded: always set ([] when none). */
  trades?: TradeRec[];
  /** Catch-up snapshot only: trades folded into one record. Decoded: always set (null when none). */
  trade_aggregate?: TradeAggregateRec | null;
  /** Price bucket in ticks (docs/PROTOCOL.md §3); absent = 1, ungrouped (decoders set it only when > 1). */
  group?: number;
  /** Only in a catch-up Snapshot within the epoch: trades since the client's previous frame that never reached the feed (§5.5); absent = none. */
  missing_trades?: TradeIdRange;
}

export interface DeltaMsg {
  type: 'delta';
  symbol: string;
  depth: number;
  epoch: number;
  seq_first: number;
  seq: number;
  digest: number;
  bids: L2Level[]; // changed levels, any order, each price at most once
  asks: L2Level[];
  trades: TradeRec[];
  trade_aggregate: TradeAggregateRec | null;
  updates_merged: number;
  conflated: boolean;
  ts_engine_ns: number;
  ts_ingest_ns: number;
  ts_send_ns: number;
  /** Price bucket in ticks (docs/PROTOCOL.md §3); absent = 1, ungrouped (decoders set it only when > 1). */
  group?: number;
  /** Trades that never reached the feed (a rebuild within the epoch, docs/PROTOCOL.md §5.5); absent = none. */
  missing_trades?: TradeIdRange;
}

/** Trade ids first..last, inclusive. */
export interface TradeIdRange {
  first_trade_id: number;
  last_trade_id: number;
}

export interface HeartbeatMsg {
  type: 'heartbeat';
  server_time_ns: number;
}

export type SymbolStateName = 'unknown' | 'recovering' | 'live';
export const symbol_state_names: readonly SymbolStateName[] = ['unknown', 'recovering', 'live']; // index = wire value

export interface SymbolStatusRec {
  symbol: string;
  state: SymbolStateName;
  epoch: number;
  seq: number;
  /** Nothing live from the engine for the feed's silence limit (absent = false: older feeds never send it). */
  engine_silent?: boolean;
  /** What became of this symbol's resume point in the Subscribe this Status answers (absent = 'none'). */
  resume?: ResumeName;
  /** The depth of the view `resume` is about. */
  resume_depth?: number;
  /** The group of that view; absent = 1 (decoders set it only when > 1). */
  resume_group?: number;
}

export interface StatusMsg {
  type: 'status';
  symbols: SymbolStatusRec[];
}

export interface ErrorMsg {
  type: 'error';
  code: number;   // src/wire/codes.ts error_code
  message: string;
  symbol: string; // '' when the error is not about one symbol
}

export interface PongMsg {
  type: 'pong';
  nonce: number;
  client_time_ns: number;
  server_time_ns: number;
}

/** A view's position a client holds, offered on Subscribe to resume it (docs/PROTOCOL.md §5.8). */
export interface ResumePoint {
  epoch: number;
  seq: number;
}

export interface SubscribeMsg {
  type: 'subscribe';
  symbols: string[];
  depth: number;
  interval_ms: number;
  /** Absent or as long as `symbols`; null = nothing held for that symbol. */
  resume?: (ResumePoint | null)[];
  /** Price bucket in ticks (docs/PROTOCOL.md §3); absent = 1, ungrouped (decoders set it only when > 1). */
  group?: number;
}

/** feed.fbs Resume, by index. */
export const resume_names = ['none', 'resumed', 'new_epoch', 'too_old', 'ahead', 'not_live'] as const;
export type ResumeName = (typeof resume_names)[number];

export interface UnsubscribeMsg {
  type: 'unsubscribe';
  symbols: string[];
  depth: number;
  /** Price bucket in ticks (docs/PROTOCOL.md §3); absent = 1, ungrouped (decoders set it only when > 1). */
  group?: number;
}

export interface ResyncMsg {
  type: 'resync';
  symbol: string;
  depth: number;
  /** Price bucket in ticks (docs/PROTOCOL.md §3); absent = 1, ungrouped (decoders set it only when > 1). */
  group?: number;
}

export interface PingMsg {
  type: 'ping';
  nonce: number;
  client_time_ns: number;
}

/** Flow-control acknowledgement: payload bytes of binary frames received and processed on this connection. */
export interface AckMsg {
  type: 'ack';
  bytes_processed: number;
}

/** A new access token for this connection (docs/PROTOCOL.md §5.9). */
export interface RefreshMsg {
  type: 'refresh';
  token: string;
}

/** The Refresh was accepted: the connection's token now expires at this time. */
export interface RefreshedMsg {
  type: 'refreshed';
  expires_at_ms: number;
}

export type ServerMsg = SnapshotMsg | DeltaMsg | HeartbeatMsg | StatusMsg | ErrorMsg | PongMsg | RefreshedMsg;
export type ClientMsg = SubscribeMsg | UnsubscribeMsg | ResyncMsg | PingMsg | AckMsg | RefreshMsg;

/** Longest access token (a JWT), in bytes, in a Refresh or at connect (src/server/token_verifier.ts). */
export const token_bytes_max = 8192;

/** Longest symbol, in UTF-8 bytes, in any frame. */
export const symbol_bytes_max = 32;
/** Most symbols in one Subscribe or Unsubscribe. */
export const symbols_per_message_max = 256;
/** Longest tick_size / lot_size decimal string, in bytes. */
export const decimal_string_bytes_max = 32;
/** Longest Error.message, in bytes. */
export const error_message_bytes_max = 1024;
