// Recovery of one symbol's book (SymbolFeed, symbol_feed.ts): the *fill* that
// tops a live book up from the durable stream, and the *reset* that rebuilds
// it from a snapshot, from the stream, else from the engine. It holds the
// live batches that arrive meanwhile and applies them on top.
//
// When the bus has a durable stream (bus/event_stream.ts) that has answered once:
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
// - A reset served by the engine while the stream had never answered (a feed
//   started before the engine stored its first snapshot, or while the stream
//   had no leader) leaves a *probe*: the stream's latest snapshot is asked for
//   again after 1 s, then at doubling intervals up to 30 s, until it answers;
//   from then on a gap is filled, not reset.
//
// Division of work: SymbolFeed decides when (its state, the reasons, what the
// views are told) and owns the book; this runs the rounds and the I/O, and
// reads and writes the book only through RecoveryHooks (recovering,
// continues_from, apply_batch, load_snapshot): it holds no pointer back to
// its SymbolFeed, and imports nothing of it.
//
// Cost: a fill or reset from the stream is two JetStream round trips plus the
// batches since the last stored snapshot (--stream-snapshot-interval-ms of
// them while the engine runs); a copy of each live batch held meanwhile
// (at most recovery_buffer_batches_max). Nothing on the live path. A probe is
// one direct get per symbol; on a server without JetStream it settles at one
// per symbol every 30 s.
//
// Invariants: at most one fill and one reset loop run at a time; after stop()
// no round starts and no hook is called for a fill; the buffer keeps the
// live batches in arrival order.

import type { L2Snapshot } from '../book/types.js';
import type { Bus } from '../bus/bus.js';
import type { EventStream } from '../bus/event_stream.js';
import type { Subjects } from '../bus/subjects.js';
import { decode_engine_reply } from '../wire/engine_codec.js';
import { now_ns } from '../util/clock.js';
import { logger_for } from '../util/log.js';
import type { SymbolFeedStats } from './counters.js';
import type { BatchOutcome, RecoverySource, ResetReason } from './feed_types.js';

const log = logger_for('feed.ingest');

/** Batches kept while recovering; past it the oldest go (the replay then re-requests). */
export const recovery_buffer_batches_max = 20_000;
/** Stream rounds that may end in 'retry' (new epoch without its snapshot yet, stream behind the buffer) before the engine is asked. */
const stream_retries_max = 20;
const stream_retry_pause_ms = 50;
/** First probe of a stream that never answered, after a reset from the engine (the engine stores snapshots every ~1 s). */
const stream_probe_first_ms = 1000;
const stream_probe_ms_max = 30_000;

interface HeldBatch {
  readonly bytes: Uint8Array;
  readonly ts_ingest_ns: number;
}
const dropped_batch: HeldBatch = { bytes: new Uint8Array(0), ts_ingest_ns: 0 };

export interface RecoveryOptions {
  /** The durable stream; null = recover from the engine's request/reply alone. */
  stream?: EventStream | null;
  /** Silence after which the engine counts as gone (config engine_silence_ms_max: its one default is there). */
  readonly engine_silence_ms_max: number;
  /** With two bus paths: how long SymbolFeed holds a gap for the other (config path_hold_ms_max); absent or 0: never. */
  readonly path_hold_ms_max?: number;
}

/** What recovery asks of its SymbolFeed (closures made once, at construction): it reads and writes the book only through these. */
export interface RecoveryHooks {
  /** The symbol is being rebuilt (a reset loop runs while it is). */
  recovering(): boolean;
  /** The book is at a commit point of `epoch` at or past `seq`: a fill from a snapshot at (epoch, seq) continues it. */
  continues_from(epoch: number, seq: number): boolean;
  /** Applies one batch to the book; `replaying`: it comes from the stream (no latency sample: it is old). */
  apply_batch(bytes: Uint8Array, ts_ingest_ns: number, replaying: boolean): BatchOutcome;
  load_snapshot(snap: L2Snapshot): void;
  /** The reset made the book whole from `source`: the symbol goes live. */
  reset_done(source: RecoverySource, started_ms: number): void;
  /** A fill ended (never after stop()): the book continues past the stream, or only a reset can help. */
  fill_done(reason: ResetReason, filled: boolean): void;
}

