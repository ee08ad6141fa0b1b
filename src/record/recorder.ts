// `depthcast record`: the engine's event stream, as published on the bus
// (subject, payload, receive time), into a recording directory (writer.ts,
// docs/RECORDING.md). Subscribes through the Bus interface only.
//
// Besides the batches it writes book snapshots, so a recording can be read
// from more places than its first byte:
//   - the engine's snapshot reply, whenever its own copy of a book is not
//     continuous (first sight of a symbol, a gap, a new epoch mid-stream);
//   - a checkpoint (every book it holds, the first one indexed) at each new
//     segment and every --record-checkpoint-interval-ms: replay and book-at
//     start at the last checkpoint before their time, and a segment can be
//     read alone after older ones were deleted.
// Cost per batch: one record encode and the events applied to the recorder's
// own L2Book (book_tracker.ts); a checkpoint encodes every book in full.

import type { Bus, BusSubscription } from '../bus/bus.js';
import { Subjects } from '../bus/subjects.js';
import type { Config } from '../config.js';
import { now_ns } from '../util/clock.js';
import { logger_for } from '../util/log.js';
import { decode_engine_reply, encode_snapshot_reply } from '../wire/engine_codec.js';
import { BookTracker } from './book_tracker.js';
import { RecordingWriter, type WriterStats } from './writer.js';

const log = logger_for('record');
/** Pause before asking the engine again after a failed snapshot request. */
const snapshot_retry_ms = 1000;

export interface RecorderStats extends WriterStats {
  batches: number;
  bad_batches: number;
  snapshots_requested: number;
  snapshot_failures: number;
  checkpoints: number;
}

export interface RecorderHandle {
  readonly dir: string;
  stats(): RecorderStats;
  /** Writes a checkpoint now (tests; the timer does it otherwise). */
  checkpoint(): void;
  /** Unsubscribes, writes what is buffered and closes the files. */
  stop(): Promise<void>;
}

export type RecorderConfig = Pick<Config, 'subject_prefix' | 'recording_dir' | 'record_segment_bytes_max' | 'record_segment_age_s_max'
  | 'record_bytes_max' | 'record_checkpoint_interval_ms' | 'snapshot_timeout_ms'>;

export function start_recorder(config: Readonly<RecorderConfig>, bus: Bus, clock_ns: () => number = now_ns): RecorderHandle {
  const subjects = new Subjects(config.subject_prefix);
  const tracker = new BookTracker();
  const counts = { batches: 0, bad_batches: 0, snapshots_requested: 0, snapshot_failures: 0, checkpoints: 0 };
  const asking = new Set<string>();
  let stopped = false;

  const checkpoint = (): void => {
    let first = true;
    for (const b of tracker.books.values()) {
      const snap = b.snapshot();
      if (snap === null) continue;
      // The writer is the caller here at a segment start, so this never rotates again.
      writer.append(subjects.book(b.symbol), encode_snapshot_reply(snap), clock_ns(), first);
      first = false;
    }
    if (!first) counts.checkpoints++;
  };
  const writer = new RecordingWriter(config.recording_dir, {
    segment_bytes_max: config.record_segment_bytes_max,
    segment_age_ms_max: config.record_segment_age_s_max * 1000,
    recording_bytes_max: config.record_bytes_max,
  }, checkpoint, () => clock_ns() / 1e6);

  const ask_snapshot = (symbol: string): void => {
    if (stopped || asking.has(symbol)) return;
    asking.add(symbol);
    counts.snapshots_requested++;
    bus.request(subjects.snapshot(symbol), new Uint8Array(0), config.snapshot_timeout_ms).then((reply) => {
      const decoded = decode_engine_reply(reply);
      if (decoded.kind !== 'snapshot') throw new Error(decoded.kind === 'error' ? decoded.message : 'unexpected reply');
      asking.delete(symbol);
      if (stopped) return;
      writer.append(subjects.book(symbol), reply, clock_ns());
      tracker.on_snapshot(decoded.snapshot);
      if (!tracker.book(symbol).synced) ask_snapshot(symbol); // the batches kept meanwhile did not continue it
    }).catch((err: unknown) => {
      counts.snapshot_failures++;
      if (counts.snapshot_failures === 1 || counts.snapshot_failures % 10 === 0) {
        log.warn({ symbol, failures: counts.snapshot_failures, err: (err as Error).message }, 'snapshot request failed; retrying');
      }
      setTimeout(() => { asking.delete(symbol); if (!tracker.book(symbol).synced) ask_snapshot(symbol); }, snapshot_retry_ms).unref();
    });
  };

  const subscription: BusSubscription = bus.subscribe(subjects.events_all, (data, subject) => {
    if (stopped) return;
    writer.append(subject, data, clock_ns());
    counts.batches++;
    let symbol: string;
    try {
      tracker.on_batch(data);
      symbol = tracker.last_batch.symbol;
    } catch (err) {
      // Recorded as published all the same: readers skip what they cannot read.
      counts.bad_batches++;
      if (counts.bad_batches === 1) log.warn({ subject, err: (err as Error).message }, 'malformed batch recorded as is');
      return;
    }
    const b = tracker.book(symbol);
    if (!b.synced || b.instrument === null) ask_snapshot(symbol);
  });
  const checkpoint_timer = setInterval(checkpoint, config.record_checkpoint_interval_ms);
  log.info({ dir: config.recording_dir, subjects: subjects.events_all }, 'recording');

  return {
    dir: config.recording_dir,
    stats: () => ({ ...writer.stats, ...counts }),
    checkpoint,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(checkpoint_timer);
      subscription.unsubscribe();
      writer.close();
      log.info({ ...writer.stats, ...counts }, 'recording stopped');
    },
  };
}
