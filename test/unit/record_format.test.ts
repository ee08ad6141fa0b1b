// Recording files (src/record): records round-trip; a torn tail (cut short
// or corrupted) is detected and skipped with everything before it read;
// rotation by size keeps the directory under its bound; checkpoints are
// indexed and start_point finds the last one before a time, and book_at goes
// back a checkpoint when a tear cut its book out of the newest; the book tracker
// rebuilds the engine's book from generated batches.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generate_event_batches } from '../../src/engine/engine.js';
import { digest_of } from '../../src/book/digest.js';
import { book_at } from '../../src/record/book_at.js';
import { decode_record, encode_record, header_bytes } from '../../src/record/format.js';
import { BookTracker } from '../../src/record/book_tracker.js';
import { list_segments, RecordingReader, start_point } from '../../src/record/reader.js';
import { RecordingWriter } from '../../src/record/writer.js';
import { encode_snapshot_reply } from '../../src/wire/engine_codec.js';
import { test_config } from '../helpers/service.js';

const dirs: string[] = [];
function temp_dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dcrec-'));
  dirs.push(d);
  return d;
}
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const limits = { segment_bytes_max: 1 << 20, segment_age_ms_max: 3_600_000, recording_bytes_max: 1 << 30 };

function payload(i: number, bytes = 100): Uint8Array {
  return new Uint8Array(bytes).fill(i & 0xff);
}

function read_all(dir: string) {
  const reader = new RecordingReader(list_segments(dir));
  const out = [...reader.records()].map((r) => ({ subject: r.subject, recv_ns: r.recv_ns, payload: r.payload.slice() }));
  return { out, stats: reader.stats };
}