export class SymbolRecovery {
  /** A fill of the live book is running (live batches go to the buffer meanwhile). */
  filling = false;
  /** The stream has answered with a snapshot at least once: a fill is worth trying (a server without JetStream never does). */
  stream_answered = false;
  /** Live batches that arrived while recovering or filling, in order: buffer[buffer_head ..] (dropping the oldest moves the head, no shift). */
  private buffer: HeldBatch[] = [];
  private buffer_head = 0;
  private recovery_running = false;
  /** Ends the current retry pause early (the bus came back, or stop). */
  private wake: (() => void) | null = null;
  private stopped = false;
  /** The pending probe of a stream that has not answered yet (schedule_stream_probe). */
  private probe_timer: ReturnType<typeof setTimeout> | null = null;
  private probe_delay_ms = stream_probe_first_ms;
  private readonly stream: EventStream | null;
  private readonly engine_silence_ms_max: number;

  constructor(
    private readonly symbol: string,
    private readonly stats: SymbolFeedStats,
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    private readonly snapshot_timeout_ms: number,
    options: RecoveryOptions,
    private readonly hooks: RecoveryHooks,
  ) {
    this.stream = options.stream ?? null;
    this.engine_silence_ms_max = options.engine_silence_ms_max;
  }

  stop(): void {
    this.stopped = true;
    if (this.probe_timer !== null) clearTimeout(this.probe_timer);
    this.probe_timer = null;
    this.wake?.();
  }

  /** The bus is back (or the feed stops): end the current pause now. */
  wake_up(): void {
    this.wake?.();
  }

  /** A live batch that arrived while recovering or filling; `bytes` is copied. */
  hold(bytes: Uint8Array, ts_ingest_ns: number): void {
    if (this.buffer.length - this.buffer_head >= recovery_buffer_batches_max) {
      this.buffer[this.buffer_head++] = dropped_batch;
      // Compacted once per recovery_buffer_batches_max drops: O(1) per batch held (a shift moved all 20,000 each time).
      if (this.buffer_head >= recovery_buffer_batches_max) this.buffer = this.take_buffer();
    }
    this.buffer.push({ bytes: bytes.slice(), ts_ingest_ns });
  }

  /** The held batches in order, from now on no longer held. */
  private take_buffer(): HeldBatch[] {
    const held = this.buffer_head === 0 ? this.buffer : this.buffer.slice(this.buffer_head);
    this.buffer = [];
    this.buffer_head = 0;
    return held;
  }

  // ---- fill: the live book topped up from the stream, views untouched ----

  /** The caller checked that the book is live and no fill runs. */
  begin_fill(reason: ResetReason, epoch: number, seq: number): void {
    this.filling = true;
    // The buffer is empty, or holds what a gap held for the other path kept: applied after the stream's batches.
    log.info({ symbol: this.symbol, reason, epoch, seq }, 'filling the book from the stream');
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
    this.hooks.fill_done(reason, filled);
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
    if (!this.hooks.continues_from(decoded.snapshot.epoch, decoded.snapshot.seq)) return false;
    const outcome = await this.replay_after(stored.stream_seq);
    if (outcome !== 'ok') return false;
    return this.apply_buffer() === 'ok';
  }

  /** Until live (SymbolFeed.reset_done): the stream first, then the engine; a pause between rounds that got nowhere. */
  run_reset(): void {
    if (this.recovery_running || this.stopped) return;
    this.recovery_running = true;
    void this.recovery_loop().finally(() => { this.recovery_running = false; });
  }

