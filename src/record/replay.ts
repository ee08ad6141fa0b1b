// `depthcast replay`: a recording onto the bus, so feeds, the page, the SDK
// and loadgen see it as they see the engine. It plays the engine's part
// fully: batches on <prefix>.events.<SYMBOL>, snapshot and instrument
// requests answered (from books rebuilt with book_tracker.ts), a heartbeat
// per quiet symbol, and its own state on <prefix>.replay (JSON, once a
// second: the page shows speed and replayed time; feed/replay_status.ts).
//
// Epochs and seqs: the first pass publishes the recorded (epoch, seq), so a
// replayed book at (epoch, seq) is the one the engine had there, and a seek
// (--from) is only a jump forward in seq, which feeds handle as a gap. Every
// later pass (--loop) goes back in time, so each recorded epoch gets a new
// epoch, above any published before (feeds treat that as a restart).
// Timestamps move to the replay's clock (each batch shifted by now − its
// receive time), so hop latencies stay those of the recording plus the
// replay's own; the replayed time itself is in the status.
//
// Pace: a record is due at start + (its receive time − the first one's) /
// speed. At 'max' it goes as soon as the feed has taken the previous chunk:
// after --replay-chunk-events-max events the replay yields to the event loop
// (the embedded feed runs) and, on NATS, waits for the server's flush.
// Cost per batch: one read, the events applied to the book and re-encoded.

import type { Bus, BusSubscription } from '../bus/bus.js';
import { Subjects } from '../bus/subjects.js';
import { new_book_event, type L2Snapshot } from '../book/types.js';
import { now_ns } from '../util/clock.js';
import { new_epoch } from '../util/epoch.js';
import { logger_for } from '../util/log.js';
import {
  decode_engine_reply, encode_engine_error, encode_heartbeat_batch, encode_instruments_reply, encode_snapshot_reply, engine_error_code,
  EventBatchEncoder,
} from '../wire/engine_codec.js';
import { BookTracker } from './book_tracker.js';
import type { DecodedRecord } from './format.js';
import { RecordingReader, list_segments, start_point, type SegmentInfo } from './reader.js';

const log = logger_for('replay');
const status_interval_ms = 1000;
/** Longest sleep while waiting for a record's time: timers and requests run meanwhile anyway. */
const sleep_ms_max = 100;
/** Pause between two passes of a looping replay, so that feeds show the end of one before the next epoch. */
const pass_gap_ms = 100;
/** prime() reads at most this much recording past the start for every symbol's first complete book. */
const prime_window_ns = 10e9;

export interface ReplayOptions {
  recording_dir: string;
  subject_prefix: string;
  speed: number | 'max';
  /** ns since 1970; undefined = the recording's start / end. */
  from_ns?: number;
  to_ns?: number;
  loop: boolean;
  chunk_events_max: number;
  heartbeat_interval_ms: number;
}

export interface ReplayStatus {
  state: 'starting' | 'ready' | 'playing' | 'ended';
  speed: number | 'max';
  /** Receive time of the last record replayed (ms since 1970); 0 before the first. */
  replayed_time_ms: number;
  pass: number;
  loop: boolean;
  from_ms: number | null;
  to_ms: number | null;
  events: number;
  batches: number;
  /** Events per second of wall time in this pass. */
  events_per_s: number;
  torn_tails: number;
}

export interface ReplayHandle {
  status(): ReplayStatus;
  /** The symbols the recording holds (read from its first checkpoint or batches). */
  readonly symbols: string[];
  /**
   * Starts playing (idempotent). Until then the replay is 'ready': its books
   * stand at the start, snapshot requests are answered and quiet symbols get
   * heartbeats, so feeds go live at the start and miss nothing of the play.
   * Resolves when the last pass ends (never while looping) or on stop.
   */
  play(): Promise<void>;
  stop(): Promise<void>;
}

/** The symbols of a recording: those of its batches and snapshots within its first 10000 records. */
export function recording_symbols(segments: readonly SegmentInfo[]): string[] {
  const symbols = new Set<string>();
  let n = 0;
  for (const r of new RecordingReader(segments).records()) {
    const dot = r.subject.lastIndexOf('.');
    if (dot > 0) symbols.add(r.subject.slice(dot + 1));
    if (++n >= 10_000) break;
  }
  return [...symbols].sort();
}