describe('record format', () => {
  it('round-trips a record and rejects a flipped bit', () => {
    const rec = encode_record('depthcast.events.BTC-USD', payload(7), 1.7e18 + 12345);
    const ok = decode_record(rec, 0);
    expect(ok.kind).toBe('record');
    if (ok.kind === 'record') {
      expect(ok.record.subject).toBe('depthcast.events.BTC-USD');
      expect(ok.record.recv_ns).toBe(1.7e18 + 12345);
      expect([...ok.record.payload]).toEqual([...payload(7)]);
    }
    const bad = rec.slice();
    bad[rec.length - 1] ^= 1;
    expect(decode_record(bad, 0)).toMatchObject({ kind: 'torn', reason: 'CRC mismatch' });
    expect(decode_record(rec.subarray(0, rec.length - 1), 0).kind).toBe('short');
  });

  it('reads every record before a torn tail, and goes on with the next segment', () => {
    const dir = temp_dir();
    const w = new RecordingWriter(dir, limits, () => {});
    for (let i = 0; i < 50; i++) w.append('p.events.A', payload(i), 1e15 + i);
    w.close();
    const [seg] = list_segments(dir);
    const full = statSync(seg.path).size;
    // A crash mid-write: the last record cut in half.
    truncateSync(seg.path, full - 40);
    // A later segment (the recorder restarted) holds more.
    const w2 = new RecordingWriter(dir, limits, () => {}, () => Date.now() + 1000);
    for (let i = 50; i < 60; i++) w2.append('p.events.A', payload(i), 1e15 + i);
    w2.close();
    const { out, stats } = read_all(dir);
    expect(out.map((r) => r.recv_ns - 1e15)).toEqual([...Array(49).keys(), ...Array.from({ length: 10 }, (_, k) => 50 + k)]);
    expect(out[48].payload[0]).toBe(48);
    expect(stats.torn_tails).toBe(1);
    expect(stats.torn_bytes).toBeGreaterThan(0);
  });

  it('a corrupted record in the tail ends the segment there', () => {
    const dir = temp_dir();
    const w = new RecordingWriter(dir, limits, () => {});
    for (let i = 0; i < 20; i++) w.append('p.events.A', payload(i), 1e15 + i);
    w.close();
    const [seg] = list_segments(dir);
    const bytes = readFileSync(seg.path);
    const record_bytes = (bytes.length - header_bytes) / 20;
    bytes[header_bytes + 15 * record_bytes + 30] ^= 0xff; // inside record 15's payload
    writeFileSync(seg.path, bytes);
    const { out, stats } = read_all(dir);
    expect(out).toHaveLength(15);
    expect(stats.torn_tails).toBe(1);
  });

  it('rotates by size and deletes the oldest segments past the total bound', () => {
    const dir = temp_dir();
    const w = new RecordingWriter(dir, { segment_bytes_max: 64 * 1024, segment_age_ms_max: 3_600_000, recording_bytes_max: 256 * 1024 }, () => {});
    for (let i = 0; i < 5000; i++) w.append('p.events.A', payload(i, 200), 1e15 + i);
    w.close();
    const segs = readdirSync(dir).filter((n) => n.endsWith('.dcrec'));
    const total = segs.reduce((t, n) => t + statSync(join(dir, n)).size, 0);
    expect(w.stats.segments_started).toBeGreaterThan(10);
    expect(w.stats.segments_deleted).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(256 * 1024);
    for (const n of segs) expect(statSync(join(dir, n)).size).toBeLessThanOrEqual(64 * 1024);
    // What is left is the newest records, contiguous.
    const { out } = read_all(dir);
    const ids = out.map((r) => r.recv_ns - 1e15);
    expect(ids[ids.length - 1]).toBe(4999);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, k) => ids[0] + k));
  });

  it('rotates by age, and every new segment starts with what on_segment_start writes', () => {
    const dir = temp_dir();
    let now_ms = 1_000_000;
    let starts = 0;
    const w: RecordingWriter = new RecordingWriter(dir, { ...limits, segment_age_ms_max: 1000 }, () => {
      starts++;
      w.append('p.book.A', payload(200), 1e15, true);
    }, () => now_ms);
    for (let i = 0; i < 30; i++) {
      w.append('p.events.A', payload(i), 1e15 + i);
      now_ms += 250;
    }
    w.close();
    const segments = list_segments(dir);
    expect(segments.length).toBe(8); // 30 records, 4 per second of segment age
    expect(starts).toBe(8);
    for (const seg of segments) {
      const first = new RecordingReader([seg]).records().next().value!;
      expect(first.subject).toBe('p.book.A');
    }
  });

  it('indexes checkpoints; start_point is the last one at or before a time', () => {
    const dir = temp_dir();
    const w = new RecordingWriter(dir, limits, () => {});
    for (let i = 0; i < 100; i++) w.append('p.events.A', payload(i), 1e18 + i * 1e6, i % 10 === 0);
    w.close();
    const segs = list_segments(dir);
    const reader = new RecordingReader(segs);
    const first = reader.records(start_point(segs, 1e18 + 37.5e6)).next();
    expect(first.done).toBe(false);
    expect(first.value!.recv_ns).toBe(1e18 + 30e6);
    expect(start_point(segs, 0)).toEqual({ segment: 0, offset: header_bytes });
  });
});

describe('book_at across a torn checkpoint', () => {
  it('a tear after the first book of the newest checkpoint: the other book comes from the checkpoint before it', () => {
    const config = test_config({ symbols: ['BTC-USD', 'ETH-USD'], seed: 5 });
    const batches = generate_event_batches(config, { orders: 600, epoch: 7 });
    const dir = temp_dir();
    const w = new RecordingWriter(dir, limits, () => {});
    const tracker = new BookTracker();
    const instrument = (symbol: string) => ({ symbol, tick_size: '0.01', lot_size: '0.001', price_decimals: 2, size_decimals: 3 });
    let t_ns = 1e18;
    const checkpoint = (): number[] => {
      const offsets: number[] = [];
      let first = true;
      for (const b of tracker.books.values()) {
        b.instrument = instrument(b.symbol);
        w.flush();
        offsets.push(statSync(list_segments(dir)[0].path).size);
        w.append(`${config.subject_prefix}.book.${b.symbol}`, encode_snapshot_reply(b.snapshot()!), (t_ns += 1e6), first);
        first = false;
      }
      return offsets;
    };
    const half = Math.floor(batches.length / 2);
    for (const b of batches.slice(0, half)) {
      tracker.on_batch(b.bytes);
      w.append(b.subject, b.bytes, (t_ns += 1e6));
    }
    checkpoint();
    for (const b of batches.slice(half)) {
      tracker.on_batch(b.bytes);
      w.append(b.subject, b.bytes, (t_ns += 1e6));
    }
    const [, second_book] = checkpoint();
    w.close();
    const want = Object.fromEntries([...tracker.books.values()].map((b) => [b.symbol, b.snapshot()!]));
    // Cut in the middle of the newest checkpoint's second book: its first book is intact and indexed.
    truncateSync(list_segments(dir)[0].path, second_book + 20);
    const second_symbol = [...tracker.books.keys()][1];
    for (const symbol of tracker.books.keys()) {
      const b = book_at(dir, t_ns / 1e6 + 1000, symbol);
      expect(b.torn_tails).toBe(1);
      expect([b.seq, b.digest]).toEqual([want[symbol].seq, digest_of(want[symbol].bids, want[symbol].asks)]);
    }
    // The recovered book came from older records than the intact one: the checkpoint before.
    expect(book_at(dir, t_ns / 1e6 + 1000, second_symbol).as_of_ms).toBeLessThan(t_ns / 1e6 - 1);
  });
});

