// Ingest of one symbol: the engine's event stream → an L2 book, with
// continuity checks and recovery. One writer per book.
//
// Continuity: per (epoch, seq). While live, a batch must continue at seq + 1
// (overlap is skipped as a duplicate). Other symbols go on whatever one does.
// A break sends the symbol to recovery (symbol_recovery.ts, which says how):
// a *fill* from the durable stream that keeps the views streaming when the
// stream has answered once, else (or when the fill cannot continue the book)
// a *reset* to `recovering` and a fresh snapshot, from the stream, else from
// the engine. This file decides when, and what the views are told.
//
// Engine silence (check_silence): nothing live for engine_silence_ms_max
// fills the book from the stream, and if the engine is still silent it stays
// live with `engine_silent` set (clients see it in Status), serving the last
// book the stream has; without a stream it goes to recovering. A book built
// from the stream before anything live was heard since this feed started is
// engine_silent from the first Status on.
//
// Two paths (bus/nats_paths.ts): each batch may arrive twice. The second copy
// is dropped on its (epoch, seq) alone, peeked before anything is decoded
// (wire/batch_peek.ts). A gap is *held* (path_hold.ts) for the other path or
// the engine's resend; only if neither brings it is the book filled.
//
// Commit points: the book is a state the engine really had only after an
// event flagged end-of-engine-event; `committed_seq` is the last such seq and
// views are updated only when applied_seq == committed_seq.
//
// Cost per live batch: the batch is read in place (EventBatchReader, one
// reused event), each event applied to the book; a TradeRec per trade. While
// recovering or filling, a copy of each batch is held instead.
import type { L2Book } from '../book/l2_book.js';
import { L2Book as Book } from '../book/l2_book.js';
import { event_execute, flag_end_of_engine_event, new_book_event, type Instrument, type L2Snapshot, type Side } from '../book/types.js';
import type { Bus } from '../bus/bus.js';
import type { Subjects } from '../bus/subjects.js';
import { peek_batch_range, type BatchRange } from '../wire/batch_peek.js';
import { EventBatchReader } from '../wire/engine_codec.js';
import type { TradeIdRange, TradeRec } from '../wire/feed_types.js';
import { logger_for } from '../util/log.js';
import { new_symbol_feed_stats, type SymbolFeedStats } from './counters.js';
import type { BatchOutcome, RecoverySource, ResetReason, SymbolState } from './feed_types.js';
import { PathHold } from './path_hold.js';
import { RebuildTrades } from './rebuild_trades.js';
import { SymbolRecovery, type RecoveryOptions } from './symbol_recovery.js';
import { TradeHistory } from './trade_history.js';

const log = logger_for('feed.ingest');
export type { BatchOutcome, RecoverySource, ResetReason, SymbolState } from './feed_types.js';

/** Trades remembered between two view flushes (a flush happens every event-loop turn). */
export const pending_trades_max = 65_536;

export interface SymbolFeedHooks {
  /** The book reached a new commit point: schedule a view flush. */
  on_commit(feed: SymbolFeed): void;
  /** The book was replaced from a snapshot: views must restart from it. */
  on_reset(feed: SymbolFeed, reason: ResetReason): void;
  /** The book was rebuilt within its epoch, past where the views are: they continue to it with one Delta each. */
  on_continue(feed: SymbolFeed): void;
  on_state(feed: SymbolFeed): void;
  /** A rebuild begins on a committed book: the views take it now, so the trades it applied are listed, not named missing. */
  before_recovery(feed: SymbolFeed): void;
  /** A batch was applied: its engine→ingest latency and the events it added to the book. */
  on_batch_applied(engine_to_ingest_ns: number, events: number): void;
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
  readonly stats: SymbolFeedStats = new_symbol_feed_stats();
  /** Recent trades and their seqs: every trade with a seq above the last reset's is in it, up to recent_trades_max. */
  private readonly trade_history = new TradeHistory();
  /** Nothing live heard from the engine for engine_silence_ms_max while the book is live (served as the last the stream has). */
  engine_silent = false;
  last_recovery_source: RecoverySource = 'none';

