// Appends records to a recording directory: segment files with their index
// files (format.ts), rotated by size and age, the oldest deleted past a total
// size. One writer per directory.
//
// Cost: a record is encoded once (one copy of the payload) and buffered; the
// buffer goes to the file in one writev per flush (every flush_interval_ms, or
// sooner past flush_bytes). A crash loses at most the unflushed buffer, and a
// torn last record is skipped by readers; nothing written before it is lost,
// since nothing is ever rewritten. Memory: the buffer, at most about
// flush_bytes plus one record.

import { closeSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { logger_for } from '../util/log.js';
import {
  encode_header, encode_index_entry, encode_record, header_bytes, index_magic, index_suffix, segment_magic, segment_name,
  segment_start_ms,
} from './format.js';

const log = logger_for('record');

/** Buffered bytes that make the writer flush before its timer. */
const flush_bytes = 256 * 1024;
const flush_interval_ms = 100;

export interface WriterLimits {
  segment_bytes_max: number;
  segment_age_ms_max: number;
  /** All segments of the directory together; past it the oldest are deleted whole. */
  recording_bytes_max: number;
}

export interface WriterStats {
  records: number;
  bytes: number;
  segments_started: number;
  segments_deleted: number;
}

export class RecordingWriter {
  readonly stats: WriterStats = { records: 0, bytes: 0, segments_started: 0, segments_deleted: 0 };
  private segment_fd = -1;
  private index_fd = -1;
  private segment_path = '';
  private segment_offset = 0;
  private segment_started_ms = 0;
  private segment_count = 0;
  private pending: Uint8Array[] = [];
  private pending_index: Uint8Array[] = [];
  private pending_bytes = 0;
  private starting_segment = false;
  private readonly timer: ReturnType<typeof setInterval>;
  private closed = false;

  /**
   * `on_segment_start` runs right after a new segment is opened (before the
   * record that caused it): the recorder writes its books there, so that
   * every segment can be read on its own.
   */
  constructor(readonly dir: string, private readonly limits: WriterLimits, private readonly on_segment_start: () => void,
    private readonly now_ms: () => number = Date.now) {
    mkdirSync(dir, { recursive: true });
    this.timer = setInterval(() => this.flush(), flush_interval_ms);
    this.timer.unref();
  }

  /**
   * `indexed`: this record starts a checkpoint (every book, recorder.ts) and
   * gets an index entry, so that a reader can start there.
   */
  append(subject: string, payload: Uint8Array, recv_ns: number, indexed = false): void {
    if (this.closed) throw new Error('RecordingWriter: closed');
    const record = encode_record(subject, payload, recv_ns);
    if (!this.starting_segment && (this.segment_fd < 0
      || this.segment_offset + record.byteLength > this.limits.segment_bytes_max
      || this.now_ms() - this.segment_started_ms >= this.limits.segment_age_ms_max)) {
      this.start_segment();
    }
    if (indexed) this.pending_index.push(encode_index_entry(recv_ns, this.segment_offset));
    this.pending.push(record);
    this.pending_bytes += record.byteLength;
    this.segment_offset += record.byteLength;
    this.stats.records++;
    this.stats.bytes += record.byteLength;
    if (this.pending_bytes >= flush_bytes) this.flush();
  }

  /** Writes the buffered records, then their index entries (an entry never points past written data). */
  flush(): void {
    if (this.segment_fd < 0) return;
    if (this.pending.length > 0) writevSync(this.segment_fd, this.pending);
    if (this.pending_index.length > 0) writevSync(this.index_fd, this.pending_index);
    this.pending = [];
    this.pending_index = [];
    this.pending_bytes = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.close_segment();
  }

  private close_segment(): void {
    if (this.segment_fd < 0) return;
    this.flush();
    closeSync(this.segment_fd);
    closeSync(this.index_fd);
    this.segment_fd = -1;
    this.index_fd = -1;
  }

  private start_segment(): void {
    this.close_segment();
    this.segment_started_ms = this.now_ms();
    const name = segment_name(this.segment_started_ms, this.segment_count++);
    this.segment_path = join(this.dir, name);
    // 'wx': a name already there is another writer's; never append to it.
    this.segment_fd = openSync(this.segment_path, 'wx');
    this.index_fd = openSync(this.segment_path + index_suffix, 'wx');
    writevSync(this.segment_fd, [encode_header(segment_magic)]);
    writevSync(this.index_fd, [encode_header(index_magic)]);
    this.segment_offset = header_bytes;
    this.stats.segments_started++;
    log.info({ segment: this.segment_path }, 'recording segment started');
    this.delete_oldest();
    this.starting_segment = true;
    try {
      this.on_segment_start();
    } finally {
      this.starting_segment = false;
    }
  }

  /** Deletes the oldest segments (never the current one) while the directory is over recording_bytes_max. */
  private delete_oldest(): void {
    const segments = readdirSync(this.dir).filter((n) => segment_start_ms(n) !== undefined).sort();
    const sizes = segments.map((n) => statSync(join(this.dir, n)).size);
    let total = sizes.reduce((a, b) => a + b, 0) + this.limits.segment_bytes_max;
    for (let i = 0; i < segments.length && total > this.limits.recording_bytes_max; i++) {
      const path = join(this.dir, segments[i]);
      if (path === this.segment_path) break;
      unlinkSync(path);
      try { unlinkSync(path + index_suffix); } catch { /* an index may be missing; the segment is what counts */ }
      total -= sizes[i];
      this.stats.segments_deleted++;
      log.info({ segment: path }, 'recording over --record-bytes-max: oldest segment deleted');
    }
  }
}
