// Ingest of one symbol: the engine's event stream → an L2 book, with
// continuity checks and recovery. One writer per book.
//
// Continuity: per (epoch, seq). While live, a batch must continue at seq + 1
// (overlap is skipped as a duplicate). A gap, a newer epoch or an event the
// book cannot apply sends this symbol alone to `recovering`: its batches are
// buffered (bounded), the engine's snapshot is requested, and the buffered
// events past the snapshot's seq are applied on top. Other symbols go on.
//
// Commit points: the book is a state the engine really had only after an
// event flagged end-of-engine-event; `committed_seq` is the last such seq and
// views are updated only when applied_seq == committed_seq.

import type { L2Book } from '../book/l2_book.js';
import { L2Book as Book } from '../book/l2_book.js';
import { event_execute, flag_end_of_engine_event, new_book_event, type Instrument, type L2Snapshot } from '../book/types.js';
import type { Bus } from '../bus/bus.js';
import type { Subjects } from '../bus/subjects.js';
import { EventBatchReader, decode_engine_reply } from '../wire/engine_codec.js';
import type { TradeRec } from '../wire/feed_types.js';
import { logger_for } from '../util/log.js';

const log = logger_for('feed.ingest');

export type SymbolState = 'recovering' | 'live';
export type ResetReason = 'start' | 'new_epoch' | 'gap' | 'bad_event' | 'upstream_lost' | 'engine_silent';

/** Batches kept while recovering; past it the oldest go (the replay then re-requests). */
export const recovery_buffer_batches_max = 20_000;
/** Trades remembered between two view flushes (a flush happens every event-loop turn). */
export const pending_trades_max = 65_536;

export interface SymbolFeedHooks {
  /** The book reached a new commit point: schedule a view flush. */
  on_commit(feed: SymbolFeed): void;
  /** The book was replaced from a snapshot: views must restart from it. */
  on_reset(feed: SymbolFeed, reason: ResetReason): void;
  on_state(feed: SymbolFeed): void;
  /** A batch was applied: its engine→ingest latency and the events it added to the book. */
  on_batch_applied(engine_to_ingest_ns: number, events: number): void;
}

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
}

export class SymbolFeed {
  readonly book: L2Book = new Book();
  state: SymbolState = 'recovering';
  epoch = 0;
  applied_seq = 0;
  committed_seq = 0;
  /** Engine events (commit points) since the epoch started: counts book versions. */
  versions = 0;
  instrument: Instrument;
  last_trade_id = 0;
  ts_engine_ns = 0;
  ts_ingest_ns = 0;
  /** Trades since the last flush, in order. */
  readonly pending_trades: TradeRec[] = [];
  readonly stats: SymbolFeedStats = {
    messages: 0, batches: 0, events: 0, duplicates_skipped: 0, stale_epoch_skipped: 0, gaps: 0,
    recoveries: 0, bad_messages: 0, snapshot_requests: 0, snapshot_failures: 0, engine_heartbeats: 0,
  };

  private readonly reader = new EventBatchReader();
  private readonly event = new_book_event();
  private buffer: { bytes: Uint8Array; ts_ingest_ns: number }[] = [];
  private snapshot_in_flight = false;
  private retry_timer: ReturnType<typeof setTimeout> | null = null;
  private reset_reason: ResetReason = 'start';
  /** When the last bus message for this symbol arrived (ms since 1970). */
  private last_heard_ms = Date.now();
  private stopped = false;

  constructor(
    readonly symbol: string,
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    private readonly hooks: SymbolFeedHooks,
    private readonly snapshot_timeout_ms: number,
  ) {
    this.instrument = { symbol, tick_size: '1', lot_size: '1', price_decimals: 0, size_decimals: 0 };
  }