  private readonly reader = new EventBatchReader();
  private readonly range: BatchRange = { epoch: 0, seq_first: 0, count: 0 };
  /** A gap on one of two bus paths, held for the other (path_hold.ts). */
  private readonly path_hold: PathHold;
  private readonly event = new_book_event();
  private reset_reason: ResetReason = 'start';
  /** The epoch the book had when the reset began: a different one after it is a new epoch for the views. */
  private reset_from_epoch = 0;
  /** Where the views were when the reset began (committed seq, last trade reported): a rebuild in the epoch continues from there. */
  private reset_from_seq = 0;
  private reset_from_trade_id = 0;
  private snapshot_last_trade_id = 0;
  /** Set by a rebuild that continues the views (finish_reset) until the next flush: trades that never reached the feed. */
  trades_missing: TradeIdRange | undefined = undefined;
  /** Trades of buffered batches at or below a rebuild's snapshot: listed, not named missing (rebuild_trades.ts). */
  private readonly rebuild_trades = new RebuildTrades();
  /** When the last live bus message for this symbol arrived (ms since 1970). */
  private last_heard_ms = Date.now();
  /** A live bus message for this symbol has arrived since this feed started. */
  private heard_live = false;
  private stopped = false;
  private readonly engine_silence_ms_max: number;
  private readonly recovery: SymbolRecovery;

  constructor(
    readonly symbol: string,
    bus: Bus,
    subjects: Subjects,
    private readonly hooks: SymbolFeedHooks,
    snapshot_timeout_ms: number,
    recovery: RecoveryOptions,
  ) {
    this.instrument = { symbol, tick_size: '1', lot_size: '1', price_decimals: 0, size_decimals: 0 };
    this.engine_silence_ms_max = recovery.engine_silence_ms_max;
    this.recovery = new SymbolRecovery(symbol, this.stats, bus, subjects, snapshot_timeout_ms, recovery, {
      recovering: () => this.state === 'recovering',
      continues_from: (epoch, seq) => epoch === this.epoch && seq <= this.applied_seq && this.is_committed,
      apply_batch: (bytes, ts_ingest_ns, replaying) => this.apply_batch(bytes, ts_ingest_ns, replaying),
      load_snapshot: (snap) => this.load_snapshot(snap),
      reset_done: (source, started_ms) => this.finish_reset(source, started_ms),
      fill_done: (reason, filled) => this.fill_done(reason, filled),
    });
    this.path_hold = new PathHold(recovery.path_hold_ms_max ?? 0, () => (bus.paths_connected?.() ?? 0) >= 1, this.stats, {
      apply_batch: (bytes, ts_ingest_ns) => this.apply_batch(bytes, ts_ingest_ns, false),
      hold: (bytes, ts_ingest_ns) => this.recovery.hold(bytes, ts_ingest_ns),
      apply_held: () => this.recovery.apply_held(),
      broken: (reason) => this.begin_recovery(reason),
      expired: () => {
        if (this.state !== 'live' || this.stopped || this.recovery.filling) return;
        log.info({ symbol: this.symbol, seq: this.applied_seq }, 'the other path did not fill the gap');
        if (this.recovery.stream_answered) this.begin_fill('gap');
        else this.begin_recovery('gap');
      },
    });
  }

  start(): void {
    this.recovery.run_reset();
  }

  stop(): void {
    this.stopped = true;
    this.path_hold.cancel();
    this.recovery.stop();
  }

  /**
   * The bus connection dropped: events may be lost, and a quiet symbol would not show the gap until its next event.
   * With a stream: filled from it once the bus is back (views keep their state). Without: recovers from the engine
   * now (retried until the bus is back), so clients see Recovering, not a book that silently stopped.
   */
  upstream_lost(): void {
    if (this.state !== 'live' || this.stopped) return;
    if (this.recovery.stream_answered) this.begin_fill('upstream_lost');
    else this.begin_recovery('upstream_lost');
  }

  /** The bus is back: retry at once rather than at the next pause's end. */
  upstream_back(): void {
    this.recovery.wake_up();
  }

  /**
   * The engine sends a batch or a heartbeat at least every heartbeat interval per symbol: nothing for silence_ms_max
   * means it (or our route to it) is gone. With a stream: fill from it; if the engine is still silent, say so
   * (engine_silent) and serve the last book. Without: recovering, rather than a book that silently stopped moving.
   */
  check_silence(now_ms: number): void {
    if (this.state !== 'live' || this.stopped || this.engine_silent || this.recovery.filling) return;
    if (now_ms - this.last_heard_ms <= this.engine_silence_ms_max) return;
    log.warn({ symbol: this.symbol, silent_ms: now_ms - this.last_heard_ms }, 'nothing from the engine (no batch, no heartbeat)');
    if (this.recovery.stream_answered) this.begin_fill('engine_silent');
    else this.begin_recovery('engine_silent');
  }