describe('book tracker', () => {
  it('an engine restart (a new epoch from seq 1) starts an empty book; a new epoch mid-stream waits for a snapshot', () => {
    const config = test_config({ symbols: ['BTC-USD'], seed: 9 });
    const first = generate_event_batches(config, { orders: 500, epoch: 10 });
    const second = generate_event_batches(config, { orders: 500, epoch: 11 });
    const t = new BookTracker();
    for (const b of first) t.on_batch(b.bytes);
    expect(t.books.get('BTC-USD')!.epoch).toBe(10);
    for (const b of second) expect(t.on_batch(b.bytes)).toBe('applied');
    const fresh = new BookTracker();
    for (const b of second) fresh.on_batch(b.bytes);
    const instrument = { symbol: 'BTC-USD', tick_size: '0.01', lot_size: '0.001', price_decimals: 2, size_decimals: 3 };
    t.books.get('BTC-USD')!.instrument = instrument;
    fresh.books.get('BTC-USD')!.instrument = instrument;
    expect(t.books.get('BTC-USD')!.snapshot()).toEqual(fresh.books.get('BTC-USD')!.snapshot());
    // The older epoch's stragglers never take the book back.
    expect(t.on_batch(first[first.length - 1].bytes)).toBe('duplicate');
    // A newer epoch joined mid-stream (its seq 1 missed): unsynced, no book to offer.
    const third = generate_event_batches(config, { orders: 500, epoch: 12 });
    expect(t.on_batch(third[third.length - 1].bytes)).toBe('unsynced');
    expect(t.books.get('BTC-USD')!.snapshot()).toBeNull();
  });

  it("rebuilds the engine's book from its batches, and from a snapshot plus the batches after it", () => {
    const config = test_config({ symbols: ['BTC-USD'], seed: 3 });
    const batches = generate_event_batches(config, { orders: 3000, epoch: 42 });
    const whole = new BookTracker();
    for (const b of batches) whole.on_batch(b.bytes);
    const book = whole.books.get('BTC-USD')!;
    expect(book.synced).toBe(true);
    expect(book.epoch).toBe(42);

    // From the middle: unsynced until a snapshot, then exact.
    const mid = Math.floor(batches.length / 2);
    const half = new BookTracker();
    const ref = new BookTracker();
    for (const b of batches.slice(0, mid)) ref.on_batch(b.bytes);
    ref.books.get('BTC-USD')!.instrument = { symbol: 'BTC-USD', tick_size: '0.01', lot_size: '0.001', price_decimals: 2, size_decimals: 3 };
    const snap = ref.books.get('BTC-USD')!.snapshot()!;
    expect(half.on_batch(batches[mid].bytes)).toBe('unsynced');
    expect(half.on_snapshot(snap)).toBe('loaded');
    for (const b of batches.slice(mid + 1)) half.on_batch(b.bytes);
    const h = half.books.get('BTC-USD')!;
    h.instrument = snap.instrument;
    book.instrument = snap.instrument;
    expect(h.snapshot()).toEqual(book.snapshot());
  });
});
