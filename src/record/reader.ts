// Reads a recording directory (format.ts) in order: its segments oldest
// first, each from its start or from an index entry (a checkpoint), record by
// record. A torn tail ends that segment's records (counted, logged once) and
// reading goes on with the next segment; nothing before the tear is lost.
//
// Cost: one read buffer (grown to the largest record, at least 1 MiB) reused
// for every segment; a record's payload is a view into it, valid until the
// next record is read. Files are read with synchronous reads in chunks: the
// reader is for the replay and book-at commands, which own their process.

import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { logger_for } from '../util/log.js';
import {
  decode_index, decode_record, header_bytes, header_problem, index_suffix, record_body_bytes_max, record_prefix_bytes, segment_magic,
  segment_start_ms, type DecodedRecord,
} from './format.js';

const log = logger_for('record');
const chunk_bytes = 1024 * 1024;

export class RecordingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordingError';
  }
}

export interface SegmentInfo {
  path: string;
  start_ms: number;
}

/** The segments of a recording directory, oldest first; throws RecordingError when there are none. */
export function list_segments(dir: string): SegmentInfo[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new RecordingError(`cannot read recording directory '${dir}': ${(err as Error).message}`);
  }
  const segments = names.flatMap((name) => {
    const start_ms = segment_start_ms(name);
    return start_ms === undefined ? [] : [{ path: join(dir, name), start_ms }];
  }).sort((a, b) => (a.path < b.path ? -1 : 1));
  if (segments.length === 0) throw new RecordingError(`'${dir}' holds no recording segments (seg-*.dcrec)`);
  return segments;
}

export interface StartPoint { segment: number; offset: number }

/**
 * Where to start reading to know every book at `time_ns`: the last checkpoint
 * (index entry) at or before it whose record is intact, else the start of the
 * recording. (An index is written after its segment's data, but a crash can
 * leave entries pointing into a torn tail: those are passed over.)
 */
export function start_point(segments: readonly SegmentInfo[], time_ns: number): StartPoint {
  return start_points(segments, time_ns).next().value as StartPoint;
}

/**
 * Every place to start reading for `time_ns`, best first: the intact
 * checkpoints at or before it, newest first, then the start of the recording.
 * A checkpoint is several records (one per book) and only its first is
 * indexed, so a tear can cut one after its first book: a reader missing a
 * book from one start point takes the next (book_at.ts).
 */
export function* start_points(segments: readonly SegmentInfo[], time_ns: number): Generator<StartPoint> {
  const candidates: StartPoint[] = [];
  scan: for (let s = 0; s < segments.length; s++) {
    let entries;
    try {
      entries = decode_index(readFileSync(segments[s].path + index_suffix));
    } catch {
      continue; // no index: this segment is read from its start when reached
    }
    for (const e of entries) {
      if (e.recv_ns > time_ns) break scan;
      candidates.push({ segment: s, offset: e.offset });
    }
  }
  for (let i = candidates.length - 1; i >= 0; i--) {
    if (record_intact(segments[candidates[i].segment].path, candidates[i].offset)) yield candidates[i];
  }
  yield { segment: 0, offset: header_bytes };
}

function record_intact(path: string, offset: number): boolean {
  const fd = openSync(path, 'r');
  try {
    const prefix = new Uint8Array(record_prefix_bytes);
    if (readSync(fd, prefix, 0, record_prefix_bytes, offset) < record_prefix_bytes) return false;
    const body_bytes = new DataView(prefix.buffer).getUint32(0, true);
    if (body_bytes > record_body_bytes_max) return false;
    const whole = new Uint8Array(record_prefix_bytes + body_bytes);
    if (readSync(fd, whole, 0, whole.byteLength, offset) < whole.byteLength) return false;
    return decode_record(whole, 0).kind === 'record';
  } finally {
    closeSync(fd);
  }
}

export interface ReadStats {
  records: number;
  torn_tails: number;
  torn_bytes: number;
}

/** The records of a recording from `from`, in order. Payloads are views: copy to keep. */
export class RecordingReader {
  readonly stats: ReadStats = { records: 0, torn_tails: 0, torn_bytes: 0 };
  private buf = new Uint8Array(chunk_bytes);

  constructor(readonly segments: readonly SegmentInfo[]) {}

  *records(from: StartPoint = { segment: 0, offset: header_bytes }): Generator<DecodedRecord> {
    for (let s = from.segment; s < this.segments.length; s++) {
      yield* this.segment_records(this.segments[s].path, s === from.segment ? from.offset : header_bytes);
    }
  }

  private *segment_records(path: string, offset: number): Generator<DecodedRecord> {
    const fd = openSync(path, 'r');
    try {
      const head = new Uint8Array(header_bytes);
      const problem = readSync(fd, head, 0, header_bytes, 0) < header_bytes ? 'shorter than its header' : header_problem(head, segment_magic);
      if (problem !== undefined) throw new RecordingError(`${path}: ${problem}`);
      let file_pos = offset; // file position of buf[0]
      let filled = 0;
      let at = 0;
      let eof = false;
      for (;;) {
        const outcome = decode_record(this.buf.subarray(0, filled), at);
        if (outcome.kind === 'record') {
          at += outcome.record.bytes;
          this.stats.records++;
          yield outcome.record;
          continue;
        }
        if (outcome.kind === 'short' && !eof) {
          // Move the unread part to the front, grow for a large record, read more.
          const rest = filled - at;
          if (outcome.needed_bytes > this.buf.byteLength) {
            const grown = new Uint8Array(Math.max(outcome.needed_bytes, this.buf.byteLength * 2));
            grown.set(this.buf.subarray(at, filled));
            this.buf = grown;
          } else {
            this.buf.copyWithin(0, at, filled);
          }
          file_pos += at;
          at = 0;
          filled = rest;
          const n = readSync(fd, this.buf, filled, this.buf.byteLength - filled, file_pos + filled);
          if (n === 0) eof = true;
          filled += n;
          continue;
        }
        const torn = filled - at;
        if (torn > 0) {
          this.stats.torn_tails++;
          this.stats.torn_bytes += torn + (eof ? 0 : this.rest_of_file(fd, file_pos + filled));
          log.warn({ segment: path, offset: file_pos + at, reason: outcome.kind === 'torn' ? outcome.reason : 'cut short' },
            'torn tail in a recording segment: the records before it are read, the rest of the segment is skipped');
        }
        return;
      }
    } finally {
      closeSync(fd);
    }
  }

  private rest_of_file(fd: number, pos: number): number {
    let total = 0;
    const scratch = new Uint8Array(64 * 1024);
    for (let n; (n = readSync(fd, scratch, 0, scratch.byteLength, pos + total)) > 0;) total += n;
    return total;
  }
}
