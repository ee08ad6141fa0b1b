// Feeds that recover from the durable JetStream stream, not from the engine
// (real nats-server with -js, real feeds and sockets, an independent protocol
// client): a feed started after the engine stopped serves the last book and
// says the engine is silent; a new engine brings a new epoch; a NATS restart
// with the stream on disk needs no engine; a gap in a live book is filled from
// the stream with no Snapshot to clients.
import { afterEach, describe, expect, it } from 'vitest';
import { start_feed_service, type FeedService } from '../../src/app.js';
import { NatsBus } from '../../src/bus/nats_bus.js';
import { Subjects } from '../../src/bus/subjects.js';
import { start_engine } from '../../src/engine/engine.js';
import type { L2Snapshot } from '../../src/book/types.js';
import { FaultBus } from '../helpers/fault_bus.js';
import { start_nats_server } from '../helpers/nats_server.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { ProtocolClient } from '../helpers/protocol_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD'];
const live = 2;

function levels(l: L2Snapshot['bids']): [number, number, number][] {
  return l.map((x) => [x.price, x.size, x.orders]);
}

describe('feeds recover from the stream', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });

  async function setup() {
    const nats = await start_nats_server({ jetstream: true });
    cleanup.push(() => nats.stop());
    const config = test_config({
      symbols, nats_url: nats.url, rate_orders_per_s: 1000, engine_heartbeat_interval_ms: 100,
      engine_silence_ms_max: 600, stream_snapshot_interval_ms: 200,
    });
    const bus = async (name: string) => {
      const b = await NatsBus.connect({ url: nats.url, name, reconnect_wait_ms: 100 });
      cleanup.push(() => b.close());
      return b;
    };
    const engine = async () => {
      const e = await start_engine(config, await bus('engine'));
      cleanup.push(() => e.stop());
      return e;
    };
    const feed = async (wrap?: (b: NatsBus) => FaultBus) => {
      const b = await bus('feed');
      const f = await start_feed_service(config, wrap ? wrap(b) : b);
      cleanup.push(() => f.stop());
      return f;
    };
    const client = async (f: FeedService, depth: number) => {
      const c = await ProtocolClient.connect(f.url);
      cleanup.push(() => c.close());
      c.subscribe(symbols, depth);
      return c;
    };
    return { nats, config, engine, feed, client };
  }

  function expect_book(c: ProtocolClient, final: Record<string, L2Snapshot>): void {
    for (const s of symbols) {
      expect(c.sorted(s, 0).bids).toEqual(levels(final[s].bids));
      expect(c.sorted(s, 0).asks).toEqual(levels(final[s].asks));
    }
    expect(c.violations).toEqual([]);
  }

  it('a feed started after the engine stopped serves the last book, engine-silent; a new engine goes live with its epoch; a NATS restart needs no engine', async () => {
    const { nats, engine, feed, client } = await setup();
    const first = await engine();
    await sleep(800);
    await first.stop();
    const final: Record<string, L2Snapshot> = {};
    for (const s of symbols) final[s] = first.snapshot(s);

    // Nothing answers snapshot requests now: only the stream can give this feed its books.
    const late = await feed();
    const c = await client(late, 0);
    await wait_for('the last book', () => symbols.every((s) => at_engine_book(c.book(s, 0), final[s])));
    expect_book(c, final);
    for (const s of symbols) {
      const f = late.feed.symbols.get(s)!;
      expect(f.last_recovery_source).toBe('stream');
      expect(f.stats.snapshot_requests).toBe(0);
    }
    // Honest about the engine: Status says it is silent, and the feed is not ready.
    await wait_for('engine silent told', () => symbols.every((s) => c.statuses.some((st) => st.symbol === s && st.state === live && st.engine_silent)), 20_000);
    expect(late.feed.health().ready).toBe(false);
    expect(late.feed.health().symbols).toEqual(Object.fromEntries(symbols.map((s) => [s, 'engine_silent'])));
    // Never called live with the engine heard: every Live Status so far says engine_silent.
    expect(c.statuses.filter((st) => st.state === live).every((st) => st.engine_silent)).toBe(true);

    // The broker restarts with the stream on disk; the engine is still down: a feed started now still has the books.
    await nats.restart();
    const after_restart = await feed();
    const c2 = await client(after_restart, 0);
    await wait_for('books after the restart', () => symbols.every((s) => at_engine_book(c2.book(s, 0), final[s])));
    expect_book(c2, final);
    for (const s of symbols) expect(after_restart.feed.symbols.get(s)!.stats.snapshot_requests).toBe(0);

    // A new engine: a new epoch, live again, and no longer silent.
    const second = await engine();
    expect(second.epoch).toBeGreaterThan(first.epoch);
    await wait_for('new epoch on both feeds', () => [c, c2].every((cl) => symbols.every((s) => cl.book(s, 0)?.epoch === second.epoch)), 20_000);
    await wait_for('ready again', () => late.feed.health().ready && after_restart.feed.health().ready, 20_000);
    const last_status = (cl: ProtocolClient, s: string) => cl.statuses.filter((st) => st.symbol === s).at(-1)!;
    // The feed is ready before its Status reaches the client: wait for the client's copy.
    await wait_for('live, engine heard, told', () => symbols.every((s) => last_status(c, s).state === live && last_status(c, s).engine_silent === false));
    for (const s of symbols) expect(last_status(c, s)).toMatchObject({ state: live, engine_silent: false });
    await sleep(300);
    await second.stop();
    for (const s of symbols) final[s] = second.snapshot(s);
    await wait_for('final books of the new epoch', () => [c, c2].every((cl) => symbols.every((s) => at_engine_book(cl.book(s, 0), final[s]))));
    expect_book(c, final);
    expect_book(c2, final);
  });

  it('a gap in a live book is filled from the stream: clients get Deltas only, no Snapshot', async () => {
    const { engine, feed, client, config } = await setup();
    const e = await engine();
    // A feed fills gaps from the stream only once the stream has answered it. The stream holds every
    // symbol's snapshot after one stream_snapshot_interval_ms: a feed started sooner loads from the
    // engine instead, and would rebuild from a snapshot on a gap (it failed CI that way once).
    await sleep(3 * config.stream_snapshot_interval_ms);
    let fault!: FaultBus;
    const f = await feed((b) => (fault = new FaultBus(b)));
    await wait_for('feed live', () => f.feed.health().ready);
    await wait_for('books loaded from the stream', () => symbols.every((s) => f.feed.symbols.get(s)!.last_recovery_source === 'stream'));
    const c = await client(f, 0);
    const c10 = await client(f, 10);
    await wait_for('snapshots', () => symbols.every((s) => c.book(s, 0) !== undefined && c10.book(s, 10) !== undefined));
    // Drop one batch of each symbol on this feed's live path: both see a gap; the stream has the batches.
    const dropped = new Set<string>();
    fault.decide = (subject) => {
      const symbol = new Subjects().symbol_of(subject);
      if (!dropped.has(symbol)) {
        dropped.add(symbol);
        return 'drop';
      }
      return 'deliver';
    };
    await wait_for('filled', () => symbols.every((s) => f.feed.symbols.get(s)!.stats.stream_fills >= 1), 20_000);
    await sleep(300);
    await e.stop();
    const final: Record<string, L2Snapshot> = {};
    for (const s of symbols) final[s] = e.snapshot(s);
    // Views reach the engine's book, not necessarily its seq (test/helpers/engine_book.ts).
    await wait_for('final books', () => symbols.every((s) => at_engine_book(c.book(s, 0), final[s]) && at_engine_book(c10.book(s, 10), final[s], 10)));
    expect_book(c, final);
    for (const s of symbols) {
      const sf = f.feed.symbols.get(s)!;
      expect(sf.stats.gaps).toBeGreaterThanOrEqual(1);
      expect(sf.stats.recoveries).toBe(0);
      expect(sf.stats.snapshot_requests).toBe(0);
      // One Snapshot per view (the subscription's), Deltas ever after.
      expect(c.book(s, 0)!.snapshots).toBe(1);
      expect(c10.book(s, 10)!.snapshots).toBe(1);
    }
    expect(c10.violations).toEqual([]);
  });
});