  start(): void {
    this.request_snapshot();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry_timer) clearTimeout(this.retry_timer);
  }

  /**
   * The bus connection dropped: events may be lost in the outage, and a quiet
   * symbol would not reveal the gap until its next event. Recover from the
   * engine's snapshot now (the request retries until the bus is back), so
   * clients see Recovering instead of a book that silently stopped.
   */
  upstream_lost(): void {
    if (this.state === 'live' && !this.stopped) this.begin_recovery('upstream_lost');
  }

  /** The bus is back: ask for the snapshot at once rather than at the next retry. */
  upstream_back(): void {
    if (this.state !== 'recovering' || this.stopped || this.snapshot_in_flight) return;
    if (this.retry_timer) clearTimeout(this.retry_timer);
    this.retry_timer = null;
    this.request_snapshot();
  }

  /**
   * The engine sends a batch or a heartbeat at least every heartbeat interval
   * per symbol. Hearing nothing for silence_ms_max means the engine (or our
   * route to it) is gone: the symbol goes to recovering, so clients see that
   * state rather than a book that silently stopped moving.
   */
  check_silence(now_ms: number, silence_ms_max: number): void {
    if (this.state === 'live' && !this.stopped && now_ms - this.last_heard_ms > silence_ms_max) {
      log.warn({ symbol: this.symbol, silent_ms: now_ms - this.last_heard_ms }, 'nothing from the engine (no batch, no heartbeat)');
      this.begin_recovery('engine_silent');
    }
  }

  /** A bus message on this symbol's events subject. `bytes` is only read during the call. */
  on_message(bytes: Uint8Array, ts_ingest_ns: number): void {
    this.last_heard_ms = Date.now();
    this.stats.messages++;
    if (this.state === 'recovering') {
      if (this.buffer.length >= recovery_buffer_batches_max) this.buffer.shift();
      this.buffer.push({ bytes: bytes.slice(), ts_ingest_ns });
      return;
    }
    const outcome = this.apply_batch(bytes, ts_ingest_ns);
    if (outcome !== 'ok' && outcome !== 'skipped') {
      this.begin_recovery(outcome);
      // The batch that revealed the break may be the first of the new stream.
      this.buffer.push({ bytes: bytes.slice(), ts_ingest_ns });
    }
  }

  /** Applies a batch to a live book; returns why continuity broke, if it did. */
  private apply_batch(bytes: Uint8Array, ts_ingest_ns: number): 'ok' | 'skipped' | 'gap' | 'new_epoch' | 'bad_event' {
    const r = this.reader;
    try {
      r.read(bytes);
    } catch (err) {
      this.stats.bad_messages++;
      log.warn({ symbol: this.symbol, err: (err as Error).message }, 'undecodable event batch skipped');
      return 'skipped';
    }
    if (r.symbol !== this.symbol) {
      this.stats.bad_messages++;
      return 'skipped';
    }
    if (r.epoch !== this.epoch) {
      if (r.epoch < this.epoch) {
        this.stats.stale_epoch_skipped++;
        return 'skipped';
      }
      return 'new_epoch';
    }
    if (r.count === 0) {
      // Engine heartbeat at its next seq: nothing to apply, but a lost last batch shows as a gap here.
      if (r.seq_first > this.applied_seq + 1) {
        this.stats.gaps++;
        log.warn({ symbol: this.symbol, expected: this.applied_seq + 1, got: r.seq_first }, 'engine heartbeat reveals a gap');
        return 'gap';
      }
      this.stats.engine_heartbeats++;
      return 'skipped';
    }
    const last_seq = r.seq_first + r.count - 1;
    if (last_seq <= this.applied_seq) {
      this.stats.duplicates_skipped++;
      return 'skipped';
    }
    if (r.seq_first > this.applied_seq + 1) {
      this.stats.gaps++;
      log.warn({ symbol: this.symbol, expected: this.applied_seq + 1, got: r.seq_first }, 'gap in event stream');
      return 'gap';
    }
    this.stats.batches++;
    const ev = this.event;
    let committed = false;
    const first = this.applied_seq + 1 - r.seq_first;
    for (let i = first; i < r.count; i++) {
      r.event(i, ev);
      try {
        this.book.apply(ev);
      } catch (err) {
        log.error({ symbol: this.symbol, seq: ev.seq, err: (err as Error).message }, 'event does not apply to the book');
        return 'bad_event';
      }
      this.stats.events++;
      this.applied_seq = ev.seq;
      this.ts_engine_ns = ev.ts_engine_ns;
      if (ev.kind === event_execute) this.record_trade(ev.trade_id, ev.price, ev.qty, ev.ts_engine_ns, ev.aggressor);
      if (ev.flags & flag_end_of_engine_event) {
        this.committed_seq = ev.seq;
        this.versions++;
        committed = true;
      }
    }
    this.ts_ingest_ns = ts_ingest_ns;
    this.hooks.on_batch_applied(ts_ingest_ns - this.ts_engine_ns, r.count - first);
    if (committed) this.hooks.on_commit(this);
    return 'ok';
  }

  private record_trade(trade_id: number, price: number, size: number, ts_engine_ns: number, aggressor: 0 | 1): void {
    // Several makers can fill at one price in one sweep; each is a trade of its own.
    this.last_trade_id = trade_id;
    if (this.pending_trades.length >= pending_trades_max) return; // flushes run every turn; unreachable in practice
    this.pending_trades.push({ trade_id, price, size, ts_engine_ns, aggressor });
  }

  get is_committed(): boolean {
    return this.applied_seq === this.committed_seq;
  }

  private begin_recovery(reason: ResetReason): void {
    this.state = 'recovering';
    this.reset_reason = reason;
    this.stats.recoveries++;
    this.buffer = [];
    this.pending_trades.length = 0;
    log.warn({ symbol: this.symbol, reason, epoch: this.epoch, seq: this.applied_seq }, 'recovering from the engine snapshot');
    this.hooks.on_state(this);
    this.request_snapshot();
  }

  private request_snapshot(): void {
    if (this.snapshot_in_flight || this.stopped) return;
    this.snapshot_in_flight = true;
    this.stats.snapshot_requests++;
    this.bus.request(this.subjects.snapshot(this.symbol), new Uint8Array(0), this.snapshot_timeout_ms)
      .then((reply) => {
        this.snapshot_in_flight = false;
        if (this.stopped) return;
        const decoded = decode_engine_reply(reply);
        if (decoded.kind !== 'snapshot') {
          throw new Error(decoded.kind === 'error' ? `engine refused: ${decoded.message} (code ${decoded.code})` : 'unexpected reply');
        }
        this.on_snapshot(decoded.snapshot);
      })
      .catch((err: unknown) => {
        this.snapshot_in_flight = false;
        this.stats.snapshot_failures++;
        if (this.stopped) return;
        // Engine not up yet, NATS away, or a reply we cannot read: ask again later.
        if (this.stats.snapshot_failures === 1 || this.stats.snapshot_failures % 10 === 0) {
          log.warn({ symbol: this.symbol, failures: this.stats.snapshot_failures, err: (err as Error).message }, 'snapshot request failed; retrying');
        }
        this.retry_timer = setTimeout(() => { this.retry_timer = null; this.request_snapshot(); }, Math.min(this.snapshot_timeout_ms, 1000));
      });
  }

  private on_snapshot(snap: L2Snapshot): void {
    if (this.state !== 'recovering') return;
    const epoch_changed = snap.epoch !== this.epoch;
    this.book.load(snap.bids, snap.asks);
    this.book.take_changes(); // views restart from the whole book, not from a change list
    this.instrument = snap.instrument;
    this.epoch = snap.epoch;
    this.applied_seq = snap.seq;
    this.committed_seq = snap.seq;
    this.last_trade_id = snap.last_trade_id;
    this.ts_engine_ns = snap.ts_engine_ns;
    this.state = 'live';
    this.last_heard_ms = Date.now();
    // Replay what arrived while we waited, past the snapshot.
    const buffered = this.buffer;
    this.buffer = [];
    let outcome: ReturnType<SymbolFeed['apply_batch']> = 'ok';
    let k = 0;
    for (; k < buffered.length; k++) {
      outcome = this.apply_batch(buffered[k].bytes, buffered[k].ts_ingest_ns);
      if (outcome !== 'ok' && outcome !== 'skipped') break;
    }
    this.pending_trades.length = 0; // trades before and inside the snapshot are history, not news
    if (outcome === 'gap' || outcome === 'new_epoch' || outcome === 'bad_event') {
      // The snapshot is older than the gap in our buffer, or a newer engine started: ask again.
      this.state = 'recovering';
      this.buffer = buffered.slice(k);
      log.info({ symbol: this.symbol, outcome }, 'buffered events do not continue the snapshot; requesting another');
      this.request_snapshot();
      return;
    }
    // Commit point: replayed batches end at engine-event boundaries.
    this.committed_seq = this.applied_seq;
    const reason = this.reset_reason === 'start' ? 'start' : epoch_changed ? 'new_epoch' : this.reset_reason;
    log.info({ symbol: this.symbol, epoch: this.epoch, seq: this.applied_seq, reason }, 'symbol live');
    this.hooks.on_state(this);
    this.hooks.on_reset(this, reason);
  }
}
