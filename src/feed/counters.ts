// The feed's counts: what it sent, received, closed, conflated and recovered.
// The feed owns them; src/metrics/registry.ts reads them at scrape time and
// /stats copies them, so the transport-free feed never imports Prometheus.
// The outbound counts (frames by kind, bytes, conflated and catch-up counts)
// are written only by Outbound (outbound.ts), their one owner.
//
// Cost: plain number fields, so the hot path is `counters.x += n` (no call,
// no allocation). Labelled counts are Maps, touched only on rare events
// (errors, closes, recoveries): count_by is a Map lookup and a set.

export interface FeedCounters {
  connections: number;
  connections_opened_total: number;
  closes_total: Map<number, number>;              // by close code
  snapshots_out_total: number;
  deltas_out_total: number;
  heartbeats_out_total: number;
  other_frames_out_total: number;                 // status, error, pong
  bytes_out_total: number;
  frames_in_total: number;
  bytes_in_total: number;
  sends_dropped_total: number;
  errors_total: Map<number, number>;              // by error code
  client_resyncs_total: number;
  subscriptions: number;
  conflating_connections: number;
  conflated_frames_total: number;
  conflation_episodes_total: number;
  conflation_episodes_by_cause_total: Map<string, number>; // 'lag' (the reader's own acknowledgements) or 'buffer' (uWS's buffer)
  conflated_updates_merged_total: number;
  catch_up_snapshots_total: number;
  slow_closes_total: Map<number, number>;         // by close code (4008, 4009, 4010)
  buffered_bytes_peak: number;                    // of connections already closed; open ones are read live
  ingest_events_total: number;
  ingest_gaps_total: number;
  recoveries_total: Map<string, number>;          // by symbol
}

export function new_feed_counters(): FeedCounters {
  return {
    connections: 0, connections_opened_total: 0, closes_total: new Map(),
    snapshots_out_total: 0, deltas_out_total: 0, heartbeats_out_total: 0, other_frames_out_total: 0,
    bytes_out_total: 0, frames_in_total: 0, bytes_in_total: 0, sends_dropped_total: 0,
    errors_total: new Map(), client_resyncs_total: 0, subscriptions: 0,
    conflating_connections: 0, conflated_frames_total: 0,
    conflation_episodes_total: 0, conflation_episodes_by_cause_total: new Map(), conflated_updates_merged_total: 0, catch_up_snapshots_total: 0, slow_closes_total: new Map(), buffered_bytes_peak: 0,
    ingest_events_total: 0, ingest_gaps_total: 0, recoveries_total: new Map(),
  };
}

/** One symbol's ingest and recovery counts (SymbolFeed.stats; /stats shows them per symbol). */
export interface SymbolFeedStats {
  /** Every bus message heard for the symbol (batches and heartbeats, live or recovering): flat means the engine is silent. */
  messages: number;
  batches: number;
  events: number;
  duplicates_skipped: number;
  stale_epoch_skipped: number;
  gaps: number;
  recoveries: number;
  bad_messages: number;
  snapshot_requests: number;
  snapshot_failures: number;
  engine_heartbeats: number;
  /** Resets done from the stream (latest snapshot + replay), not the engine. */
  stream_recoveries: number;
  /** Live books topped up from the stream without a reset (views kept streaming). */
  stream_fills: number;
  /** Stream attempts that failed (no answer, no snapshot, a hole): the next step was the engine or a retry. */
  stream_failures: number;
  stream_replayed_batches: number;
  /** Gaps held for the other NATS path (two paths), and those it filled (the rest went to the stream). */
  path_holds: number;
  path_hold_fills: number;
  /** Rebuilds within the epoch whose views continued with a Delta (no Snapshot; PROTOCOL.md §5.5). */
  rebuilds_continued: number;
  /** Duration (ms) and bytes read (snapshot + replayed batches, or the engine's reply) of the last reset. */
  last_recovery_ms: number;
  last_recovery_bytes: number;
}

export function new_symbol_feed_stats(): SymbolFeedStats {
  return {
    messages: 0, batches: 0, events: 0, duplicates_skipped: 0, stale_epoch_skipped: 0, gaps: 0,
    recoveries: 0, bad_messages: 0, snapshot_requests: 0, snapshot_failures: 0, engine_heartbeats: 0,
    stream_recoveries: 0, stream_fills: 0, stream_failures: 0, stream_replayed_batches: 0, path_holds: 0, path_hold_fills: 0, rebuilds_continued: 0, last_recovery_ms: 0, last_recovery_bytes: 0,
  };
}

/** Adds n to a labelled count (rare events only: it is a Map lookup). */
export function count_by<K>(map: Map<K, number>, key: K, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}
