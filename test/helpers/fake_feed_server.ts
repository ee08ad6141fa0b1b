// An in-process fake of the depthcast feed, for deterministic client tests:
// a `ws` WebSocketServer on 127.0.0.1 (random port) speaking the real binary
// protocol through FrameEncoder, with books the test scripts level by level
// and hooks that break the stream on purpose: gaps, duplicates, reordering,
// corrupt digests, garbage frames, a half-open socket, a restart with a new
// epoch (optionally refusing connections for a while).
//
// The fake keeps a full book per symbol; every (connection, symbol, depth)
// subscription remembers the view it last showed and gets a Delta with the
// difference (levels entering and leaving its window included) and the
// digest of its new view. A version that changes nothing in a view sends
// nothing; the next Delta's range covers it, as in the protocol.
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { digest_of } from '../../src/book/digest.js';
import { error_code } from '../../src/wire/codes.js';
import { decode_client_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import type { ClientMsg, SymbolStatusRec, TradeAggregateRec, TradeIdRange, TradeRec } from '../../src/wire/feed_types.js';
import { side_bid, type L2Level, type Side } from '../../src/book/types.js';
import { now_ns } from '../../src/util/clock.js';

/** [price, size, orders]; size 0 removes the level. */
export type LevelTuple = [price: number, size: number, orders: number];

export interface BookChange {
  bids?: LevelTuple[];
  asks?: LevelTuple[];
  trades?: Omit<TradeRec, 'ts_engine_ns'>[];
  /** Trade ids the (fake) feed never had, named in the Delta (PROTOCOL.md §5.5; streaming only). */
  missing_trades?: TradeIdRange;
}

export type FaultKind = 'drop' | 'duplicate' | 'reorder' | 'corrupt_digest' | 'wrong_epoch';

interface Fault {
  kind: FaultKind;
  symbol: string | undefined;
}

class FakeBook {
  readonly bids = new Map<number, { size: number; orders: number }>();
  readonly asks = new Map<number, { size: number; orders: number }>();
  seq = 0;
  ts_engine_ns = 0;
  constructor(readonly symbol: string) {}

  apply(levels: LevelTuple[] | undefined, side: Side): void {
    const map = side === side_bid ? this.bids : this.asks;
    for (const [price, size, orders] of levels ?? []) {
      if (size === 0) map.delete(price);
      else map.set(price, { size, orders });
    }
  }

  view(depth: number): { bids: L2Level[]; asks: L2Level[] } {
    const top = (map: Map<number, { size: number; orders: number }>, best_first: (a: number, b: number) => number) => {
      const prices = [...map.keys()].sort(best_first);
      const shown = depth === 0 ? prices : prices.slice(0, depth);
      return shown.map((price) => ({ price, ...map.get(price)! }));
    };
    return { bids: top(this.bids, (a, b) => b - a), asks: top(this.asks, (a, b) => a - b) };
  }
}

interface Subscription {
  symbol: string;
  depth: number;
  shown: { bids: L2Level[]; asks: L2Level[] };
  last_seq: number;
  held: Uint8Array | null; // a reordered frame waiting for the next one
}

interface Conn {
  id: number;
  ws: WebSocket;
  subs: Subscription[];
  frozen: boolean; // half-open: sends nothing, answers nothing, never closes
  last_send_ms: number;
}

export interface FakeFeedServerOptions {
  symbols?: string[];
  heartbeat_interval_ms?: number;
  tick_size?: string;
  price_decimals?: number;
}

function diff_side(before: L2Level[], after: L2Level[]): L2Level[] {
  const old = new Map(before.map((l) => [l.price, l]));
  const out: L2Level[] = [];
  for (const l of after) {
    const o = old.get(l.price);
    if (!o || o.size !== l.size || o.orders !== l.orders) out.push(l);
    old.delete(l.price);
  }
  for (const price of old.keys()) out.push({ price, size: 0, orders: 0 });
  return out;
}

export class FakeFeedServer {
  epoch = 1;
  /** Every client message received, in order (not from frozen connections). */
  readonly received: { conn: number; msg: ClientMsg }[] = [];
  /** Connections accepted so far (including refused-while-down attempts: see refused). */
  accepted = 0;
  refused = 0;
  private readonly books = new Map<string, FakeBook>();
  private readonly conns = new Set<Conn>();
  private readonly encoder = new FrameEncoder();
  private faults: Fault[] = [];
  private down_until_ms = 0;
  private hold_snapshots = false;
  private conflating = false;
  private folded_trades: TradeRec[] = [];
  private held_snapshots: (() => void)[] = [];
  private next_conn_id = 1;
  private heartbeat_timer: ReturnType<typeof setInterval>;

  private constructor(private readonly wss: WebSocketServer, readonly url: string, private readonly options: FakeFeedServerOptions) {
    for (const s of options.symbols ?? ['BTC-USD', 'ETH-USD']) this.books.set(s, new FakeBook(s));
    const interval = options.heartbeat_interval_ms ?? 1000;
    this.heartbeat_timer = setInterval(() => this.heartbeats(interval), Math.max(5, Math.floor(interval / 2)));
    wss.on('connection', (ws) => this.on_connection(ws));
  }

  static async start(options: FakeFeedServerOptions = {}): Promise<FakeFeedServer> {
    // verifyClient needs the instance, which needs the listening server: a box breaks the cycle.
    const box: { self?: FakeFeedServer } = {};
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      path: '/ws',
      // While "down" after a restart, refuse the upgrade: the client sees a failed connect.
      verifyClient: (_info, done) => {
        const self = box.self;
        if (self && Date.now() < self.down_until_ms) {
          self.refused++;
          done(false, 503, 'restarting');
        } else done(true);
      },
    });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    const port = (wss.address() as AddressInfo).port;
    box.self = new FakeFeedServer(wss, `ws://127.0.0.1:${port}/ws`, options);
    return box.self;
  }

  // ---- scripting the books ----

  /** One book version: applies the level changes, bumps seq, sends Deltas to subscribers. */
  update(symbol: string, change: BookChange): number {
    const book = this.book_of(symbol);
    book.apply(change.bids, 0);
    book.apply(change.asks, 1);
    book.seq++;
    book.ts_engine_ns = now_ns();
    const trades: TradeRec[] = (change.trades ?? []).map((t) => ({ ...t, ts_engine_ns: book.ts_engine_ns }));
    if (this.conflating) {
      this.folded_trades.push(...trades);
      return book.seq;
    }
    for (const conn of this.conns) {
      for (const sub of conn.subs) if (sub.symbol === symbol) this.send_delta(conn, sub, book, trades, null, change.missing_trades);
    }
    return book.seq;
  }

  /** The fake's current view of a book, as a client should hold it. */
  view(symbol: string, depth: number): { bids: L2Level[]; asks: L2Level[] } {
    return this.book_of(symbol).view(depth);
  }

  seq(symbol: string): number {
    return this.book_of(symbol).seq;
  }

  /** Replaces a book's content without telling anyone (as after an engine restart). */
  reset_book(symbol: string, change: BookChange = {}): void {
    const book = this.book_of(symbol);
    book.bids.clear();
    book.asks.clear();
    book.apply(change.bids, 0);
    book.apply(change.asks, 1);
    book.seq = 0;
  }

  // ---- faults ----

  /** Breaks the next Delta (of `symbol`, or of any symbol) in the way named. */
  inject(kind: FaultKind, symbol?: string): void {
    this.faults.push({ kind, symbol });
  }

  /** Sends raw bytes (e.g. garbage) to every live connection. */
  send_raw(bytes: Uint8Array | string): void {
    for (const conn of this.conns) if (!conn.frozen) conn.ws.send(bytes);
  }

  /** A WebSocket ping to every live connection; resolves with the ms until the first pong comes back. */
  ping_all(): Promise<number> {
    const sent_ms = performance.now();
    return new Promise((resolve) => {
      for (const conn of this.conns) {
        if (conn.frozen) continue;
        conn.ws.once('pong', () => resolve(performance.now() - sent_ms));
        conn.ws.ping(Buffer.alloc(8));
      }
    });
  }

  /**
   * Until flush_conflated(), versions are applied but not sent, as for a slow
   * client; then each subscription gets one conflated Delta covering them all,
   * its trades folded into a TradeAggregate.
   */
  pause_deltas(): void {
    this.conflating = true;
  }

  flush_conflated(options: { as_snapshot?: boolean } = {}): void {
    this.conflating = false;
    const trades = this.folded_trades;
    this.folded_trades = [];
    const aggregate: TradeAggregateRec | null = trades.length === 0 ? null : {
      count: trades.length,
      first_trade_id: trades[0].trade_id,
      last_trade_id: trades[trades.length - 1].trade_id,
      volume: trades.reduce((v, t) => v + t.size, 0),
      vwap: trades.reduce((v, t) => v + t.price * t.size, 0) / trades.reduce((v, t) => v + t.size, 0),
      high: Math.max(...trades.map((t) => t.price)),
      low: Math.min(...trades.map((t) => t.price)),
      last: trades[trades.length - 1].price,
      buy_volume: trades.filter((t) => t.aggressor === side_bid).reduce((v, t) => v + t.size, 0),
    };
    for (const conn of this.conns) {
      for (const sub of conn.subs) {
        if (options.as_snapshot) this.send_snapshot(conn, sub, aggregate);
        else this.send_delta(conn, sub, this.book_of(sub.symbol), [], aggregate);
      }
    }
  }

  /** Sends a Status frame to every live connection. */
  status(symbols: SymbolStatusRec[]): void {
    for (const conn of this.conns) this.send(conn, this.encoder.status({ symbols }));
  }

  /** Existing connections go silent both ways without closing (a half-open socket). */
  half_open(): void {
    for (const conn of this.conns) conn.frozen = true;
  }

  /** Hold snapshot replies until release_snapshots(): lets Deltas reach a client first. */
  pause_snapshots(): void {
    this.hold_snapshots = true;
  }

  release_snapshots(): void {
    this.hold_snapshots = false;
    const held = this.held_snapshots;
    this.held_snapshots = [];
    for (const send of held) send();
  }

  /**
   * A restart: every connection closed (1001 going away), epoch + 1, seq
   * from 0; with down_ms, connections are refused for that long.
   */
  restart(options: { down_ms?: number } = {}): void {
    this.epoch++;
    for (const book of this.books.values()) book.seq = 0;
    this.down_until_ms = Date.now() + (options.down_ms ?? 0);
    for (const conn of this.conns) conn.ws.close(1001, 'restart');
    this.conns.clear();
  }

  /** Closes every connection with a close code (e.g. 4003 unauthorized) without restarting. */
  close_all(code: number, reason: string): void {
    for (const conn of this.conns) conn.ws.close(code, reason);
    this.conns.clear();
  }

  connection_count(): number {
    return this.conns.size;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat_timer);
    for (const conn of this.conns) conn.ws.terminate();
    this.conns.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // ---- protocol ----

  private book_of(symbol: string): FakeBook {
    const book = this.books.get(symbol);
    if (!book) throw new Error(`fake feed: no symbol ${symbol}`);
    return book;
  }

  private on_connection(ws: WebSocket): void {
    const conn: Conn = { id: this.next_conn_id++, ws, subs: [], frozen: false, last_send_ms: Date.now() };
    this.accepted++;
    this.conns.add(conn);
    ws.on('message', (data: Buffer, is_binary: boolean) => this.on_message(conn, data, is_binary));
    ws.on('close', () => this.conns.delete(conn));
    ws.on('error', () => this.conns.delete(conn));
  }

  private on_message(conn: Conn, data: Buffer, is_binary: boolean): void {
    if (conn.frozen) return;
    if (!is_binary) {
      this.send(conn, this.encoder.error({ code: error_code.text_frame, message: 'binary frames only', symbol: '' }));
      return;
    }
    let msg: ClientMsg;
    try {
      msg = decode_client_frame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch (err) {
      this.send(conn, this.encoder.error({ code: (err as { code?: number }).code ?? error_code.bad_frame, message: (err as Error).message, symbol: '' }));
      return;
    }
    this.received.push({ conn: conn.id, msg });
    switch (msg.type) {
      case 'subscribe':
        for (const symbol of msg.symbols) {
          if (!this.books.has(symbol)) {
            this.send(conn, this.encoder.error({ code: error_code.unknown_symbol, message: `unknown symbol ${symbol}`, symbol }));
            continue;
          }
          let sub = conn.subs.find((s) => s.symbol === symbol && s.depth === msg.depth);
          if (!sub) {
            sub = { symbol, depth: msg.depth, shown: { bids: [], asks: [] }, last_seq: 0, held: null };
            conn.subs.push(sub);
          }
          this.snapshot_later(conn, sub);
        }
        break;
      case 'unsubscribe':
        conn.subs = conn.subs.filter((s) => !(msg.symbols.includes(s.symbol) && s.depth === msg.depth));
        break;
      case 'resync': {
        const sub = conn.subs.find((s) => s.symbol === msg.symbol && s.depth === msg.depth);
        if (!sub) this.send(conn, this.encoder.error({ code: error_code.not_subscribed, message: 'not subscribed', symbol: msg.symbol }));
        else this.snapshot_later(conn, sub);
        break;
      }
      case 'ping':
        this.send(conn, this.encoder.pong({ nonce: msg.nonce, client_time_ns: msg.client_time_ns, server_time_ns: now_ns() }));
        break;
    }
  }

  private snapshot_later(conn: Conn, sub: Subscription): void {
    const send = () => this.send_snapshot(conn, sub);
    if (this.hold_snapshots) this.held_snapshots.push(send);
    else send();
  }

  private send_snapshot(conn: Conn, sub: Subscription, aggregate: TradeAggregateRec | null = null): void {
    if (!conn.subs.includes(sub)) return;
    const book = this.book_of(sub.symbol);
    const view = book.view(sub.depth);
    sub.shown = view;
    sub.last_seq = book.seq;
    sub.held = null;
    const t = now_ns();
    this.send(conn, this.encoder.snapshot({
      symbol: sub.symbol, depth: sub.depth, epoch: this.epoch, seq: book.seq, digest: digest_of(view.bids, view.asks),
      tick_size: this.options.tick_size ?? '0.01', lot_size: '0.001', price_decimals: this.options.price_decimals ?? 2, size_decimals: 3,
      bids: view.bids, asks: view.asks, ts_engine_ns: book.ts_engine_ns, ts_ingest_ns: t, ts_send_ns: t,
      trades: [], trade_aggregate: aggregate,
    }));
  }

  private take_fault(symbol: string): Fault | undefined {
    const i = this.faults.findIndex((f) => f.symbol === undefined || f.symbol === symbol);
    return i < 0 ? undefined : this.faults.splice(i, 1)[0];
  }

  private send_delta(conn: Conn, sub: Subscription, book: FakeBook, trades: TradeRec[], aggregate: TradeAggregateRec | null = null, missing_trades?: TradeIdRange): void {
    const view = book.view(sub.depth);
    const bids = diff_side(sub.shown.bids, view.bids);
    const asks = diff_side(sub.shown.asks, view.asks);
    if (bids.length === 0 && asks.length === 0 && trades.length === 0 && aggregate === null) return; // covered by the next range
    const seq_first = sub.last_seq + 1;
    sub.shown = view;
    sub.last_seq = book.seq;
    const fault = this.take_fault(sub.symbol);
    const digest = digest_of(view.bids, view.asks);
    const frame = this.encoder.delta({
      symbol: sub.symbol, depth: sub.depth, epoch: fault?.kind === 'wrong_epoch' ? this.epoch + 100 : this.epoch,
      seq_first, seq: book.seq, digest: fault?.kind === 'corrupt_digest' ? (digest ^ 0x5a5a5a5a) >>> 0 : digest,
      bids, asks, trades, trade_aggregate: aggregate, updates_merged: book.seq - seq_first + 1, conflated: aggregate !== null || book.seq > seq_first,
      ts_engine_ns: book.ts_engine_ns, ts_ingest_ns: book.ts_engine_ns, ts_send_ns: now_ns(), missing_trades,
    });
    if (fault?.kind === 'drop') return;
    if (fault?.kind === 'reorder') {
      sub.held = frame;
      return;
    }
    this.send(conn, frame);
    if (fault?.kind === 'duplicate') this.send(conn, frame);
    if (sub.held) {
      const held = sub.held;
      sub.held = null;
      this.send(conn, held);
    }
  }

  private send(conn: Conn, frame: Uint8Array): void {
    if (conn.frozen) return;
    conn.last_send_ms = Date.now();
    conn.ws.send(frame);
  }

  private heartbeats(interval_ms: number): void {
    const now = Date.now();
    for (const conn of this.conns) {
      if (!conn.frozen && now - conn.last_send_ms >= interval_ms) this.send(conn, this.encoder.heartbeat({ server_time_ns: now_ns() }));
    }
  }
}