  /** A bus message on this symbol's events (or resend) subject. `bytes` is only read during the call. */
  on_message(bytes: Uint8Array, ts_ingest_ns: number): void {
    this.stats.messages++;
    // A copy already applied (the other path's, or an overlap): dropped on its seq, nothing else read.
    const range = this.range;
    if (this.state === 'live' && !this.recovery.filling && peek_batch_range(bytes, range) && range.count > 0
      && range.epoch === this.epoch && range.seq_first + range.count - 1 <= this.applied_seq) {
      this.stats.duplicates_skipped++;
      return;
    }
    this.last_heard_ms = Date.now();
    this.heard_live = true;
    if (this.engine_silent) {
      this.engine_silent = false;
      log.info({ symbol: this.symbol }, 'the engine is heard again');
      if (this.state === 'live') this.hooks.on_state(this);
    }
    if (this.state === 'recovering' || this.recovery.filling) {
      this.recovery.hold(bytes, ts_ingest_ns);
      return;
    }
    if (this.path_hold.active) {
      this.path_hold.on_message(bytes, ts_ingest_ns);
      return;
    }
    const outcome = this.apply_batch(bytes, ts_ingest_ns, false);
    if (outcome !== 'ok' && outcome !== 'skipped') {
      if (outcome === 'gap' && this.path_hold.try_begin(bytes, ts_ingest_ns)) return;
      if (outcome === 'gap' && this.recovery.stream_answered) this.begin_fill('gap');
      else this.begin_recovery(outcome);
      // The batch that revealed the break may be the first of the new stream.
      this.recovery.hold(bytes, ts_ingest_ns);
    }
  }

