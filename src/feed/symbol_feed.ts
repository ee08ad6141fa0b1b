// Ingest of one symbol: the engine's event stream → an L2 book, with
// continuity checks and recovery. One writer per book.
//
// Continuity: per (epoch, seq). While live, a batch must continue at seq + 1
// (overlap is skipped as a duplicate). Other symbols go on whatever one does.
//
// Recovery, when the bus has a durable stream (bus/event_stream.ts) that has answered once:
// - A live book whose continuity is in doubt (a gap, the bus connection lost,
//   the engine silent) is first *filled*: the batches stored after the
//   stream's latest snapshot are replayed on top of it (those at or below our
//   seq are duplicates), then the live batches buffered meanwhile. Views keep
//   streaming Deltas; no client sees a Snapshot. A fill that cannot continue
//   our book (the snapshot is newer, another epoch, a hole in the stream) or
//   that the stream does not answer within engine_silence_ms_max turns into:
// - A reset (start, new epoch, bad event, failed fill): the symbol goes to
//   `recovering`, live batches are buffered (bounded), the book is loaded
//   from the stream's latest snapshot and the batches stored after it are
//   replayed (an ordered consumer), then the buffer; every view restarts from
//   a fresh Snapshot. The engine is not needed for any of it.
// - The engine's request/reply is the fallback (no stream, no snapshot in it,
//   a hole in it): the snapshot is requested and the buffered batches past it
//   are applied, as before the stream existed.
// Engine silence: a live symbol that hears nothing live (no batch, no engine
// heartbeat) for engine_silence_ms_max is filled from the stream; if the
// engine is still silent it stays live with `engine_silent` set (clients see
// it in Status) and serves the last book the stream has. A book built from the
// stream before anything live was heard since this feed started is
// engine_silent from the first Status on (a feed started while the engine is
// down never calls its books live). Without a stream it
// goes to recovering, as a book that silently stopped must not look live.
//
// Commit points: the book is a state the engine really had only after an
// event flagged end-of-engine-event; `committed_seq` is the last such seq and
// views are updated only when applied_seq == committed_seq.
//
// Cost: a fill or reset from the stream is two JetStream round trips plus the
// batches since the last stored snapshot (--stream-snapshot-interval-ms of
// them while the engine runs); nothing on the live path.

import type { L2Book } from '../book/l2_book.js';
import { L2Book as Book } from '../book/l2_book.js';
import { event_execute, flag_end_of_engine_event, new_book_event, type Instrument, type L2Snapshot, type Side } from '../book/types.js';
import type { Bus } from '../bus/bus.js';
import type { EventStream } from '../bus/event_stream.js';
import type { Subjects } from '../bus/subjects.js';
import { EventBatchReader, decode_engine_reply } from '../wire/engine_codec.js';
import type { TradeRec } from '../wire/feed_types.js';
import { now_ns } from '../util/clock.js';
import { logger_for } from '../util/log.js';

const log = logger_for('feed.ingest');

export type SymbolState = 'recovering' | 'live';
export type ResetReason = 'start' | 'new_epoch' | 'gap' | 'bad_event' | 'upstream_lost' | 'engine_silent';
type BatchOutcome = 'ok' | 'skipped' | 'gap' | 'new_epoch' | 'bad_event';
/** Where the last reset or fill took its book from. */
export type RecoverySource = 'none' | 'stream' | 'engine';

/** Batches kept while recovering; past it the oldest go (the replay then re-requests). */
export const recovery_buffer_batches_max = 20_000;
/** Trades remembered with their seq, so a resumed view's catch-up can list the trades of its range. */
export const recent_trades_max = 4096;
/** Stream rounds that may end in 'retry' (new epoch without its snapshot yet, stream behind the buffer) before the engine is asked. */
const stream_retries_max = 20;
const stream_retry_pause_ms = 50;
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
  /** Resets done from the stream (latest snapshot + replay), not the engine. */
  stream_recoveries: number;
  /** Live books topped up from the stream without a reset (views kept streaming). */
  stream_fills: number;
  /** Stream attempts that failed (no answer, no snapshot, a hole): the next step was the engine or a retry. */
  stream_failures: number;
  stream_replayed_batches: number;
  /** Duration (ms) and bytes read (snapshot + replayed batches, or the engine's reply) of the last reset. */
  last_recovery_ms: number;
  last_recovery_bytes: number;
}

