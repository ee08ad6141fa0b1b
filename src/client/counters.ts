// What the client counts and how it reports trouble: the live counter object
// every part of the client increments, and the one error type its 'error'
// event carries.
//
// Cost: the counters are plain numbers on one object, created once per client
// and incremented in place (no allocation per frame). An error object is made
// only when something went wrong.
//
// Invariants: counters only grow (since the client was created); every
// FeedClientError names its kind, and `code` is the Error frame code (kinds
// 'server' and 'refused') or the close code (kind 'socket'), else 0.
import type { Verdict } from './book.js';

/** Counts since the client was created. A live object: read it any time. */
export interface ClientCounters {
  frames: number;
  bytes: number;
  snapshots: number;
  deltas: number;
  heartbeats: number;
  statuses: number;
  pongs: number;
  server_errors: number;
  resyncs: number;              // Resync requests sent (one per failed check)
  resumed_views: number;        // views a feed continued from the (epoch, seq) held, after a reconnect: no Snapshot
  resume_refused: number;       // views whose offered (epoch, seq) a feed could not continue: a Snapshot came (Status says why)
  digest_mismatches: number;
  range_breaks: number;         // gaps, overlaps, reorders
  epoch_changes: number;        // Delta of a new epoch without a Snapshot
  duplicates: number;           // Delta wholly already applied: ignored
  crossed_books: number;
  invalid_frames: number;       // impossible content (unsorted, too deep, bad numbers)
  decode_errors: number;        // undecodable frames (text, garbage)
  discarded_deltas: number;     // arrived before the snapshot they build on
  unknown_view_frames: number;  // for a view not subscribed (e.g. late after unsubscribe)
  unknown_level_removals: number;
  conflated_frames: number;
  updates_merged: number;       // book versions covered by Deltas
  trades: number;
  trade_aggregates: number;
  trades_folded: number;        // trades inside aggregates
  trades_missing: number;       // trade ids the feed never had (trades_missing events)
  snapshot_timeouts: number;
  reconnects: number;           // sockets opened after the first
  stale_connections: number;
  closes: number;               // sockets that closed or were dropped
  listener_errors: number;      // exceptions thrown by event listeners (caught)
}

export function new_counters(): ClientCounters {
  return {
    frames: 0, bytes: 0, snapshots: 0, deltas: 0, heartbeats: 0, statuses: 0, pongs: 0, server_errors: 0,
    resyncs: 0, resumed_views: 0, resume_refused: 0, digest_mismatches: 0, range_breaks: 0, epoch_changes: 0, duplicates: 0, crossed_books: 0,
    invalid_frames: 0, decode_errors: 0, discarded_deltas: 0, unknown_view_frames: 0, unknown_level_removals: 0,
    conflated_frames: 0, updates_merged: 0, trades: 0, trade_aggregates: 0, trades_folded: 0, trades_missing: 0,
    snapshot_timeouts: 0, reconnects: 0, stale_connections: 0, closes: 0, listener_errors: 0,
  };
}

/** Counts one failed check under its own counter. */
export function count_verdict(c: ClientCounters, verdict: Verdict): void {
  switch (verdict) {
    case 'digest_mismatch': c.digest_mismatches++; break;
    case 'range_break': c.range_breaks++; break;
    case 'epoch_change': c.epoch_changes++; break;
    case 'crossed': c.crossed_books++; break;
    case 'invalid': c.invalid_frames++; break;
    default: break;
  }
}

export type ClientErrorKind = 'verify' | 'server' | 'decode' | 'protocol' | 'socket' | 'listener' | 'refused';

/**
 * Codes of what the client itself found wrong with what it was sent or where
 * it connected (kinds 'decode', 'protocol', 'socket'), numbered apart from the
 * server's Error codes (1-99, docs/PROTOCOL.md §9) and WebSocket close codes
 * (1000-4999). No such frame ever reaches a book: it is dropped and counted,
 * and a Delta it may have been shows as a break on the next one (resync).
 */
export const client_error_code = {
  /** kind 'decode': a binary message that is not a valid Frame (bounds, lengths, union, enums, numbers). */
  bad_frame: 5001,
  /** kind 'decode': a text message; a depthcast feed sends binary frames only. */
  text_frame: 5002,
  /** kind 'decode': a well-formed Frame of a message type this SDK does not know (a newer protocol). */
  unknown_message: 5003,
  /** kind 'protocol': the socket's first frames were none of them depthcast frames: not a depthcast feed. The socket is dropped (1002) and retried with backoff. */
  not_a_feed: 5004,
  /** kind 'protocol': the socket's first frames were all well-formed Frames of message types this SDK does not know: a feed of an incompatible protocol version. Dropped and retried like not_a_feed. */
  incompatible_protocol: 5005,
  /** kind 'socket': no WebSocket opened (refused, not a WebSocket endpoint, an HTTP error, a bad handshake); once per outage, until a socket opens. */
  connect_failed: 5006,
  /** kind 'decode': a frame that decoded but could not be applied (a bug): every view resyncs. */
  apply_failed: 5007,
} as const;

export class FeedClientError extends Error {
  constructor(
    readonly kind: ClientErrorKind,
    message: string,
    /** Error frame code (kinds 'server'/'refused'), close code (kind 'socket' after a close), else a client_error_code. */
    readonly code = 0,
    readonly symbol = '',
    readonly verdict: Verdict | '' = '',
  ) {
    super(message);
    this.name = 'FeedClientError';
  }
}
