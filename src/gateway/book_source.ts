// Where the gateway's books come from: the feed's own views, read in
// process through a narrow interface (GatewayFeed.read_views: the feed's
// ViewReader, src/feed/view_reader.ts). One reader per Binance speed (100 ms
// and 1000 ms) reads every symbol's full-depth view at that interval with the
// feed's interval machinery (the view's shared change log, the same catch-up
// a client's interval subscription gets), as levels: nothing is encoded for
// the gateway and nothing decoded by it. A catch-up covers the view's seqs
// seq_first..seq, which become Binance's update ids U..u.
//
// Per (symbol, speed) a mirror of the full book (price → size per side) is
// kept: REST depth is served from the 100 ms mirror, and a whole book that
// arrives mid-stream in the same epoch (a catch-up past the change log's
// bound) becomes an ordinary diff against the mirror, continuity intact.
// A book in a new epoch (or one behind the mirror) breaks continuity:
// the listener's on_restart closes that stream's clients, who re-sync from
// REST as they do when Binance restarts.
//
// Cost: per interval and symbol, one mirror update per changed level and the
// listener's one encode; REST sorts a mirror at most once per seq.

import type { Instrument, L2Level } from '../book/types.js';
import type { ViewLevels } from '../book/view_levels.js';
import type { Session, SessionOptions } from '../feed/session.js';
import type { PublishedTopic } from '../feed/published_topic.js';
import type { ClientTransport, TopicPublisher } from '../feed/transport.js';
import type { ViewLevelsListener, ViewReader } from '../feed/view_reader.js';
import { logger_for } from '../util/log.js';

const log = logger_for('gateway');

/** What the gateway needs from the feed: its clients' connections and topics, and its views' levels. */
export interface GatewayFeed {
  open_session(transport: ClientTransport, options?: SessionOptions): Session;
  close_session(session: Session, code: number): void;
  /** A topic the gateway publishes its events to, accounted for its members' flow control like a view's (Feed.open_topic). */
  open_topic(topic: string, publisher: TopicPublisher): PublishedTopic;
  /** The symbols' full-depth views, read every interval_ms as levels (Feed.read_views). */
  read_views(symbols: readonly string[], interval_ms: number, listener: ViewLevelsListener): ViewReader;
}

/** Binance's two diff-depth speeds: `<symbol>@depth@100ms` and `<symbol>@depth` (1000 ms). */
export const speeds_ms = [100, 1000] as const;
export type SpeedMs = (typeof speeds_ms)[number];

export interface SourceListener {
  /** The book of (symbol, speed) moved from U-1 to u; the first bid_count/ask_count levels changed, valued at u (size 0 = gone). Valid during the call. */
  on_update(symbol: string, speed: SpeedMs, first_update_id: number, last_update_id: number,
    bids: readonly L2Level[], bid_count: number, asks: readonly L2Level[], ask_count: number): void;
  /** Continuity of (symbol, speed) is gone (new epoch): its clients must re-sync. */
  on_restart(symbol: string, speed: SpeedMs): void;
}

/** One symbol's book at one speed, as the feed last sent it. */
export class MirrorBook {
  epoch = -1;
  /** The update id (depthcast seq) the mirror is at; -1 before the first Snapshot. */
  seq = -1;
  live = false;
  instrument: Instrument | null = null;
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  private sorted_seq = -1;
  private sorted_bids: L2Level[] = [];
  private sorted_asks: L2Level[] = [];

  /** Both sides best first (sorted once per seq, shared by every REST request at it). */
  sorted(): { bids: L2Level[]; asks: L2Level[] } {
    if (this.sorted_seq !== this.seq) {
      this.sorted_bids = side_levels(this.bids).sort((a, b) => b.price - a.price);
      this.sorted_asks = side_levels(this.asks).sort((a, b) => a.price - b.price);
      this.sorted_seq = this.seq;
    }
    return { bids: this.sorted_bids, asks: this.sorted_asks };
  }
}

function side_levels(side: Map<number, number>): L2Level[] {
  const out: L2Level[] = [];
  for (const [price, size] of side) out.push({ price, size, orders: 0 });
  return out;
}

export class BookSource {
  /** books[speed].get(symbol) */
  private readonly books = new Map<SpeedMs, Map<string, MirrorBook>>();
  private readonly readers: ViewReader[] = [];

