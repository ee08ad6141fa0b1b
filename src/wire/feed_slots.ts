// Field slots of schemas/feed.fbs: the one place the hand-written encoder
// (feed_encoder.ts), the verifying decoder (feed_decoder.ts) and the SDK's
// flyweight reader (delta_reader.ts) learn where each field of a table lives.
//
// Invariant: a slot is the field's declaration order in feed.fbs (flatc numbers
// them the same way). A schema change that is not mirrored here fails the
// codec tests, which cross-check every table with the flatc-generated readers
// and builders in both directions (schemas/README.md, rule 7).
//
// Cost: none at run time; constant objects read by property.

export const frame_slot = { body_type: 0, body: 1 } as const;
export const snapshot_slot = {
  symbol: 0, depth: 1, epoch: 2, seq: 3, digest: 4, tick_size: 5, lot_size: 6, price_decimals: 7, size_decimals: 8,
  bids: 9, asks: 10, ts_engine_ns: 11, ts_ingest_ns: 12, ts_send_ns: 13, trades: 14, trade_aggregate: 15, group: 16,
  missing_first_trade_id: 17, missing_last_trade_id: 18,
} as const;
export const delta_slot = {
  symbol: 0, depth: 1, epoch: 2, seq_first: 3, seq: 4, digest: 5, bids: 6, asks: 7, trades: 8, trade_aggregate: 9,
  updates_merged: 10, conflated: 11, ts_engine_ns: 12, ts_ingest_ns: 13, ts_send_ns: 14, group: 15,
  missing_first_trade_id: 16, missing_last_trade_id: 17,
} as const;
export const aggregate_slot = { count: 0, first_trade_id: 1, last_trade_id: 2, volume: 3, vwap: 4, high: 5, low: 6, last: 7, buy_volume: 8 } as const;
export const subscribe_slot = { symbols: 0, depth: 1, interval_ms: 2, resume_epochs: 3, resume_seqs: 4, group: 5 } as const;
export const unsubscribe_slot = { symbols: 0, depth: 1, group: 2 } as const;
export const resync_slot = { symbol: 0, depth: 1, group: 2 } as const;
export const ping_slot = { nonce: 0, client_time_ns: 1 } as const;
export const ack_slot = { bytes_processed: 0 } as const;
export const refresh_slot = { token: 0 } as const;
export const refreshed_slot = { expires_at_ms: 0 } as const;
export const heartbeat_slot = { server_time_ns: 0 } as const;
export const symbol_status_slot = { symbol: 0, state: 1, epoch: 2, seq: 3, engine_silent: 4, resume: 5, resume_depth: 6, resume_group: 7 } as const;
export const status_slot = { symbols: 0 } as const;
export const error_slot = { code: 0, message: 1, symbol: 2 } as const;
export const pong_slot = { nonce: 0, client_time_ns: 1, server_time_ns: 2 } as const;

export const trade_bytes = 40; // struct Trade { trade_id, price, size, ts_engine_ns: 8 each; aggressor: ubyte; pad 7 }
/** Symbols kept encoded (FrameEncoder) or interned (DeltaReader) at most; past it the cache starts over. */
export const symbol_cache_entries_max = 4096;