export function start_replay(options: Readonly<ReplayOptions>, bus: Bus, clock_ns: () => number = now_ns): ReplayHandle {
  const segments = list_segments(options.recording_dir);
  const symbols = recording_symbols(segments);
  const subjects = new Subjects(options.subject_prefix);
  const reader = new RecordingReader(segments);
  let tracker = new BookTracker();
  /** Recorded epoch → published epoch in this pass (the first pass: itself). */
  let epochs = new Map<number, number>();
  let pass = 0;
  const published_epoch = (e: number): number => {
    if (pass === 0) return e;
    let p = epochs.get(e);
    if (p === undefined) epochs.set(e, p = new_epoch());
    return p;
  };
  let shift_ns = 0;
  const last_publish_ms = new Map<string, number>();
  const status: ReplayStatus = {
    state: 'starting', speed: options.speed, replayed_time_ms: 0, pass: 0, loop: options.loop,
    from_ms: options.from_ns === undefined ? null : options.from_ns / 1e6, to_ms: options.to_ns === undefined ? null : options.to_ns / 1e6,
    events: 0, batches: 0, events_per_s: 0, torn_tails: 0,
  };
  let stopped = false;
  let pass_started_ms = 0;
  let pass_events = 0;

  const published_snapshot = (symbol: string): L2Snapshot | null => {
    const snap = tracker.books.get(symbol)?.snapshot() ?? null;
    return snap === null ? null : { ...snap, epoch: published_epoch(snap.epoch), ts_engine_ns: snap.ts_engine_ns + shift_ns };
  };
  const serving: BusSubscription[] = [
    bus.serve(subjects.snapshot_all, (_data, subject) => {
      const symbol = subjects.symbol_of(subject);
      if (!symbols.includes(symbol)) return encode_engine_error(engine_error_code.unknown_symbol, `unknown symbol '${symbol.slice(0, 64)}'; the recording holds ${symbols.join(', ')}`);
      const snap = published_snapshot(symbol);
      // Before the first checkpoint of the symbol is read: the feed asks again.
      return snap === null ? encode_engine_error(engine_error_code.internal, `replay has no book of ${symbol} yet; retry`) : encode_snapshot_reply(snap);
    }),
    bus.serve(subjects.instruments, () => encode_instruments_reply(
      [...tracker.books.values()].flatMap((b) => (b.instrument === null ? [] : [b.instrument])), published_epoch(last_epoch_seen()))),
  ];
  const last_epoch_seen = (): number => Math.max(0, ...[...tracker.books.values()].map((b) => b.epoch));

  const heartbeat_timer = setInterval(() => {
    const now_ms = Date.now();
    for (const b of tracker.books.values()) {
      if (!b.synced || now_ms - (last_publish_ms.get(b.symbol) ?? 0) < options.heartbeat_interval_ms) continue;
      bus.publish(subjects.events(b.symbol), encode_heartbeat_batch(b.symbol, published_epoch(b.epoch), b.seq + 1, clock_ns()));
      last_publish_ms.set(b.symbol, now_ms);
    }
  }, options.heartbeat_interval_ms);
  const publish_status = (): void => {
    bus.publish(subjects.replay, new TextEncoder().encode(JSON.stringify(status)));
  };
  const status_timer = setInterval(publish_status, status_interval_ms);

  const encoder = new EventBatchEncoder();
  const ev = new_book_event();
  /** Re-encodes the tracker's last batch with the published epoch and shifted times, and publishes it. */
  const publish_batch = (): number => {
    const r = tracker.last_batch;
    const epoch = published_epoch(r.epoch);
    const now = clock_ns();
    let bytes: Uint8Array;
    if (r.count === 0) {
      bytes = encode_heartbeat_batch(r.symbol, epoch, r.seq_first, r.ts_publish_ns + shift_ns);
    } else {
      encoder.begin(r.symbol, epoch);
      for (let i = 0; i < r.count; i++) {
        r.event(i, ev);
        ev.ts_engine_ns += shift_ns;
        encoder.add(ev);
      }
      bytes = encoder.finish(Math.min(now, r.ts_publish_ns + shift_ns));
    }
    bus.publish(subjects.events(r.symbol), bytes);
    last_publish_ms.set(r.symbol, Date.now());
    return r.count;
  };

  const yield_to_feed = async (): Promise<void> => {
    if (bus.kind === 'nats') await bus.flush();
    await new Promise<void>((resolve) => setImmediate(resolve));
  };

  /** Applies one record to the books; true for a batch that can be published. */
  const apply = (subject: string, payload: Uint8Array): boolean => {
    if (subject.includes('.events.')) {
      try {
        tracker.on_batch(payload);
        return true;
      } catch {
        return false; // a malformed batch was recorded as published; the feed would have refused it too
      }
    }
    if (subject.includes('.book.')) {
      const decoded = safe_decode(payload);
      if (decoded !== null) tracker.on_snapshot(decoded);
    }
    return false;
  };
  const all_synced = (): boolean => symbols.every((sym) => {
    const b = tracker.books.get(sym);
    return b !== undefined && b.synced && b.instrument !== null;
  });

  let records: Iterator<DecodedRecord> = [][Symbol.iterator]();
  /** The first record to publish, read by prime() (a view: used before the next read). */
  let pending: DecodedRecord | null = null;
  /**
   * Positions the books at the pass's start without publishing: the records
   * before --from, then on until every symbol has a complete book (at most
   * prime_window_ns of recording), so feeds go live at the start and see
   * everything after it.
   */
  const prime = (): void => {
    const from = options.from_ns;
    records = reader.records(from === undefined ? undefined : start_point(segments, from));
    pending = null;
    let window_end_ns = Infinity;
    for (let n = records.next(); !n.done; n = records.next()) {
      const r = n.value;
      if (options.to_ns !== undefined && r.recv_ns > options.to_ns) return;
      if (from === undefined || r.recv_ns >= from) {
        if (window_end_ns === Infinity) window_end_ns = r.recv_ns + prime_window_ns;
        if (all_synced() || r.recv_ns > window_end_ns) {
          pending = r;
          return;
        }
      }
      apply(r.subject, r.payload);
    }
  };

  const play_pass = async (): Promise<void> => {
    let first_recv_ns = -1;
    let wall0_ns = 0;
    let chunk_events = 0;
    for (let record = pending; record !== null; record = next_record()) {
      if (stopped) return;
      if (options.to_ns !== undefined && record.recv_ns > options.to_ns) break;
      // Wait first, apply then: the books (what snapshot replies and heartbeats say) never run ahead of what is published.
      if (record.subject.includes('.events.')) {
        if (first_recv_ns < 0) {
          first_recv_ns = record.recv_ns;
          wall0_ns = clock_ns();
          status.state = 'playing';
        }
        if (options.speed !== 'max') {
          const due_ns = wall0_ns + (record.recv_ns - first_recv_ns) / options.speed;
          for (let wait_ns = due_ns - clock_ns(); wait_ns > 0 && !stopped; wait_ns = due_ns - clock_ns()) {
            chunk_events = 0;
            await sleep(Math.min(sleep_ms_max, Math.max(1, Math.floor(wait_ns / 1e6))));
          }
          if (stopped) return;
        }
      }
      if (!apply(record.subject, record.payload)) continue;
      shift_ns = clock_ns() - record.recv_ns;
      const events = publish_batch();
      status.replayed_time_ms = record.recv_ns / 1e6;
      status.events += events;
      status.batches++;
      pass_events += events;
      chunk_events += events + 1;
      if (chunk_events >= options.chunk_events_max) {
        chunk_events = 0;
        status.events_per_s = pass_events / Math.max(0.001, (Date.now() - pass_started_ms) / 1000);
        await yield_to_feed();
      }
    }
  };
  const next_record = (): DecodedRecord | null => {
    const n = records.next();
    return n.done === true ? null : n.value;
  };

  const run = async (): Promise<void> => {
    for (;;) {
      pass_started_ms = Date.now();
      pass_events = 0;
      log.info({ pass, from_ns: options.from_ns, to_ns: options.to_ns, speed: options.speed }, 'replay pass starts');
      await play_pass();
      status.events_per_s = pass_events / Math.max(0.001, (Date.now() - pass_started_ms) / 1000);
      status.torn_tails = reader.stats.torn_tails;
      if (stopped || !options.loop) break;
      // The pass's last batches reach the feeds (and their clients) before the next pass's new epoch
      // replaces the books: without the gap both can land in one flush and the pass's end is never shown.
      await yield_to_feed();
      await sleep(pass_gap_ms);
      if (stopped) break;
      pass++;
      status.pass = pass;
      epochs = new Map();
      tracker = new BookTracker();
      prime();
    }
    status.state = 'ended';
    publish_status();
    log.info({ ...status }, 'replay ended');
  };
  prime();
  status.state = 'ready';
  let done: Promise<void> | null = null;
  const play = (): Promise<void> => {
    done ??= run().catch((err: unknown) => {
      log.error({ err: (err as Error).stack ?? String(err) }, 'replay failed');
      status.state = 'ended';
    });
    return done;
  };

  return {
    symbols,
    status: () => ({ ...status }),
    play,
    async stop() {
      stopped = true;
      await done;
      clearInterval(heartbeat_timer);
      clearInterval(status_timer);
      for (const s of serving) s.unsubscribe();
    },
  };
}

function safe_decode(payload: Uint8Array): L2Snapshot | null {
  try {
    const d = decode_engine_reply(payload);
    return d.kind === 'snapshot' ? d.snapshot : null;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
