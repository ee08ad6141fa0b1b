// Shared value types of the order-book domain. Pure: no I/O, no clock.
// Prices are integer ticks, sizes integer lots. They travel as int64 on the
// wire and are held as JS numbers here: exact up to 2^53, far beyond any
// price or size the engine produces (checked at the wire boundary).

export type Side = 0 | 1;
export const side_bid: Side = 0;
export const side_ask: Side = 1;

export type EventKind = 0 | 1 | 2;
export const event_add: EventKind = 0;
export const event_reduce: EventKind = 1;
export const event_execute: EventKind = 2;

/** BookEvent.flags bit: last book event caused by one incoming order. */
export const flag_end_of_engine_event = 1;

/** One change to one resting order, as the engine publishes it. */
export interface BookEvent {
  seq: number;
  ts_engine_ns: number;
  order_id: number;
  taker_order_id: number;
  trade_id: number;
  price: number;
  qty: number;
  remaining: number;
  kind: EventKind;
  side: Side;
  aggressor: Side;
  flags: number;
}

export function new_book_event(): BookEvent {
  return { seq: 0, ts_engine_ns: 0, order_id: 0, taker_order_id: 0, trade_id: 0, price: 0, qty: 0, remaining: 0, kind: 0, side: side_bid, aggressor: side_bid, flags: 0 };
}

export interface Instrument {
  symbol: string;
  tick_size: string;       // decimal string, one tick in quote currency
  lot_size: string;        // decimal string, one lot in base units
  price_decimals: number;
  size_decimals: number;
}

export interface L2Level {
  price: number;
  size: number;
  orders: number;
}

/** A full L2 book at exactly (epoch, seq). Bids best (highest) first, asks best (lowest) first. */
export interface L2Snapshot {
  instrument: Instrument;
  epoch: number;
  seq: number;
  last_trade_id: number;
  ts_engine_ns: number;
  bids: L2Level[];
  asks: L2Level[];
}
