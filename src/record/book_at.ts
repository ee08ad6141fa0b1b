// `depthcast book-at`: the exact L2 book of one symbol at a time T, from a
// recording: every record received at or before T applied (book_tracker.ts,
// the rules replay uses), starting at the last checkpoint before T. Printed
// as a table or JSON, with its (epoch, seq) and digest (src/book/digest.ts).
// Cost: reads the recording from that checkpoint to T (at most
// --record-checkpoint-interval-ms of it, plus a segment's head; an older
// checkpoint only when a tear cut this symbol out of the newest).

import { digest_of } from '../book/digest.js';
import type { L2Snapshot } from '../book/types.js';
import { decode_engine_reply } from '../wire/engine_codec.js';
import { BookTracker } from './book_tracker.js';
import { list_segments, RecordingError, RecordingReader, start_points, type SegmentInfo, type StartPoint } from './reader.js';

export interface BookAt {
  symbol: string;
  /** The time asked for (ms since 1970). */
  time_ms: number;
  /** Receive time of the last record applied to this book (ms); 0 if none. */
  as_of_ms: number;
  epoch: number;
  seq: number;
  digest: number;
  last_trade_id: number;
  tick_size: string;
  lot_size: string;
  bids: L2Snapshot['bids'];
  asks: L2Snapshot['asks'];
  torn_tails: number;
}

export function book_at(dir: string, time_ms: number, symbol: string): BookAt {
  const segments = list_segments(dir);
  const time_ns = time_ms * 1e6;
  let torn_tails = 0;
  // The newest checkpoint first; an older one only when a tear cut this symbol out of it.
  for (const from of start_points(segments, time_ns)) {
    const found = book_from(segments, from, time_ns, symbol);
    torn_tails = Math.max(torn_tails, found.torn_tails);
    if (found.book === undefined) {
      // Only a tear can cut a book out of an intact checkpoint's read: without one, older checkpoints
      // would be read in vain (a symbol the recording never held would cost a read per checkpoint).
      if (found.torn_tails === 0) break;
      continue;
    }
    const snap = found.book.snapshot();
    if (snap === null) {
      throw new RecordingError(`${symbol} has no complete book at ${new Date(time_ms).toISOString()} (no snapshot of it recorded yet, or a gap since the last one)`);
    }
    return {
      symbol, time_ms, as_of_ms: found.as_of_ns / 1e6, epoch: snap.epoch, seq: snap.seq, digest: digest_of(snap.bids, snap.asks),
      last_trade_id: snap.last_trade_id, tick_size: snap.instrument.tick_size, lot_size: snap.instrument.lot_size,
      bids: snap.bids, asks: snap.asks, torn_tails,
    };
  }
  throw new RecordingError(`the recording holds nothing of ${symbol} at or before ${new Date(time_ms).toISOString()}`);
}

function book_from(segments: readonly SegmentInfo[], from: StartPoint, time_ns: number, symbol: string) {
  const reader = new RecordingReader(segments);
  const tracker = new BookTracker();
  let as_of_ns = 0;
  for (const r of reader.records(from)) {
    if (r.recv_ns > time_ns) break;
    const dot = r.subject.lastIndexOf('.');
    if (r.subject.slice(dot + 1) !== symbol) continue;
    try {
      if (r.subject.includes('.events.')) {
        tracker.on_batch(r.payload);
      } else if (r.subject.includes('.book.')) {
        const d = decode_engine_reply(r.payload);
        if (d.kind === 'snapshot') tracker.on_snapshot(d.snapshot);
      } else {
        continue;
      }
    } catch {
      continue; // a malformed record: the book goes on from the next one
    }
    as_of_ns = r.recv_ns;
  }
  return { book: tracker.books.get(symbol), as_of_ns, torn_tails: reader.stats.torn_tails };
}

/** A two-sided table, best levels on the first row. */
export function format_book_at(b: BookAt): string {
  const lines = [
    `${b.symbol} at ${new Date(b.time_ms).toISOString()} (last record ${b.as_of_ms === 0 ? '-' : new Date(b.as_of_ms).toISOString()})`,
    `epoch ${b.epoch}  seq ${b.seq}  digest ${b.digest} (0x${b.digest.toString(16).padStart(8, '0')})  levels ${b.bids.length} bid / ${b.asks.length} ask  tick ${b.tick_size}  lot ${b.lot_size}`,
    '',
    `${'orders'.padStart(8)} ${'bid size'.padStart(12)} ${'bid'.padStart(12)} | ${'ask'.padEnd(12)} ${'ask size'.padStart(12)} ${'orders'.padStart(8)}`,
  ];
  for (let i = 0; i < Math.max(b.bids.length, b.asks.length); i++) {
    const bid = b.bids[i];
    const ask = b.asks[i];
    const left = bid === undefined ? ' '.repeat(34) : `${String(bid.orders).padStart(8)} ${String(bid.size).padStart(12)} ${String(bid.price).padStart(12)}`;
    const right = ask === undefined ? '' : `${String(ask.price).padEnd(12)} ${String(ask.size).padStart(12)} ${String(ask.orders).padStart(8)}`;
    lines.push(`${left} | ${right}`);
  }
  return lines.join('\n');
}
