// A rebuild within the epoch continues every view with one Delta (issue 24,
// docs/PROTOCOL.md §5.5): batches carrying trades are lost on the feed's only
// path (the embedded bus, no stream), the feed rebuilds the book from the
// engine's snapshot of the same epoch, and its clients — the SDK at depth 10
// and full depth, and the independent protocol client — get no Snapshot past
// their first: one Delta, the difference between their book and the rebuilt
// one, naming the trades that never reached the feed. Every frame's digest is
// checked (the SDK's own check and test/helpers/view_mirror.ts); trade ids are
// accounted for exactly once (listed, folded or named missing), by the
// protocol client and by the SDK's events (`trade`, `trade_aggregate`,
// `trades_missing` on the client and on each book); at the end every book
// equals the engine's. With the engine's answer delayed, the live batches the
// feed buffered meanwhile (at or below the snapshot's seq) are listed, and
// only the lost batch's trades are named missing.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { start_feed_service, type FeedService } from '../../src/app.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { Subjects } from '../../src/bus/subjects.js';
import { connect, type FeedClient, type TradeIdRange } from '../../src/client/index.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { FaultBus, lose_next_trades } from '../helpers/fault_bus.js';
import { ProtocolClient } from '../helpers/protocol_client.js';
import { rows } from '../helpers/raw_client.js';
import { test_config, wait_for } from '../helpers/service.js';

const symbol = 'BTC-USD';

/** Answers requests (the feed's snapshot request to the engine) `delay_ms` late: the feed buffers live batches meanwhile. */
class SlowAnswerBus extends FaultBus {
  constructor(inner: MemoryBus, private readonly delay_ms: number) {
    super(inner);
  }

  override async request(subject: string, data: Uint8Array, timeout_ms: number): Promise<Uint8Array> {
    await new Promise((r) => setTimeout(r, this.delay_ms));
    return super.request(subject, data, timeout_ms);
  }
}
const depths = [10, 0];

