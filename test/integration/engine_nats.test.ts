// The engine on a real nats-server: a subscriber rebuilds every symbol's L2
// book from the events alone and must equal the engine's snapshot at the same
// seq; a late joiner starts from a snapshot taken while the engine runs and
// must converge to the same books. Also: contiguous seq, end markers, batches
// ending on them, error replies to bad requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BookEvent, type L2Level, type L2Snapshot, event_add, flag_end_of_engine_event, new_book_event, side_bid,
} from '../../src/book/types.js';
import { NatsBus } from '../../src/bus/nats_bus.js';
import { Subjects } from '../../src/bus/subjects.js';
import { type Config, default_config } from '../../src/config.js';
import { type EngineHandle, start_engine } from '../../src/engine/engine.js';
import { decode_engine_reply, engine_error_code, EventBatchReader } from '../../src/wire/engine_codec.js';
import { type NatsServerHandle, start_nats_server } from '../helpers/nats_server.js';

const config: Config = { ...default_config(), rate_orders_per_s: 20_000 };
const subjects = new Subjects(config.subject_prefix);
const empty = new Uint8Array(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An L2 book built from book events only (what a feed does), with strict checks. */
class RebuiltBook {
  private readonly sides = [new Map<number, { size: number; orders: number }>(), new Map<number, { size: number; orders: number }>()];
  seq = 0;

  static from_snapshot(s: L2Snapshot): RebuiltBook {
    const book = new RebuiltBook();
    for (const l of s.bids) book.sides[0].set(l.price, { size: l.size, orders: l.orders });
    for (const l of s.asks) book.sides[1].set(l.price, { size: l.size, orders: l.orders });
    book.seq = s.seq;
    return book;
  }

  apply(ev: Readonly<BookEvent>): void {
    if (ev.seq !== this.seq + 1) throw new Error(`seq ${ev.seq} after ${this.seq}`);
    this.seq = ev.seq;
    const levels = this.sides[ev.side];
    const level = levels.get(ev.price);
    if (ev.kind === event_add) {
      if (level === undefined) levels.set(ev.price, { size: ev.qty, orders: 1 });
      else { level.size += ev.qty; level.orders++; }
      return;
    }
    if (level === undefined || level.size < ev.qty) throw new Error(`seq ${ev.seq}: removes ${ev.qty} from level ${ev.price} that has ${level?.size ?? 0}`);
    level.size -= ev.qty;
    if (ev.remaining === 0) level.orders--;
    if (level.orders === 0) {
      if (level.size !== 0) throw new Error(`seq ${ev.seq}: level ${ev.price} has no orders but size ${level.size}`);
      levels.delete(ev.price);
    }
  }

  l2(): { bids: L2Level[]; asks: L2Level[] } {
    const list = (side: number) => [...this.sides[side]].map(([price, l]) => ({ price, size: l.size, orders: l.orders }))
      .sort((a, b) => (side === side_bid ? b.price - a.price : a.price - b.price));
    return { bids: list(0), asks: list(1) };
  }
}

interface SymbolStream {
  book: RebuiltBook;
  batches: number;
  end_markers: number;
  batches_ending_mid_event: number;
}

describe('engine on a real nats-server', () => {
  let server: NatsServerHandle;
  let engine_bus: NatsBus;
  let consumer_bus: NatsBus;
  let engine: EngineHandle;
  const streams = new Map<string, SymbolStream>();
  const epochs = new Set<number>();
  const errors: string[] = [];

  beforeAll(async () => {
    server = await start_nats_server();
    engine_bus = await NatsBus.connect({ url: server.url, name: 'engine', reconnect_wait_ms: 200 });
    consumer_bus = await NatsBus.connect({ url: server.url, name: 'consumer', reconnect_wait_ms: 200 });
    const reader = new EventBatchReader();
    const ev = new_book_event();
    consumer_bus.subscribe(subjects.events_all, (data, subject) => {
      try {
        reader.read(data);
        expect(subject).toBe(subjects.events(reader.symbol));
        epochs.add(reader.epoch);
        let stream = streams.get(reader.symbol);
        if (stream === undefined) streams.set(reader.symbol, stream = { book: new RebuiltBook(), batches: 0, end_markers: 0, batches_ending_mid_event: 0 });
        stream.batches++;
        for (let i = 0; i < reader.count; i++) {
          stream.book.apply(reader.event(i, ev));
          if ((ev.flags & flag_end_of_engine_event) !== 0) stream.end_markers++;
        }
        if ((ev.flags & flag_end_of_engine_event) === 0) stream.batches_ending_mid_event++;
      } catch (err) {
        errors.push((err as Error).message);
      }
    });
    await consumer_bus.flush();
  });

  afterAll(async () => {
    await engine?.stop();
    await engine_bus?.close();
    await consumer_bus?.close();
    await server?.stop();
  });

  it('publishes a stream from which every book rebuilds exactly, for a subscriber from the start and a late joiner', async () => {
    engine = await start_engine(config, engine_bus);
    await sleep(500);

    // Late joiner: subscribe, then ask for snapshots while the engine runs; apply only events above each snapshot's seq.
    const late_books = new Map<string, RebuiltBook>();
    const buffered = new Map<string, BookEvent[]>();
    const late_reader = new EventBatchReader();
    const late_ev = new_book_event();
    consumer_bus.subscribe(subjects.events_all, (data) => {
      try {
        late_reader.read(data);
        const book = late_books.get(late_reader.symbol);
        for (let i = 0; i < late_reader.count; i++) {
          late_reader.event(i, late_ev);
          if (book === undefined) {
            const list = buffered.get(late_reader.symbol) ?? [];
            list.push({ ...late_ev });
            buffered.set(late_reader.symbol, list);
          } else if (late_ev.seq > book.seq) {
            book.apply(late_ev);
          }
        }
      } catch (err) {
        errors.push(`late joiner: ${(err as Error).message}`);
      }
    });
    await consumer_bus.flush();
    for (const symbol of config.symbols) {
      const reply = decode_engine_reply(await consumer_bus.request(subjects.snapshot(symbol), empty, 5000));
      if (reply.kind !== 'snapshot') throw new Error(`snapshot of ${symbol}: ${JSON.stringify(reply)}`);
      expect(reply.snapshot.epoch).toBe(engine.epoch);
      const book = RebuiltBook.from_snapshot(reply.snapshot);
      for (const e of buffered.get(symbol) ?? []) if (e.seq > book.seq) book.apply(e);
      late_books.set(symbol, book);
    }

    await sleep(800);
    engine.pause(600_000);
    // During the pause the engine still answers: its snapshot, over NATS, must equal both rebuilt books at the same seq.
    for (const symbol of config.symbols) {
      const reply = decode_engine_reply(await consumer_bus.request(subjects.snapshot(symbol), empty, 5000));
      if (reply.kind !== 'snapshot') throw new Error(`snapshot of ${symbol}: ${JSON.stringify(reply)}`);
      const { snapshot } = reply;
      for (let i = 0; i < 300 && (streams.get(symbol)?.book.seq ?? 0) < snapshot.seq; i++) await sleep(10);
      const stream = streams.get(symbol)!;
      expect(stream.book.seq, symbol).toBe(snapshot.seq);
      expect(stream.book.l2(), symbol).toEqual({ bids: snapshot.bids, asks: snapshot.asks });
      expect(late_books.get(symbol)!.seq, symbol).toBe(snapshot.seq);
      expect(late_books.get(symbol)!.l2(), symbol).toEqual({ bids: snapshot.bids, asks: snapshot.asks });
      expect(snapshot.bids.length, symbol).toBeGreaterThan(0);
      expect(snapshot.asks.length, symbol).toBeGreaterThan(0);
      expect(snapshot.last_trade_id, symbol).toBeGreaterThan(0);
    }

    await engine.stop();
    await consumer_bus.flush();
    await sleep(100);
    expect(errors).toEqual([]);
    expect([...epochs]).toEqual([engine.epoch]);
    const stats = engine.stats();
    let events = 0;
    for (const symbol of config.symbols) {
      const stream = streams.get(symbol)!;
      const snapshot = engine.snapshot(symbol);
      expect(stream.book.seq).toBe(snapshot.seq);
      expect(stream.book.l2()).toEqual({ bids: snapshot.bids, asks: snapshot.asks });
      expect(stream.batches).toBe(stats.by_symbol[symbol].batches);
      expect(stream.end_markers).toBeGreaterThan(100);
      // With the default bounds (512 events) no engine event here outgrows a batch.
      expect(stream.batches_ending_mid_event).toBe(0);
      events += stream.book.seq;
    }
    expect(events).toBe(stats.events);
    expect(stats.publish_failures).toBe(0);
  });

  it('answers instrument requests, and malformed snapshot requests with error codes', async () => {
    const other = await start_engine(config, engine_bus);
    try {
      const instruments = decode_engine_reply(await consumer_bus.request(subjects.instruments, empty, 5000));
      expect(instruments.kind === 'instruments' && instruments.instruments.map((i) => i.symbol)).toEqual(config.symbols);
      const unknown = decode_engine_reply(await consumer_bus.request(subjects.snapshot('NOPE-USD'), empty, 5000));
      expect(unknown).toMatchObject({ kind: 'error', code: engine_error_code.unknown_symbol });
      const bad_symbol = decode_engine_reply(await consumer_bus.request(`${config.subject_prefix}.snapshot.lower`, empty, 5000));
      expect(bad_symbol).toMatchObject({ kind: 'error', code: engine_error_code.bad_request });
      const with_body = decode_engine_reply(await consumer_bus.request(subjects.snapshot('BTC-USD'), new TextEncoder().encode('{"depth":10}'), 5000));
      expect(with_body).toMatchObject({ kind: 'error', code: engine_error_code.bad_request });
    } finally {
      await other.stop();
    }
  });
});