  constructor(private readonly feed: GatewayFeed, private readonly symbols: readonly string[], private readonly listener: SourceListener) {
    for (const speed of speeds_ms) this.books.set(speed, new Map(symbols.map((s) => [s, new MirrorBook()])));
  }

  start(): void {
    for (const speed of speeds_ms) this.readers.push(this.feed.read_views(this.symbols, speed, this.reading(speed)));
  }

  stop(): void {
    for (const books of this.books.values()) for (const b of books.values()) b.live = false; // REST answers 503, never a frozen book
    for (const r of this.readers) r.stop();
    this.readers.length = 0;
  }

  book(symbol: string, speed: SpeedMs = 100): MirrorBook | undefined {
    return this.books.get(speed)!.get(symbol);
  }

  /** One speed's listener: the reader's levels into that speed's mirrors and updates. */
  private reading(speed: SpeedMs): ViewLevelsListener {
    const books = this.books.get(speed)!;
    return {
      on_book: (symbol, instrument, epoch, seq, levels) => this.on_book(speed, books.get(symbol), instrument, epoch, seq, levels),
      on_changes: (symbol, epoch, seq_first, seq, changes) => this.on_changes(speed, books.get(symbol), symbol, epoch, seq_first, seq, changes),
      on_live: (symbol, live) => {
        const book = books.get(symbol);
        if (book !== undefined && !live) book.live = false; // live again with the book that follows
      },
    };
  }

  private on_book(speed: SpeedMs, book: MirrorBook | undefined, instrument: Instrument, epoch: number, seq: number, levels: ViewLevels): void {
    if (book === undefined) return;
    book.instrument = instrument;
    const continues = book.epoch === epoch && book.seq >= 0 && seq >= book.seq;
    if (!continues) {
      const restarted = book.seq >= 0;
      load(book.bids, levels.bids, levels.bid_count);
      load(book.asks, levels.asks, levels.ask_count);
      book.epoch = epoch;
      book.seq = seq;
      book.live = true;
      if (restarted) this.listener.on_restart(instrument.symbol, speed);
      return;
    }
    // Same epoch, further on: the difference to the mirror is one ordinary update.
    book.live = true;
    if (seq === book.seq) return;
    const bids = diff(book.bids, levels.bids, levels.bid_count);
    const asks = diff(book.asks, levels.asks, levels.ask_count);
    const first = book.seq + 1;
    book.seq = seq;
    this.listener.on_update(instrument.symbol, speed, first, seq, bids, bids.length, asks, asks.length);
  }

  private on_changes(speed: SpeedMs, book: MirrorBook | undefined, symbol: string, epoch: number, seq_first: number, seq: number, changes: ViewLevels): void {
    if (book === undefined) return;
    if (epoch !== book.epoch || seq_first !== book.seq + 1) {
      // The reader's catch-ups are contiguous per view; a break here is a bug of ours, and clients must not see it as data.
      log.error({ symbol, speed, epoch, seq_first, mirror_epoch: book.epoch, mirror_seq: book.seq }, 'gateway source out of step; restarting the stream');
      book.seq = -1;
      book.live = false;
      this.listener.on_restart(symbol, speed);
      return;
    }
    apply(book.bids, changes.bids, changes.bid_count);
    apply(book.asks, changes.asks, changes.ask_count);
    book.seq = seq;
    book.live = true;
    this.listener.on_update(symbol, speed, seq_first, seq, changes.bids, changes.bid_count, changes.asks, changes.ask_count);
  }
}

function load(side: Map<number, number>, levels: readonly L2Level[], count: number): void {
  side.clear();
  for (let i = 0; i < count; i++) side.set(levels[i].price, levels[i].size);
}

function apply(side: Map<number, number>, levels: readonly L2Level[], count: number): void {
  for (let i = 0; i < count; i++) {
    const l = levels[i];
    if (l.size === 0) side.delete(l.price);
    else side.set(l.price, l.size);
  }
}

/** The changes that turn `side` into the first `count` levels (applied to `side` as well): new or changed sizes, and 0 for prices gone. */
function diff(side: Map<number, number>, levels: readonly L2Level[], count: number): L2Level[] {
  const out: L2Level[] = [];
  const now = new Map<number, number>();
  for (let i = 0; i < count; i++) now.set(levels[i].price, levels[i].size);
  for (const [price] of side) if (!now.has(price)) out.push({ price, size: 0, orders: 0 });
  for (const [price, size] of now) if (side.get(price) !== size) out.push({ price, size, orders: 0 });
  load(side, levels, count);
  return out;
}
