// Where the gateway's books come from: the feed itself, read as a client of
// its own protocol. One in-process connection per Binance speed (100 ms and
// 1000 ms) subscribes every symbol's full-depth view with that interval, so
// the feed's interval machinery (Session.pump, the view's shared change log)
// decides what each speed's update holds, and the feed's epoch and seq ranges
// become Binance's update ids: U = the frame's seq_first, u = its seq. The
// narrow interface the gateway needs from the feed is `GatewayFeed` below
// (open a session, send it a frame, close it); nothing of the feed's
// internals is read.
//
// Per (symbol, speed) a mirror of the full book (price → size per side) is
// kept: REST depth is served from the 100 ms mirror, and a Snapshot that
// arrives mid-stream in the same epoch (a catch-up past the change log's
// bound) becomes an ordinary diff against the mirror, continuity intact.
// A Snapshot in a new epoch (or one behind the mirror) breaks continuity:
// the listener's on_restart closes that stream's clients, who re-sync from
// REST as they do when Binance restarts.
//
// Cost: per interval and symbol, one decode of the feed's catch-up frame
// (10 + 1 a second per symbol), one mirror update per changed level, and the
// listener's one encode; REST sorts a mirror at most once per seq.

import type { Instrument, L2Level } from '../book/types.js';
import type { Session, SlowPolicy } from '../feed/session.js';
import type { PublishedTopic } from '../feed/published_topic.js';
import type { ClientTransport, TopicPublisher } from '../feed/transport.js';
import { send_ok } from '../feed/transport.js';
import { decode_server_frame } from '../wire/feed_decoder.js';
import { FrameEncoder } from '../wire/feed_encoder.js';
import type { DeltaMsg, SnapshotMsg, StatusMsg } from '../wire/feed_types.js';
import { logger_for } from '../util/log.js';

const log = logger_for('gateway');

/** What the gateway needs from the feed: a connection to it, like any client's. */
export interface GatewayFeed {
  open_session(transport: ClientTransport, options?: { slow_policy?: SlowPolicy }): Session;
  on_client_frame(session: Session, bytes: Uint8Array): void;
  close_session(session: Session, code: number): void;
  /** A topic the gateway publishes its events to, accounted for its members' flow control like a view's (Feed.open_topic). */
  open_topic(topic: string, publisher: TopicPublisher): PublishedTopic;
}

/** Binance's two diff-depth speeds: `<symbol>@depth@100ms` and `<symbol>@depth` (1000 ms). */
export const speeds_ms = [100, 1000] as const;
export type SpeedMs = (typeof speeds_ms)[number];

export interface SourceListener {
  /** The book of (symbol, speed) moved from U-1 to u; the levels changed, valued at u (size 0 = gone). */
  on_update(symbol: string, speed: SpeedMs, first_update_id: number, last_update_id: number, bids: readonly L2Level[], asks: readonly L2Level[]): void;
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

/** The in-process client connection: every frame the feed sends it is read at once. */
class SourceTransport implements ClientTransport {
  readonly remote_address = 'gateway';
  constructor(private readonly on_frame: (frame: Uint8Array) => void) {}
  send(frame: Uint8Array): number {
    this.on_frame(frame);
    return send_ok;
  }
  buffered_bytes(): number {
    return 0;
  }
  cork(fn: () => void): void {
    fn();
  }
  end(): void {}
}

export class BookSource {
  /** books[speed].get(symbol) */
  private readonly books = new Map<SpeedMs, Map<string, MirrorBook>>();
  private readonly sessions: Session[] = [];

  constructor(private readonly feed: GatewayFeed, private readonly symbols: readonly string[], private readonly listener: SourceListener) {
    for (const speed of speeds_ms) this.books.set(speed, new Map(symbols.map((s) => [s, new MirrorBook()])));
  }

  start(): void {
    const encoder = new FrameEncoder();
    for (const speed of speeds_ms) {
      const session = this.feed.open_session(new SourceTransport((frame) => this.on_frame(speed, frame)));
      this.sessions.push(session);
      this.feed.on_client_frame(session, encoder.subscribe({ symbols: [...this.symbols], depth: 0, interval_ms: speed }));
    }
  }

