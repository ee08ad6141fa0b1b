// The books of a recorded event stream, per symbol: what the recorder keeps
// (to write checkpoints), what replay answers snapshot requests from, and
// what book-at prints. One rule set for all three, so they agree.
//
// Per symbol: the L2Book (src/book), its (epoch, seq), the last trade id and
// engine time, and the instrument (from the last snapshot seen). A batch that
// continues the book is applied; one at or below it is skipped (duplicate);
// a new epoch starting at seq 1 starts an empty book; anything else (a gap, a
// new epoch mid-stream, an event the book refuses) leaves the symbol unsynced
// until a snapshot (record or engine reply) arrives. Batches seen while
// unsynced are kept (bounded) and applied past the snapshot, as the feed does.
//
// Cost: L2Book.apply per event (no allocation); a kept batch is one copy.

import { BookError, L2Book } from '../book/l2_book.js';
import { event_execute, new_book_event, side_ask, side_bid, type Instrument, type L2Level, type L2Snapshot } from '../book/types.js';
import { EventBatchReader } from '../wire/engine_codec.js';

/** Batches kept per unsynced symbol; past it they go and the next snapshot must be newer than all of them. */
const unsynced_batches_max = 4096;

export type BatchOutcome = 'applied' | 'duplicate' | 'unsynced';

export class TrackedBook {
  readonly book = new L2Book();
  epoch = 0;
  seq = 0;
  synced = false;
  last_trade_id = 0;
  ts_engine_ns = 0;
  instrument: Instrument | null = null;
  /** Copies of the batches seen while unsynced. */
  kept: Uint8Array[] = [];

  constructor(readonly symbol: string) {}

  /** The full book now, as a snapshot (null until an instrument is known or while unsynced). */
  snapshot(): L2Snapshot | null {
    if (!this.synced || this.instrument === null) return null;
    const bids: L2Level[] = [];
    const asks: L2Level[] = [];
    this.book.top(side_bid, 0, bids);
    this.book.top(side_ask, 0, asks);
    return {
      instrument: this.instrument, epoch: this.epoch, seq: this.seq, last_trade_id: this.last_trade_id,
      ts_engine_ns: this.ts_engine_ns, bids, asks,
    };
  }
}

export class BookTracker {
  readonly books = new Map<string, TrackedBook>();
  private readonly reader = new EventBatchReader();
  private readonly replay_reader = new EventBatchReader();
  private readonly event = new_book_event();

  book(symbol: string): TrackedBook {
    let b = this.books.get(symbol);
    if (b === undefined) {
      b = new TrackedBook(symbol);
      this.books.set(symbol, b);
    }
    return b;
  }

  /** Reads and applies one EventBatch payload (throws WireError on a malformed one). The read batch stays in `last_batch`. */
  on_batch(bytes: Uint8Array): BatchOutcome {
    const r = this.reader;
    r.read(bytes);
    const b = this.book(r.symbol);
    if (!b.synced) {
      if (r.seq_first === 1 && r.count > 0 && r.epoch > b.epoch) return this.apply(b, r, true);
      this.keep(b, bytes);
      return 'unsynced';
    }
    if (r.epoch === b.epoch) {
      const last = r.seq_first + r.count - 1;
      if (last <= b.seq) return 'duplicate';
      if (r.seq_first <= b.seq + 1) return this.apply(b, r, false);
    } else if (r.epoch > b.epoch && r.seq_first === 1 && r.count > 0) {
      return this.apply(b, r, true);
    } else if (r.epoch < b.epoch) {
      return 'duplicate'; // an older epoch's straggler: never goes back
    }
    b.synced = false;
    this.keep(b, bytes);
    return 'unsynced';
  }

  /** The batch of the last on_batch() (its events, for replay's re-encoding). */
  get last_batch(): EventBatchReader {
    return this.reader;
  }

  /** A snapshot (a recorded checkpoint or an engine reply): loaded unless the book is already at or past it. */
  on_snapshot(snap: L2Snapshot): 'loaded' | 'ignored' {
    const b = this.book(snap.instrument.symbol);
    b.instrument = snap.instrument;
    if (b.synced && (snap.epoch < b.epoch || (snap.epoch === b.epoch && snap.seq <= b.seq))) return 'ignored';
    try {
      b.book.load(snap.bids, snap.asks);
    } catch (err) {
      if (err instanceof BookError) return 'ignored';
      throw err;
    }
    b.book.take_changes();
    b.epoch = snap.epoch;
    b.seq = snap.seq;
    b.last_trade_id = snap.last_trade_id;
    b.ts_engine_ns = snap.ts_engine_ns;
    b.synced = true;
    const kept = b.kept;
    b.kept = [];
    for (const bytes of kept) {
      this.replay_reader.read(bytes);
      const r = this.replay_reader;
      if (r.epoch !== b.epoch || r.seq_first + r.count - 1 <= b.seq) continue;
      if (r.seq_first > b.seq + 1 || this.apply(b, r, false) !== 'applied') {
        b.synced = false; // the kept batches do not continue the snapshot: wait for a newer one
        return 'loaded';
      }
    }
    return 'loaded';
  }

  private keep(b: TrackedBook, bytes: Uint8Array): void {
    if (b.kept.length >= unsynced_batches_max) b.kept.shift();
    b.kept.push(bytes.slice());
  }

  private apply(b: TrackedBook, r: EventBatchReader, new_epoch: boolean): BatchOutcome {
    if (new_epoch) {
      b.book.clear();
      b.epoch = r.epoch;
      b.seq = 0;
      b.last_trade_id = 0;
      b.synced = true;
    }
    const ev = this.event;
    try {
      for (let i = 0; i < r.count; i++) {
        r.event(i, ev);
        if (ev.seq <= b.seq) continue;
        b.book.apply(ev);
        b.seq = ev.seq;
        b.ts_engine_ns = ev.ts_engine_ns;
        if (ev.kind === event_execute) b.last_trade_id = ev.trade_id;
      }
    } catch (err) {
      if (!(err instanceof BookError)) throw err;
      b.synced = false;
      b.kept = [];
      return 'unsynced';
    } finally {
      b.book.take_changes(); // nobody reads the change lists here; keep them from growing
    }
    return 'applied';
  }
}