export interface RecoveryOptions {
  /** The durable stream; null = recover from the engine's request/reply alone. */
  stream?: EventStream | null;
  /** Silence after which the engine counts as gone (config engine_silence_ms_max). */
  engine_silence_ms_max?: number;
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
    stream_recoveries: 0, stream_fills: 0, stream_failures: 0, stream_replayed_batches: 0, last_recovery_ms: 0, last_recovery_bytes: 0,
  };
  /** Recent trades and their seqs (a ring of recent_trades_max); every trade with a seq above trades_complete_after_seq is in it. */
  private readonly recent_trades: TradeRec[] = [];
  private readonly recent_trade_seqs: number[] = [];
  private recent_trades_start = 0;
  private trades_complete_after_seq = 0;
  /** Nothing live heard from the engine for engine_silence_ms_max while the book is live (served as the last the stream has). */
  engine_silent = false;
  last_recovery_source: RecoverySource = 'none';

  private readonly reader = new EventBatchReader();
  private readonly event = new_book_event();
  /** Live batches that arrived while recovering or filling, in order. */
  private buffer: { bytes: Uint8Array; ts_ingest_ns: number }[] = [];
  private reset_reason: ResetReason = 'start';
  /** The epoch the book had when the reset began: a different one after it is a new epoch for the views. */
  private reset_from_epoch = 0;
  /** A fill of the live book is running (live batches go to the buffer meanwhile). */
  private filling = false;
  private recovery_running = false;
  /** Batches applied now come from the stream, not the live path (no latency sample: they are old). */
  private replaying = false;
  /** Ends the current retry pause early (the bus came back, or stop). */
  private wake: (() => void) | null = null;
  /** When the last live bus message for this symbol arrived (ms since 1970). */
  private last_heard_ms = Date.now();
  /** A live bus message for this symbol has arrived since this feed started. */
  private heard_live = false;
  private stopped = false;
  private readonly stream: EventStream | null;
  /** The stream has answered with a snapshot at least once: a fill is worth trying (a server without JetStream never does). */
  private stream_answered = false;
  private readonly engine_silence_ms_max: number;

  constructor(
    readonly symbol: string,
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    private readonly hooks: SymbolFeedHooks,
    private readonly snapshot_timeout_ms: number,
    recovery: RecoveryOptions = {},
  ) {
    this.instrument = { symbol, tick_size: '1', lot_size: '1', price_decimals: 0, size_decimals: 0 };
    this.stream = recovery.stream ?? null;
    this.engine_silence_ms_max = recovery.engine_silence_ms_max ?? 5000;
  }

  start(): void {
    this.run_recovery();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /**
   * The bus connection dropped: events may be lost in the outage, and a quiet
   * symbol would not reveal the gap until its next event. With a stream the
   * book is filled from it once the bus is back (views keep their state; past
   * engine_silence_ms_max it becomes a reset). Without one the symbol recovers
   * from the engine now (the request retries until the bus is back), so
   * clients see Recovering instead of a book that silently stopped.
   */
  upstream_lost(): void {
    if (this.state !== 'live' || this.stopped) return;
    if (this.stream_answered) this.begin_fill('upstream_lost');
    else this.begin_recovery('upstream_lost');
  }

  /** The bus is back: retry at once rather than at the next pause's end. */
  upstream_back(): void {
    this.wake?.();
  }

  /**
   * The engine sends a batch or a heartbeat at least every heartbeat interval
   * per symbol. Hearing nothing for silence_ms_max means the engine (or our
   * route to it) is gone. With a stream: fill from it (our route may be what
   * failed); if the engine is still silent, say so (engine_silent) and keep
   * serving the last book. Without one: recovering, so clients see that state
   * rather than a book that silently stopped moving.
   */
  check_silence(now_ms: number, silence_ms_max: number): void {
    if (this.state !== 'live' || this.stopped || this.engine_silent || this.filling) return;
    if (now_ms - this.last_heard_ms <= silence_ms_max) return;
    log.warn({ symbol: this.symbol, silent_ms: now_ms - this.last_heard_ms }, 'nothing from the engine (no batch, no heartbeat)');
    if (this.stream_answered) this.begin_fill('engine_silent');
    else this.begin_recovery('engine_silent');
  }

  /** A bus message on this symbol's events subject. `bytes` is only read during the call. */
  on_message(bytes: Uint8Array, ts_ingest_ns: number): void {
    this.last_heard_ms = Date.now();
    this.heard_live = true;
    this.stats.messages++;
    if (this.engine_silent) {
      this.engine_silent = false;
      log.info({ symbol: this.symbol }, 'the engine is heard again');
      if (this.state === 'live') this.hooks.on_state(this);
    }
    if (this.state === 'recovering' || this.filling) {
      if (this.buffer.length >= recovery_buffer_batches_max) this.buffer.shift();
      this.buffer.push({ bytes: bytes.slice(), ts_ingest_ns });
      return;
    }
    const outcome = this.apply_batch(bytes, ts_ingest_ns);
    if (outcome !== 'ok' && outcome !== 'skipped') {
      if (outcome === 'gap' && this.stream_answered) this.begin_fill('gap');
      else this.begin_recovery(outcome);
      // The batch that revealed the break may be the first of the new stream.
      this.buffer.push({ bytes: bytes.slice(), ts_ingest_ns });
    }
  }

  /** Applies a batch to a live book; returns why continuity broke, if it did. */
  private apply_batch(bytes: Uint8Array, ts_ingest_ns: number): BatchOutcome {
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
      if (ev.kind === event_execute) this.record_trade(ev.seq, ev.trade_id, ev.price, ev.qty, ev.ts_engine_ns, ev.aggressor);
      if (ev.flags & flag_end_of_engine_event) {
        this.committed_seq = ev.seq;
        this.versions++;
        committed = true;
      }
    }
    this.ts_ingest_ns = ts_ingest_ns;
    if (!this.replaying) this.hooks.on_batch_applied(ts_ingest_ns - this.ts_engine_ns, r.count - first);
    if (committed) this.hooks.on_commit(this);
    return 'ok';
  }

  private record_trade(seq: number, trade_id: number, price: number, size: number, ts_engine_ns: number, aggressor: Side): void {
    // Several makers can fill at one price in one sweep; each is a trade of its own.
    this.last_trade_id = trade_id;
    const trade: TradeRec = { trade_id, price, size, ts_engine_ns, aggressor };
    this.remember_trade(seq, trade);
    if (this.pending_trades.length >= pending_trades_max) return; // flushes run every turn; unreachable in practice
    this.pending_trades.push(trade);
  }

  private remember_trade(seq: number, trade: TradeRec): void {
    this.recent_trades.push(trade);
    this.recent_trade_seqs.push(seq);
    if (this.recent_trades.length - this.recent_trades_start > recent_trades_max) {
      this.trades_complete_after_seq = this.recent_trade_seqs[this.recent_trades_start];
      this.recent_trades_start++;
      if (this.recent_trades_start >= recent_trades_max) {
        // Amortized O(1): drop the forgotten half in one splice.
        this.recent_trades.splice(0, this.recent_trades_start);
        this.recent_trade_seqs.splice(0, this.recent_trades_start);
        this.recent_trades_start = 0;
      }
    }
  }

  /**
   * The symbol's trades with a seq in (after_seq, through_seq], in order; null
   * when some of them are no longer remembered (or came before the last reset).
   */
  trades_between(after_seq: number, through_seq: number): TradeRec[] | null {
    if (after_seq < this.trades_complete_after_seq) return null;
    const out: TradeRec[] = [];
    const seqs = this.recent_trade_seqs;
    for (let i = this.recent_trades_start; i < seqs.length; i++) {
      if (seqs[i] > after_seq && seqs[i] <= through_seq) out.push(this.recent_trades[i]);
    }
    return out;
  }

  get is_committed(): boolean {
    return this.applied_seq === this.committed_seq;
  }

  // ---- fill: the live book topped up from the stream, views untouched ----

  private begin_fill(reason: ResetReason): void {
    if (this.filling || this.state !== 'live' || this.stopped) return;
    this.filling = true;
    this.buffer = [];
    log.info({ symbol: this.symbol, reason, epoch: this.epoch, seq: this.applied_seq }, 'filling the book from the stream');
    void this.run_fill(reason);
  }

  private async run_fill(reason: ResetReason): Promise<void> {
    const deadline_ms = Date.now() + this.engine_silence_ms_max;
    let filled = false;
    while (!this.stopped && !filled && Date.now() < deadline_ms) {
      try {
        filled = await this.fill_from_stream();
        if (!filled) break; // the stream cannot continue this book: a reset
      } catch (err) {
        this.stats.stream_failures++;
        // Only a lost bus connection is worth waiting for (it comes back, or the client library moves to another
        // server); any other failure (no JetStream, a stream leader being elected) resets at once, so the views'
        // pause stays short and the engine's request/reply gets its turn.
        if (reason !== 'upstream_lost') break;
        log.warn({ symbol: this.symbol, err: (err as Error).message }, 'stream did not answer a fill; retrying');
        await this.pause(Math.min(500, this.snapshot_timeout_ms));
      }
    }
    this.filling = false;
    if (this.stopped) return;
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

  /** True when the book now continues past everything the stream and the buffer hold; false when only a reset can. */
  private async fill_from_stream(): Promise<boolean> {
    const stream = this.stream as EventStream;
    const stored = await stream.last_snapshot(this.symbol);
    if (stored === null || this.stopped) return false;
    this.stream_answered = true;
    const decoded = decode_engine_reply(stored.data);
    if (decoded.kind !== 'snapshot') return false;
    // Our book must be at or past the snapshot in its epoch: then every batch we lack is stored after it.
    if (decoded.snapshot.epoch !== this.epoch || decoded.snapshot.seq > this.applied_seq || !this.is_committed) return false;
    const outcome = await this.replay_after(stored.stream_seq);
    if (outcome !== 'ok') return false;
    return this.apply_buffer() === 'ok';
  }

  // ---- reset: a new book from the stream, else from the engine ----

  private begin_recovery(reason: ResetReason): void {
    if (this.state === 'recovering') {
      this.run_recovery();
      return;
    }
    this.state = 'recovering';
    this.reset_reason = reason;
    this.reset_from_epoch = this.epoch;
    this.stats.recoveries++;
    // The buffer is kept: a failed fill leaves in it every live batch since the fill began, in order, which the
    // reset needs on top of its snapshot (those at or below it are skipped as duplicates).
    this.pending_trades.length = 0;
    log.warn({ symbol: this.symbol, reason, epoch: this.epoch, seq: this.applied_seq }, 'recovering: the book is rebuilt from a snapshot');
    this.hooks.on_state(this);
    this.run_recovery();
  }

  private run_recovery(): void {
    if (this.recovery_running || this.stopped) return;
    this.recovery_running = true;
    void this.recovery_loop().finally(() => { this.recovery_running = false; });
  }

  /** Until live: the stream first, then the engine; a pause between rounds that got nowhere. */
  private async recovery_loop(): Promise<void> {
    let stream_retries = 0;
    while (!this.stopped && this.state === 'recovering') {
      const started_ms = performance.now();
      if (this.stream !== null) {
        const outcome = await this.recover_from_stream().catch((err: unknown) => {
          this.stats.stream_failures++;
          if (this.stats.stream_failures === 1 || this.stats.stream_failures % 10 === 0) {
            log.warn({ symbol: this.symbol, failures: this.stats.stream_failures, err: (err as Error).message }, 'stream recovery failed');
          }
          return 'failed' as const;
        });
        if (outcome === 'live') {
          this.stats.stream_recoveries++;
          this.finish_reset('stream', started_ms);
          return;
        }
        if (outcome === 'retry' && ++stream_retries <= stream_retries_max) {
          // A new epoch in the stream before its first snapshot (stored right after the engine's start), or a
          // buffer ahead of the stream (replication lag): both resolve within milliseconds.
          await this.pause(stream_retry_pause_ms);
          continue;
        }
        stream_retries = 0;
        if (outcome !== 'failed') this.stats.stream_failures++;
      }
      if (this.stopped) return;
      const outcome = await this.recover_from_engine();
      if (outcome === 'live') {
        this.finish_reset('engine', started_ms);
        return;
      }
      // 'mismatch': the snapshot is older than a gap in our buffer, or a newer engine started: ask again at once.
      if (outcome === 'failed') await this.pause(Math.min(this.snapshot_timeout_ms, 1000));
    }
  }

  private async recover_from_stream(): Promise<'live' | 'retry' | 'no_snapshot' | 'broken'> {
    const stream = this.stream as EventStream;
    const stored = await stream.last_snapshot(this.symbol);
    if (this.stopped) return 'broken';
    if (stored === null) return 'no_snapshot';
    this.stream_answered = true;
    const decoded = decode_engine_reply(stored.data);
    if (decoded.kind !== 'snapshot') return 'broken';
    this.load_snapshot(decoded.snapshot);
    this.stats.last_recovery_bytes = stored.data.byteLength;
    const replayed = await this.replay_after(stored.stream_seq);
    if (replayed === 'new_epoch') return 'retry';
    if (replayed !== 'ok') return 'broken';
    const buffered = this.apply_buffer();
    // A buffer that starts past the stream's end (it lags the live path) or a newer epoch: another round.
    if (buffered === 'gap' || buffered === 'new_epoch') return 'retry';
    return buffered === 'ok' ? 'live' : 'broken';
  }

  /** One snapshot request to the engine; on a reply the book is loaded and the buffer applied on top. */
  private async recover_from_engine(): Promise<'live' | 'mismatch' | 'failed'> {
    this.stats.snapshot_requests++;
    let snap: L2Snapshot;
    let bytes: number;
    try {
      const reply = await this.bus.request(this.subjects.snapshot(this.symbol), new Uint8Array(0), this.snapshot_timeout_ms);
      const decoded = decode_engine_reply(reply);
      if (decoded.kind !== 'snapshot') {
        throw new Error(decoded.kind === 'error' ? `engine refused: ${decoded.message} (code ${decoded.code})` : 'unexpected reply');
      }
      snap = decoded.snapshot;
      bytes = reply.byteLength;
    } catch (err) {
      this.stats.snapshot_failures++;
      // Engine not up yet, NATS away, or a reply we cannot read: ask again later.
      if (!this.stopped && (this.stats.snapshot_failures === 1 || this.stats.snapshot_failures % 10 === 0)) {
        log.warn({ symbol: this.symbol, failures: this.stats.snapshot_failures, err: (err as Error).message }, 'snapshot request failed; retrying');
      }
      return 'failed';
    }
    if (this.stopped || this.state !== 'recovering') return 'failed';
    this.load_snapshot(snap);
    this.stats.last_recovery_bytes = bytes;
    const outcome = this.apply_buffer();
    if (outcome === 'gap' || outcome === 'new_epoch' || outcome === 'bad_event') {
      log.info({ symbol: this.symbol, outcome }, 'buffered events do not continue the snapshot; requesting another');
      return 'mismatch';
    }
    return 'live';
  }

  private load_snapshot(snap: L2Snapshot): void {
    // Trades before the snapshot are not ours to report: a resume from before it gets a Snapshot.
    this.recent_trades.length = 0;
    this.recent_trade_seqs.length = 0;
    this.recent_trades_start = 0;
    this.trades_complete_after_seq = snap.seq;
    this.book.load(snap.bids, snap.asks);
    this.book.take_changes(); // views restart from the whole book, not from a change list
    this.instrument = snap.instrument;
    this.epoch = snap.epoch;
    this.applied_seq = snap.seq;
    this.committed_seq = snap.seq;
    this.last_trade_id = snap.last_trade_id;
    this.ts_engine_ns = snap.ts_engine_ns;
  }

  /** Batches of the stream after `after_stream_seq`, applied in order; the first outcome that breaks continuity. */
  private async replay_after(after_stream_seq: number): Promise<BatchOutcome> {
    const stream = this.stream as EventStream;
    let outcome: BatchOutcome = 'ok';
    this.replaying = true;
    try {
      const result = await stream.replay(this.symbol, after_stream_seq, (data) => {
        if (this.stopped) return false;
        const o = this.apply_batch(data, now_ns());
        if (o !== 'ok' && o !== 'skipped') {
          outcome = o;
          return false;
        }
        return true;
      }, this.snapshot_timeout_ms);
      this.stats.stream_replayed_batches += result.batches;
      this.stats.last_recovery_bytes += result.bytes;
    } finally {
      this.replaying = false;
    }
    return outcome;
  }

  /** Applies the buffered live batches (those at or below our seq are duplicates); what is left after a break stays buffered. */
  private apply_buffer(): BatchOutcome {
    const buffered = this.buffer;
    this.buffer = [];
    for (let k = 0; k < buffered.length; k++) {
      const outcome = this.apply_batch(buffered[k].bytes, buffered[k].ts_ingest_ns);
      if (outcome !== 'ok' && outcome !== 'skipped') {
        this.buffer = buffered.slice(k).concat(this.buffer);
        return outcome;
      }
    }
    return 'ok';
  }

  private finish_reset(source: RecoverySource, started_ms: number): void {
    const epoch_changed = this.epoch !== this.reset_from_epoch;
    this.committed_seq = this.applied_seq; // replayed batches end at engine-event boundaries
    this.pending_trades.length = 0; // trades before and inside the snapshot are history, not news
    this.book.take_changes();
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
    this.hooks.on_reset(this, reason);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
