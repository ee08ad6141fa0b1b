// A deliberately independent client: it knows only docs/PROTOCOL.md and
// schemas/feed.fbs. It decodes with the flatc-generated classes (not our
// codec), recomputes the digest with its own BigInt implementation of the
// documented algorithm (not src/book/digest.ts), and checks every rule the
// protocol promises: contiguous seq ranges, digest after every frame, never
// crossed, trades in order. Tests read `violations` and the rebuilt books.
import * as flatbuffers from 'flatbuffers';
import WebSocket from 'ws';
import { Body } from '../../src/wire/generated/depthcast/feed/body.js';
import { Delta } from '../../src/wire/generated/depthcast/feed/delta.js';
import { Error as ErrorFrame } from '../../src/wire/generated/depthcast/feed/error.js';
import { Frame } from '../../src/wire/generated/depthcast/feed/frame.js';
import { Level } from '../../src/wire/generated/depthcast/feed/level.js';
import { Snapshot } from '../../src/wire/generated/depthcast/feed/snapshot.js';
import { Status } from '../../src/wire/generated/depthcast/feed/status.js';
import { Subscribe } from '../../src/wire/generated/depthcast/feed/subscribe.js';
import { Resync } from '../../src/wire/generated/depthcast/feed/resync.js';

const mask32 = 0xffffffffn;

/** docs/PROTOCOL.md "Digest", written from the text with BigInt. */
export function protocol_level_hash(side: number, price: bigint, size: bigint, orders: number): number {
  const words = [BigInt(side), price & mask32, (price >> 32n) & mask32, size & mask32, (size >> 32n) & mask32, BigInt(orders)];
  let h = 0x811c9dc5n;
  for (const w of words) h = ((h ^ w) * 0x01000193n) & mask32;
  h ^= h >> 16n;
  h = (h * 0x85ebca6bn) & mask32;
  h ^= h >> 13n;
  h = (h * 0xc2b2ae35n) & mask32;
  h ^= h >> 16n;
  return Number(h);
}

export interface RebuiltBook {
  symbol: string;
  depth: number;
  epoch: bigint;
  seq: bigint;
  bids: Map<bigint, { size: bigint; orders: number }>;
  asks: Map<bigint, { size: bigint; orders: number }>;
  snapshots: number;
  deltas: number;
  conflated: number;
  trades: number;
  folded_trades: number;
  last_trade_id: bigint;
}

export class ProtocolClient {
  readonly books = new Map<string, RebuiltBook>();
  readonly violations: string[] = [];
  readonly errors: { code: number; message: string; symbol: string }[] = [];
  readonly statuses: { symbol: string; state: number }[] = [];
  frames = 0;
  close_code: number | null = null;
  private ws!: WebSocket;