  stop(): void {
    for (const books of this.books.values()) for (const b of books.values()) b.live = false; // REST answers 503, never a frozen book
    for (const s of this.sessions) this.feed.close_session(s, 1000);
    this.sessions.length = 0;
  }

  book(symbol: string, speed: SpeedMs = 100): MirrorBook | undefined {
    return this.books.get(speed)!.get(symbol);
  }

  private on_frame(speed: SpeedMs, frame: Uint8Array): void {
    const msg = decode_server_frame(frame);
    switch (msg.type) {
      case 'snapshot': this.on_snapshot(speed, msg); break;
      case 'delta': this.on_delta(speed, msg); break;
      case 'status': this.on_status(speed, msg); break;
      case 'error': log.error({ code: msg.code, message: msg.message, symbol: msg.symbol }, 'the feed refused the gateway'); break;
      default: break; // heartbeats, pongs
    }
  }

  private on_status(speed: SpeedMs, msg: StatusMsg): void {
    for (const s of msg.symbols) {
      const book = this.books.get(speed)!.get(s.symbol);
      if (book !== undefined && s.state !== 'live') book.live = false;
    }
  }

  private on_snapshot(speed: SpeedMs, msg: SnapshotMsg): void {
    const book = this.books.get(speed)!.get(msg.symbol);
    if (book === undefined) return;
    book.instrument = { symbol: msg.symbol, tick_size: msg.tick_size, lot_size: msg.lot_size, price_decimals: msg.price_decimals, size_decimals: msg.size_decimals };
    const continues = book.epoch === msg.epoch && book.seq >= 0 && msg.seq >= book.seq;
    if (!continues) {
      const restarted = book.seq >= 0;
      load(book.bids, msg.bids);
      load(book.asks, msg.asks);
      book.epoch = msg.epoch;
      book.seq = msg.seq;
      book.live = true;
      if (restarted) this.listener.on_restart(msg.symbol, speed);
      return;
    }
    // Same epoch, further on: the difference to the mirror is one ordinary update.
    book.live = true;
    if (msg.seq === book.seq) return;
    const bids = diff(book.bids, msg.bids);
    const asks = diff(book.asks, msg.asks);
    const first = book.seq + 1;
    book.seq = msg.seq;
    this.listener.on_update(msg.symbol, speed, first, msg.seq, bids, asks);
  }

  private on_delta(speed: SpeedMs, msg: DeltaMsg): void {
    const book = this.books.get(speed)!.get(msg.symbol);
    if (book === undefined) return;
    if (msg.epoch !== book.epoch || msg.seq_first !== book.seq + 1) {
      // The feed's frames are contiguous per view; a break here is a bug of ours, and clients must not see it as data.
      log.error({ symbol: msg.symbol, speed, epoch: msg.epoch, seq_first: msg.seq_first, mirror_epoch: book.epoch, mirror_seq: book.seq }, 'gateway source out of step; restarting the stream');
      book.seq = -1;
      book.live = false;
      this.listener.on_restart(msg.symbol, speed);
      return;
    }
    apply(book.bids, msg.bids);
    apply(book.asks, msg.asks);
    book.seq = msg.seq;
    book.live = true;
    this.listener.on_update(msg.symbol, speed, msg.seq_first, msg.seq, msg.bids, msg.asks);
  }
}

function load(side: Map<number, number>, levels: readonly L2Level[]): void {
  side.clear();
  for (const l of levels) side.set(l.price, l.size);
}

function apply(side: Map<number, number>, levels: readonly L2Level[]): void {
  for (const l of levels) {
    if (l.size === 0) side.delete(l.price);
    else side.set(l.price, l.size);
  }
}

/** The changes that turn `side` into `levels` (applied to `side` as well): new or changed sizes, and 0 for prices gone. */
function diff(side: Map<number, number>, levels: readonly L2Level[]): L2Level[] {
  const out: L2Level[] = [];
  const now = new Map<number, number>();
  for (const l of levels) now.set(l.price, l.size);
  for (const [price] of side) if (!now.has(price)) out.push({ price, size: 0, orders: 0 });
  for (const [price, size] of now) if (side.get(price) !== size) out.push({ price, size, orders: 0 });
  load(side, levels);
  return out;
}