describe('a rebuild within the epoch', () => {
  let engine: EngineHandle | undefined;
  let service: FeedService | undefined;
  const clients: FeedClient[] = [];
  afterEach(async () => {
    for (const c of clients) c.close();
    clients.length = 0;
    await service?.stop();
    await engine?.stop();
  });

  /** Loses the first batch with a trade after every view is synced; `request_delay_ms`: the engine's snapshot answer comes that late. */
  async function rebuild(request_delay_ms: number): Promise<{ lost_trade_ids: number[] }> {
    const bus = new MemoryBus();
    const fault = new SlowAnswerBus(bus, request_delay_ms);
    const config = test_config({ symbols: [symbol], rate_orders_per_s: 800, engine_heartbeat_interval_ms: 100 });
    engine = await start_engine(config, bus);
    service = await start_feed_service(config, fault);
    await wait_for('live', () => service!.feed.health().ready);
    const raw = await ProtocolClient.connect(service.url);
    for (const d of depths) raw.subscribe([symbol], d);
    /** What each SDK client's events said about trade ids: listed, folded (count), named missing (client and book). */
    const seen = depths.map(() => ({ listed: [] as number[], folded: 0, missing: [] as TradeIdRange[], missing_on_book: [] as TradeIdRange[] }));
    for (const [i, depth] of depths.entries()) {
      const c = connect(service.url, { WebSocket: WebSocket as never, heartbeat_interval_ms: 200 });
      const book = c.subscribe(symbol, { depth });
      c.on('trade', (_b, t) => seen[i].listed.push(t.trade_id));
      c.on('trade_aggregate', (_b, a) => { seen[i].folded += a.count; });
      c.on('trades_missing', (b, range) => {
        expect(b).toBe(book);
        seen[i].missing.push(range);
      });
      book.on('trades_missing', (range) => seen[i].missing_on_book.push(range));
      clients.push(c);
    }
    await wait_for('every view synced', () => clients.every((c) => c.books().every((b) => b.state === 'synced'))
      && depths.every((d) => raw.book(symbol, d) !== undefined));
    // Lose the next batch that carries a trade (an Execute event), so trades are missing, not merely late.
    const lost_trade_ids = lose_next_trades(fault, new Subjects(config.subject_prefix).events(symbol));
    const f = service.feed.symbols.get(symbol)!;
    await wait_for('rebuilt and continued', () => f.stats.rebuilds_continued >= 1 && f.state === 'live');
    await engine.stop();
    const final = engine.snapshot(symbol);
    // Every book equals the engine's final one, not necessarily at its seq: a last engine event that changes nothing in a
    // view sends no frame (PROTOCOL §5.2, test/helpers/engine_book.ts). The protocol client gets the same frames as the SDK client of its depth.
    const at_final = (i: number): boolean => {
      const b = clients[i].book(symbol, depths[i]);
      return at_engine_book(b, final, depths[i]) && raw.book(symbol, depths[i])!.seq === b!.seq;
    };
    await wait_for('every book equal to the engine\'s final book', () => f.committed_seq === final.seq && depths.every((_, i) => at_final(i)))
      .catch((err: Error) => {
        const seqs = depths.map((d, i) => `depth ${d}: sdk ${clients[i].book(symbol, d)!.seq}, protocol ${raw.book(symbol, d)!.seq}`);
        throw new Error(`${err.message} (engine ${final.seq}, feed ${f.committed_seq}, ${seqs.join('; ')})`);
      });

    for (const [i, c] of clients.entries()) {
      const b = c.book(symbol, depths[i])!;
      expect(rows(b.bids)).toEqual(rows(final.bids, depths[i]));
      expect(rows(b.asks)).toEqual(rows(final.asks, depths[i]));
      const k = c.counters;
      expect({ snapshots: k.snapshots, digest: k.digest_mismatches, range: k.range_breaks, resyncs: k.resyncs })
        .toEqual({ snapshots: 1, digest: 0, range: 0, resyncs: 0 });
      // The SDK said which trades will never come, once, on the client and on the book, and none of them came.
      const { listed, folded, missing, missing_on_book } = seen[i];
      // Exactly the lost batch's trades: those the feed applied before the gap were flushed to the views first, and
      // those of batches it buffered while rebuilding are listed.
      expect(missing, `depth ${depths[i]}: trades_missing events`)
        .toEqual([{ first_trade_id: Math.min(...lost_trade_ids), last_trade_id: Math.max(...lost_trade_ids) }]);
      expect(missing_on_book).toEqual(missing);
      const missing_ids = missing.flatMap((r) => Array.from({ length: r.last_trade_id - r.first_trade_id + 1 }, (_, j) => r.first_trade_id + j));
      expect(k.trades_missing).toBe(missing_ids.length);
      expect(missing_ids.filter((id) => listed.includes(id))).toEqual([]);
      expect(listed.length + folded + missing_ids.length).toBe(Math.max(...listed, ...missing_ids) - Math.min(...listed, ...missing_ids) + 1);
    }
    expect(raw.violations).toEqual([]);
    for (const d of depths) {
      const v = raw.book(symbol, d)!;
      expect(v.snapshots, `depth ${d}`).toBe(1);
      // Every trade id since the first seen is listed, folded or named missing, once (the mirror checks the order).
      expect(v.last_trade_id - v.first_trade_id + 1).toBe(v.trades_listed + v.trades_folded + v.trades_missing);
    }
    // The dropped batch carried trades: the feed never had them, and says so.
    for (const d of depths) expect(raw.book(symbol, d)!.trades_missing, `depth ${d}`).toBe(lost_trade_ids.length);
    expect(f.stats.recoveries).toBe(1);
    expect(service.feed.counters.client_resyncs_total).toBe(0);
    return { lost_trade_ids };
  }

  it('continues every view with one Delta naming the missing trades: no Snapshot, every digest right', async () => {
    await rebuild(0);
  });

  it('lists the trades of batches buffered while rebuilding: only the lost batch\'s are named missing', async () => {
    const { lost_trade_ids } = await rebuild(400);
    // The feed buffered live batches for 400 ms at 800 orders/s, at or below the snapshot's seq: their trades were
    // listed (rebuild() asserts the missing range is exactly the lost batch's).
    const f = service!.feed.symbols.get(symbol)!;
    expect(f.stats.duplicates_skipped).toBeGreaterThan(0);
    expect(lost_trade_ids.length).toBeGreaterThan(0);
  });
});