  static async connect(url: string): Promise<ProtocolClient> {
    const c = new ProtocolClient();
    c.ws = new WebSocket(url);
    c.ws.binaryType = 'nodebuffer';
    c.ws.on('message', (data: Buffer, is_binary: boolean) => {
      if (!is_binary) c.violations.push('text frame from server');
      c.on_frame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    c.ws.on('close', (code) => { c.close_code = code; });
    await new Promise<void>((resolve, reject) => {
      c.ws.once('open', () => resolve());
      c.ws.once('error', reject);
    });
    return c;
  }

  get socket(): WebSocket {
    return this.ws;
  }

  subscribe(symbols: string[], depth: number, interval_ms = 0): void {
    const b = new flatbuffers.Builder(256);
    const syms = Subscribe.createSymbolsVector(b, symbols.map((s) => b.createString(s)));
    const sub = Subscribe.createSubscribe(b, syms, depth, interval_ms);
    b.finish(Frame.createFrame(b, Body.Subscribe, sub));
    this.ws.send(b.asUint8Array().slice());
  }

  resync(symbol: string, depth: number): void {
    const b = new flatbuffers.Builder(64);
    const r = Resync.createResync(b, b.createString(symbol), depth);
    b.finish(Frame.createFrame(b, Body.Resync, r));
    this.ws.send(b.asUint8Array().slice());
  }

  send_raw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  close(): void {
    this.ws.close();
  }

  book(symbol: string, depth: number): RebuiltBook | undefined {
    return this.books.get(`${symbol}|${depth}`);
  }

  private on_frame(bytes: Uint8Array): void {
    this.frames++;
    const frame = Frame.getRootAsFrame(new flatbuffers.ByteBuffer(bytes));
    switch (frame.bodyType()) {
      case Body.Snapshot: this.on_snapshot(frame.body(new Snapshot()) as Snapshot); break;
      case Body.Delta: this.on_delta(frame.body(new Delta()) as Delta); break;
      case Body.Error: {
        const e = frame.body(new ErrorFrame()) as ErrorFrame;
        this.errors.push({ code: e.code(), message: e.message() ?? '', symbol: e.symbol() ?? '' });
        break;
      }
      case Body.Status: {
        const s = frame.body(new Status()) as Status;
        for (let i = 0; i < s.symbolsLength(); i++) {
          const st = s.symbols(i)!;
          this.statuses.push({ symbol: st.symbol()!, state: st.state() });
        }
        break;
      }
      case Body.Heartbeat:
      case Body.Pong:
        break;
      default:
        this.violations.push(`unexpected body type ${frame.bodyType()}`);
    }
  }

  private on_snapshot(s: Snapshot): void {
    const key = `${s.symbol()}|${s.depth()}`;
    const book: RebuiltBook = {
      symbol: s.symbol()!, depth: s.depth(), epoch: s.epoch(), seq: s.seq(), bids: new Map(), asks: new Map(),
      snapshots: (this.books.get(key)?.snapshots ?? 0) + 1, deltas: this.books.get(key)?.deltas ?? 0,
      conflated: this.books.get(key)?.conflated ?? 0, trades: this.books.get(key)?.trades ?? 0,
      folded_trades: this.books.get(key)?.folded_trades ?? 0, last_trade_id: this.books.get(key)?.last_trade_id ?? 0n,
    };
    const level = new Level();
    for (let i = 0; i < s.bidsLength(); i++) { s.bids(i, level); book.bids.set(level.price(), { size: level.size(), orders: level.orders() }); }
    for (let i = 0; i < s.asksLength(); i++) { s.asks(i, level); book.asks.set(level.price(), { size: level.size(), orders: level.orders() }); }
    this.books.set(key, book);
    this.check(book, s.digest(), 'snapshot');
  }

  private on_delta(d: Delta): void {
    const key = `${d.symbol()}|${d.depth()}`;
    const book = this.books.get(key);
    if (book === undefined) {
      this.violations.push(`${key}: delta before any snapshot`);
      return;
    }
    if (d.epoch() !== book.epoch) {
      this.violations.push(`${key}: delta of epoch ${d.epoch()} on a book of epoch ${book.epoch}`);
      return;
    }
    if (d.seqFirst() !== book.seq + 1n) {
      this.violations.push(`${key}: range break: seq_first ${d.seqFirst()} after seq ${book.seq}`);
    }
    if (d.seq() < d.seqFirst()) this.violations.push(`${key}: empty range ${d.seqFirst()}..${d.seq()}`);
    const level = new Level();
    for (const [side, n, get] of [[book.bids, d.bidsLength(), (i: number) => d.bids(i, level)], [book.asks, d.asksLength(), (i: number) => d.asks(i, level)]] as const) {
      for (let i = 0; i < n; i++) {
        get(i);
        if (level.size() === 0n) side.delete(level.price());
        else side.set(level.price(), { size: level.size(), orders: level.orders() });
      }
    }
    for (let i = 0; i < d.tradesLength(); i++) {
      const t = d.trades(i)!;
      if (book.last_trade_id !== 0n && t.tradeId() <= book.last_trade_id) this.violations.push(`${key}: trade id ${t.tradeId()} not increasing`);
      book.last_trade_id = t.tradeId();
      book.trades++;
    }
    const agg = d.tradeAggregate();
    if (agg !== null) {
      book.folded_trades += agg.count();
      book.last_trade_id = agg.lastTradeId();
    }
    book.seq = d.seq();
    book.deltas++;
    if (d.conflated()) book.conflated++;
    this.check(book, d.digest(), 'delta');
  }

  private check(book: RebuiltBook, digest: number, what: string): void {
    let d = 0;
    for (const [price, l] of book.bids) d = (d + protocol_level_hash(0, price, l.size, l.orders)) >>> 0;
    for (const [price, l] of book.asks) d = (d + protocol_level_hash(1, price, l.size, l.orders)) >>> 0;
    if (d !== digest) this.violations.push(`${book.symbol}|${book.depth}: digest mismatch after ${what} at seq ${book.seq}: ${d} != ${digest}`);
    if (book.depth > 0 && (book.bids.size > book.depth || book.asks.size > book.depth)) {
      this.violations.push(`${book.symbol}|${book.depth}: more than ${book.depth} levels shown`);
    }
    let best_bid = -1n;
    for (const p of book.bids.keys()) if (p > best_bid) best_bid = p;
    let best_ask = -1n;
    for (const p of book.asks.keys()) if (best_ask < 0n || p < best_ask) best_ask = p;
    if (best_bid >= 0n && best_ask >= 0n && best_bid >= best_ask) this.violations.push(`${book.symbol}|${book.depth}: crossed at seq ${book.seq}: ${best_bid} >= ${best_ask}`);
  }

  /** The rebuilt book as sorted arrays, best first (for comparison with the engine). */
  sorted(symbol: string, depth: number): { bids: [number, number, number][]; asks: [number, number, number][] } {
    const b = this.book(symbol, depth);
    if (!b) return { bids: [], asks: [] };
    const bids = [...b.bids].map(([p, l]) => [Number(p), Number(l.size), l.orders] as [number, number, number]).sort((x, y) => y[0] - x[0]);
    const asks = [...b.asks].map(([p, l]) => [Number(p), Number(l.size), l.orders] as [number, number, number]).sort((x, y) => x[0] - y[0]);
    return { bids, asks };
  }
}
