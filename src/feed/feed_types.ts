// The types the feed's files share, in one module, so that no two feed files
// import each other for a type: each imports this instead. Types only (no
// code, no cost).

import type { TradeIdRange, TradeRec } from '../wire/feed_types.js';

/** What a ReaderFlow (reader_flow.ts) and its two estimators are given. */
export interface ReaderFlowLimits {
  /** Staleness the window aims at: a reader is sent at most what it drains in this time. */
  readonly reader_lag_target_ms: number;
  readonly in_flight_bytes_min: number;
  readonly in_flight_bytes_max: number;
  /** Pings go out this often while data flows (and after every send while conflating). */
  readonly reader_probe_interval_ms: number;
  /** A reader this far behind that also reads less than in_flight_bytes_min in this long is too slow. */
  readonly reader_lag_ms_max: number;
}

/** What a connection that falls behind gets: conflated catch-ups, or a close (4008). */
export type SlowPolicy = 'conflate' | 'close';

/** Why a connection conflates: its reader's acknowledgements ('lag') or uWS's own buffer ('buffer'). */
export type ConflationCause = 'lag' | 'buffer';

/** What flow control (flow_control.ts) is given: the reader flow's limits and the buffer bounds and policy. */
export interface FlowLimits extends ReaderFlowLimits {
  readonly slow_enter_bytes: number;
  readonly slow_exit_bytes: number;
  readonly send_buffer_bytes_max: number;
  readonly slow_policy: SlowPolicy;
}

/** What the opener of a connection (server.ts, the gateway) chooses for it (Feed.open_session). */
export interface SessionOptions {
  /** Default: the feed's configured slow_policy. */
  readonly slow_policy?: SlowPolicy;
  /** Heartbeat frames when idle (default true); false for a client that does not speak depthcast's protocol (the Binance gateway's). */
  readonly heartbeats?: boolean;
  /** Frames at most every this many ms, in one write (write_delay.ts; checked by its opener: parse_write_delay). Default 0: at once. */
  readonly write_delay_ms?: number;
}

/** What every Session is given (one object per slow policy, shared). */
export interface SessionLimits extends FlowLimits {
  readonly inbound_messages_per_s_max: number;
}

/** A view's frames held for one write-delay class's next write (write_delay.ts's DelayedTopic). */
export interface HeldFrames {
  /** The fan-out encoded a Delta of the view: it leaves with the class's next write. */
  hold(frame: Uint8Array): void;
  /** Publishes what is held now (an order point: write_delay.ts, "Order"). */
  publish_held(): void;
}

/** A symbol's book: being rebuilt, or served. */
export type SymbolState = 'recovering' | 'live';
/** Why a symbol's book was rebuilt or filled. */
export type ResetReason = 'start' | 'new_epoch' | 'gap' | 'bad_event' | 'upstream_lost' | 'engine_silent';
/** What applying one batch found; anything but 'ok' and 'skipped' breaks continuity. */
export type BatchOutcome = 'ok' | 'skipped' | 'gap' | 'new_epoch' | 'bad_event';
/** Where the last reset or fill took its book from. */
export type RecoverySource = 'none' | 'stream' | 'engine';

/** A subscription's delivery mode: written only by its Session (Session.set_mode; what each means is in session.ts). */
export type SubscriptionMode = 'waiting' | 'streaming' | 'published' | 'accumulating' | 'snapshot_pending';

/** What a view (view_channel.ts) needs of a subscriber in its sets (Subscription, subscription.ts, is the one). */
export interface ViewSubscriber {
  /** The view's seq this subscriber was last sent (its position). */
  readonly seq_sent: number;
  /** Its next catch-up is a Snapshot. */
  readonly overflowed: boolean;
  /** The view's published bytes/frames when its connection last counted its share. */
  published_bytes_seen: number;
  published_frames_seen: number;
  accumulate_trades(trades: readonly TradeRec[]): void;
  /** Trade ids that never reached the feed (a rebuild that continued the view): its next catch-up says so. */
  accumulate_missing(range: TradeIdRange): void;
}