  private async recovery_loop(): Promise<void> {
    let stream_retries = 0;
    while (!this.stopped && this.hooks.recovering()) {
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
          this.hooks.reset_done('stream', started_ms);
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
        this.schedule_stream_probe();
        this.hooks.reset_done('engine', started_ms);
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
    this.hooks.load_snapshot(decoded.snapshot);
    this.stats.last_recovery_bytes = stored.data.byteLength;
    const replayed = await this.replay_after(stored.stream_seq);
    if (replayed === 'new_epoch') return 'retry';
    if (replayed !== 'ok') return 'broken';
    const buffered = this.apply_buffer();
    // A buffer that starts past the stream's end (it lags the live path) or a newer epoch: another round.
    if (buffered === 'gap' || buffered === 'new_epoch') return 'retry';
    return buffered === 'ok' ? 'live' : 'broken';
  }

  /**
   * With a stream that has never answered: ask it for the latest snapshot a
   * little later, and again at doubling intervals, until it has one
   * (stream_answered: the next gap is filled from it, not reset).
   */
  private schedule_stream_probe(): void {
    if (this.stream === null || this.stream_answered || this.stopped || this.probe_timer !== null) return;
    this.probe_timer = setTimeout(() => {
      this.probe_timer = null;
      void this.probe_stream();
    }, this.probe_delay_ms);
    this.probe_timer.unref?.();
  }

  private async probe_stream(): Promise<void> {
    const stream = this.stream as EventStream;
    try {
      const stored = await stream.last_snapshot(this.symbol);
      if (this.stopped || this.stream_answered) return;
      if (stored !== null) {
        this.stream_answered = true;
        log.info({ symbol: this.symbol }, 'the stream holds a snapshot now: gaps will be filled from it');
        return;
      }
    } catch {
      // No JetStream on this server, or no stream leader yet: ask again later.
    }
    this.probe_delay_ms = Math.min(this.probe_delay_ms * 2, stream_probe_ms_max);
    this.schedule_stream_probe();
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
    if (this.stopped || !this.hooks.recovering()) return 'failed';
    this.hooks.load_snapshot(snap);
    this.stats.last_recovery_bytes = bytes;
    const outcome = this.apply_buffer();
    if (outcome === 'gap' || outcome === 'new_epoch' || outcome === 'bad_event') {
      log.info({ symbol: this.symbol, outcome }, 'buffered events do not continue the snapshot; requesting another');
      return 'mismatch';
    }
    return 'live';
  }

  /** Batches of the stream after `after_stream_seq`, applied in order; the first outcome that breaks continuity. */
  private async replay_after(after_stream_seq: number): Promise<BatchOutcome> {
    const stream = this.stream as EventStream;
    let outcome: BatchOutcome = 'ok';
    const result = await stream.replay(this.symbol, after_stream_seq, (data) => {
      if (this.stopped) return false;
      const o = this.hooks.apply_batch(data, now_ns(), true);
      if (o !== 'ok' && o !== 'skipped') {
        outcome = o;
        return false;
      }
      return true;
    }, this.snapshot_timeout_ms);
    this.stats.stream_replayed_batches += result.batches;
    this.stats.last_recovery_bytes += result.bytes;
    return outcome;
  }

  /**
   * A gap held for the other path (path_hold.ts) was filled: applies the held batches that continue the book, in
   * seq order whatever order they came in; 'gap' (the rest still held) while something is missing, or another break.
   */
  apply_held(): BatchOutcome {
    let pending = this.take_buffer();
    for (;;) {
      const waiting: HeldBatch[] = [];
      let progressed = false;
      for (let k = 0; k < pending.length; k++) {
        const outcome = this.hooks.apply_batch(pending[k].bytes, pending[k].ts_ingest_ns, false);
        if (outcome === 'ok') progressed = true;
        else if (outcome === 'gap') waiting.push(pending[k]);
        else if (outcome !== 'skipped') {
          this.buffer = waiting.concat(pending.slice(k + 1));
          return outcome;
        }
      }
      if (waiting.length === 0) return 'ok';
      if (!progressed) {
        this.buffer = waiting;
        return 'gap';
      }
      pending = waiting;
    }
  }

  /** Applies the buffered live batches (those at or below our seq are duplicates); what is left after a break stays buffered. */
  private apply_buffer(): BatchOutcome {
    const buffered = this.take_buffer();
    for (let k = 0; k < buffered.length; k++) {
      const outcome = this.hooks.apply_batch(buffered[k].bytes, buffered[k].ts_ingest_ns, false);
      if (outcome !== 'ok' && outcome !== 'skipped') {
        this.buffer = buffered.slice(k).concat(this.take_buffer());
        return outcome;
      }
    }
    return 'ok';
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