  /** Applies a batch to a live book; returns why continuity broke, if it did. `replaying`: from the stream (old: no latency sample). */
  private apply_batch(bytes: Uint8Array, ts_ingest_ns: number, replaying: boolean): BatchOutcome {
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
      if (this.state === 'recovering') this.rebuild_trades.keep(r, 0, r.count, this.event, this.reset_from_trade_id);
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
    if (first > 0 && this.state === 'recovering') this.rebuild_trades.keep(r, 0, first, ev, this.reset_from_trade_id);
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
      if (ev.kind === event_execute) this.record_trade(ev.seq, ev.trade_id, ev.price, ev.qty, ev.ts_engine_ns, ev.aggressor);
      if (ev.flags & flag_end_of_engine_event) {
        this.committed_seq = ev.seq;
        this.versions++;
        committed = true;
      }
    }
    this.ts_ingest_ns = ts_ingest_ns;
    if (!replaying) this.hooks.on_batch_applied(ts_ingest_ns - this.ts_engine_ns, r.count - first);
    if (committed) this.hooks.on_commit(this);
    return 'ok';
  }

  private record_trade(seq: number, trade_id: number, price: number, size: number, ts_engine_ns: number, aggressor: Side): void {
    // Several makers can fill at one price in one sweep; each is a trade of its own.
    this.last_trade_id = trade_id;
    this.trade_history.remember(seq, trade_id, price, size, ts_engine_ns, aggressor);
    if (this.pending_trades.length >= pending_trades_max) return; // flushes run every turn; unreachable in practice
    this.pending_trades.push({ trade_id, price, size, ts_engine_ns, aggressor });
  }

  /**
   * The symbol's trades with a seq in (after_seq, through_seq], in order; null
   * when some of them are no longer remembered (or came before the last reset).
   */
  trades_between(after_seq: number, through_seq: number): TradeRec[] | null {
    return this.trade_history.between(after_seq, through_seq);
  }

  get is_committed(): boolean {
    return this.applied_seq === this.committed_seq;
  }

  // ---- fill and reset: when, and what the views are told (how: symbol_recovery.ts) ----

  private begin_fill(reason: ResetReason): void {
    if (this.recovery.filling || this.state !== 'live' || this.stopped) return;
    this.path_hold.cancel(); // what it held stays buffered: the fill applies it after the stream's batches
    this.recovery.begin_fill(reason, this.epoch, this.applied_seq);
  }

  private fill_done(reason: ResetReason, filled: boolean): void {
    if (!filled) {
      this.begin_recovery(reason);
      return;
    }
    this.stats.stream_fills++;
    // Heard nothing live meanwhile either: the engine is gone (or quiet past its heartbeat). Serve the last book, and say so.
    if (!this.engine_silent && Date.now() - this.last_heard_ms > this.engine_silence_ms_max) {
      this.engine_silent = true;
      log.warn({ symbol: this.symbol, epoch: this.epoch, seq: this.committed_seq }, 'engine silent: serving the last book the stream has');
      this.hooks.on_state(this);
    }
  }

  private begin_recovery(reason: ResetReason): void {
    this.path_hold.cancel();
    if (this.state === 'recovering') {
      this.recovery.run_reset();
      return;
    }
    if (this.is_committed) this.hooks.before_recovery(this);
    this.state = 'recovering';
    this.reset_reason = reason;
    this.reset_from_epoch = this.epoch;
    this.reset_from_seq = this.committed_seq;
    // Trades not yet flushed to the views (the book was mid engine event) are lost with the reset: they count as
    // missing if the views continue.
    this.reset_from_trade_id = this.pending_trades.length > 0 ? this.pending_trades[0].trade_id - 1 : this.last_trade_id;
    this.stats.recoveries++;
    // The buffer is kept: a failed fill leaves in it every live batch since the fill began, in order, which the
    // reset needs on top of its snapshot (those at or below it are skipped as duplicates).
    this.pending_trades.length = 0;
    log.warn({ symbol: this.symbol, reason, epoch: this.epoch, seq: this.applied_seq }, 'recovering: the book is rebuilt from a snapshot');
    this.hooks.on_state(this);
    this.recovery.run_reset();
  }

  private load_snapshot(snap: L2Snapshot): void {
    // Trades before the snapshot are not ours to report: a resume from before it gets a Snapshot.
    this.trade_history.forget_through(snap.seq);
    // load() lists every old and new price as changed: in the epoch the views had, that list is kept, so views that
    // continue across the rebuild (finish_reset) get exactly the difference; another epoch restarts them from the book.
    this.book.load(snap.bids, snap.asks);
    if (snap.epoch !== this.reset_from_epoch || this.reset_reason === 'start') this.book.take_changes();
    this.pending_trades.length = 0; // each round starts from its snapshot: only the trades replayed after it are news
    this.rebuild_trades.clear();
    this.snapshot_last_trade_id = snap.last_trade_id;
    this.instrument = snap.instrument;
    this.epoch = snap.epoch;
    this.applied_seq = snap.seq;
    this.committed_seq = snap.seq;
    this.last_trade_id = snap.last_trade_id;
    this.ts_engine_ns = snap.ts_engine_ns;
  }

  private finish_reset(source: RecoverySource, started_ms: number): void {
    const epoch_changed = this.epoch !== this.reset_from_epoch;
    this.committed_seq = this.applied_seq; // replayed batches end at engine-event boundaries
    // Same engine, seq moved on: the views continue with one Delta (the difference), saying which trades are missing.
    const continues = !epoch_changed && this.reset_reason !== 'start' && this.committed_seq >= this.reset_from_seq;
    if (continues) {
      this.trades_missing = this.rebuild_trades.settle(this.reset_from_trade_id, this.snapshot_last_trade_id, this.pending_trades);
      this.stats.rebuilds_continued++;
    } else {
      this.pending_trades.length = 0; // trades before and inside the snapshot are history, not news
      this.book.take_changes();
    }
    this.state = 'live';
    this.last_recovery_source = source;
    this.stats.last_recovery_ms = performance.now() - started_ms;
    // The engine just answered: alive. From the stream: silent until heard live at least once since this feed
    // started (a feed started while the engine is down must not call the book live), or silent for too long.
    this.engine_silent = source === 'stream' && (!this.heard_live || Date.now() - this.last_heard_ms > this.engine_silence_ms_max);
    if (source === 'engine') this.last_heard_ms = Date.now();
    const reason = this.reset_reason === 'start' ? 'start' : epoch_changed ? 'new_epoch' : this.reset_reason;
    log.info({ symbol: this.symbol, epoch: this.epoch, seq: this.applied_seq, reason, source, engine_silent: this.engine_silent,
      ms: Math.round(this.stats.last_recovery_ms) }, 'symbol live');
    this.hooks.on_state(this);
    if (continues) this.hooks.on_continue(this);
    else this.hooks.on_reset(this, reason);
  }
}
