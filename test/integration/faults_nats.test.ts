// Faults upstream of the feed, with a real nats-server: the broker restarted
// mid-stream, and the engine restarted (a new epoch). SDK clients (src/client
// over `ws`) must end with exactly the engine's books, never having accepted a
// wrong frame: no digest mismatch, no range break, no crossed book.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { start_feed_service, type FeedService } from '../../src/app.js';
import { NatsBus } from '../../src/bus/nats_bus.js';
import { connect, type BookHandle, type FeedClient, type ViewState } from '../../src/client/index.js';
import type { Config } from '../../src/config.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { start_nats_server, type NatsServerHandle } from '../helpers/nats_server.js';
import { rows } from '../helpers/raw_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
const depths = [10, 0];

interface Rig {
  nats: NatsServerHandle;
  engine_bus: NatsBus;
  feed_bus: NatsBus;
  feed: FeedService;
  config: Readonly<Config>;
}

async function start_rig(): Promise<Rig> {
  const nats = await start_nats_server();
  const config = test_config({ symbols, nats_url: nats.url, rate_orders_per_s: 1500, snapshot_timeout_ms: 300 });
  const engine_bus = await NatsBus.connect({ url: nats.url, name: 'engine', reconnect_wait_ms: 50 });
  const feed_bus = await NatsBus.connect({ url: nats.url, name: 'feed', reconnect_wait_ms: 50 });
  const feed = await start_feed_service(config, feed_bus);
  return { nats, engine_bus, feed_bus, feed, config };
}

/** SDK clients subscribed to every (symbol, depth), recording each view's state changes. */
function start_clients(url: string, n: number): { clients: FeedClient[]; transitions: string[] } {
  const transitions: string[] = [];
  const clients = Array.from({ length: n }, (_, i) => {
    const c = connect(url, { WebSocket: WebSocket as never, heartbeat_interval_ms: 200, backoff_initial_ms: 50, backoff_max_ms: 500 });
    c.on('book_state', (b: BookHandle, state: ViewState, prev: ViewState) => transitions.push(`${i}:${b.symbol}@${b.depth}:${prev}>${state}`));
    for (const s of symbols) for (const depth of depths) c.subscribe(s, { depth });
    return c;
  });
  return { clients, transitions };
}

function all_synced(clients: FeedClient[]): boolean {
  return clients.every((c) => c.books().every((b) => b.state === 'synced'));
}

/** After engine.stop(): every full-book view reaches the engine's last book (its epoch) and every view equals it. */
async function expect_books_equal_engine(clients: FeedClient[], engine: EngineHandle): Promise<void> {
  await engine.stop();
  const final = Object.fromEntries(symbols.map((s) => [s, engine.snapshot(s)]));
  await wait_for('clients reach the engine\'s final books', () => all_synced(clients) && clients.every((c) => symbols.every((s) => at_engine_book(c.book(s, 0), final[s]))));
  for (const c of clients) {
    for (const s of symbols) {
      for (const depth of depths) {
        const b = c.book(s, depth)!;
        expect(rows(b.bids), `${s}@${depth} bids`).toEqual(rows(final[s].bids, depth));
        expect(rows(b.asks), `${s}@${depth} asks`).toEqual(rows(final[s].asks, depth));
        expect(b.digest_from_scratch()).toBe(b.digest);
      }
    }
    // The server never sent a wrong frame: nothing for the client to have caught.
    const k = c.counters;
    expect({ digest: k.digest_mismatches, range: k.range_breaks, epoch: k.epoch_changes, crossed: k.crossed_books, invalid: k.invalid_frames, decode: k.decode_errors })
      .toEqual({ digest: 0, range: 0, epoch: 0, crossed: 0, invalid: 0, decode: 0 });
  }
}

describe('faults upstream of the feed (real nats-server)', () => {
  let rig: Rig | undefined;
  let engines: EngineHandle[] = [];
  let clients: FeedClient[] = [];

  /** nats-server, a feed, an engine and `n` SDK clients, all synced. */
  async function start_streaming(n: number): Promise<{ r: Rig; engine: EngineHandle; transitions: string[] }> {
    const r = rig = await start_rig();
    const engine = await start_engine(r.config, r.engine_bus);
    engines.push(engine);
    await wait_for('feed live', () => r.feed.feed.health().ready);
    const started = start_clients(r.feed.url, n);
    clients = started.clients;
    await wait_for('clients synced', () => all_synced(clients));
    return { r, engine, transitions: started.transitions };
  }

  afterEach(async () => {
    for (const c of clients) c.close();
    for (const e of engines) await e.stop();
    await rig?.feed.stop();
    await rig?.engine_bus.close();
    await rig?.feed_bus.close();
    await rig?.nats.stop();
    rig = undefined;
    engines = [];
    clients = [];
  });

  it('nats-server restarted mid-stream: the feed reconnects, recovers each symbol, and clients keep a correct book', async () => {
    const { r, engine, transitions } = await start_streaming(3);
    await sleep(300);
    const snapshots_before = clients[0].counters.snapshots;

    await r.nats.restart();
    // The feed's connection comes back by itself (NatsBus reconnects forever) and the books go live again.
    await wait_for('bus reconnected', () => r.feed_bus.is_connected() && r.engine_bus.is_connected());
    await wait_for('feed live again', () => r.feed.feed.health().ready);
    await sleep(500);

    const stats = r.feed.feed.stats() as { symbols: Record<string, { gaps: number; recoveries: number; rebuilds_continued: number }> };
    const recoveries = symbols.map((s) => stats.symbols[s].recoveries);
    // Events in flight while the broker was away may be lost: on the disconnect every symbol recovered from the engine's snapshot.
    expect(recoveries.every((n) => n >= 1), `recoveries per symbol ${recoveries}`).toBe(true);
    // Clients were told (Recovering shows the view stale); the engine being the same (same epoch), every view continued with
    // a Delta (the difference, PROTOCOL.md §5.5), on the same socket: no Snapshot.
    expect(symbols.map((s) => stats.symbols[s].rebuilds_continued)).toEqual(recoveries);
    expect(transitions.some((t) => t.endsWith('synced>stale'))).toBe(true);
    await wait_for('synced again', () => all_synced(clients));
    expect(clients[0].counters.snapshots).toBe(snapshots_before);
    expect(clients.every((c) => c.counters.reconnects === 0)).toBe(true);
    await expect_books_equal_engine(clients, engine);
  });

  it('nats-server restarted while the market is quiet: every symbol still recovers, so no lost event can hide', async () => {
    const { r, engine, transitions } = await start_streaming(2);
    // No events for a while: gap detection alone would see nothing until the next event, however late.
    engine.pause(60_000);
    await sleep(200);
    const paused = symbols.map((s) => engine.snapshot(s));
    const snapshots_before = clients.map((c) => c.counters.snapshots);
    await r.nats.restart();
    await wait_for('feed live again', () => r.feed_bus.is_connected() && r.feed.feed.health().ready);
    const stats = r.feed.feed.stats() as { symbols: Record<string, { recoveries: number }> };
    expect(symbols.map((s) => stats.symbols[s].recoveries)).toEqual(symbols.map(() => 1));
    // Clients were told (every view went stale), then, the book rebuilt unchanged in the same epoch, live again on the
    // book they hold: no Snapshot. (Every view, not an exact count: a view may be told more than once.)
    const told = () => new Set(transitions.filter((t) => t.endsWith('synced>stale')).map((t) => t.slice(0, t.lastIndexOf(':')))).size;
    await wait_for('every view told stale', () => told() === clients.length * symbols.length * depths.length);
    // Synced again on the book the engine paused at: its levels, at a seq no later than its (not necessarily at it: a
    // last event that changes nothing in the view sends no frame, test/helpers/engine_book.ts).
    await wait_for('synced again on the paused book', () => all_synced(clients)
      && clients.every((c) => symbols.every((s, i) => at_engine_book(c.book(s, 0), paused[i]))));
    expect(clients.map((c) => c.counters.snapshots)).toEqual(snapshots_before);
    await expect_books_equal_engine(clients, engine);
  });

  it('engine restarted: a new epoch, every client gets a fresh snapshot and replaces its book', async () => {
    const { r, engine: first } = await start_streaming(3);
    await sleep(300);
    await first.stop();
    const old_epoch = first.epoch;
    // The new engine starts from empty books with another seed: nothing of the old book may survive in a client.
    const second = await start_engine({ ...r.config, seed: 99 }, r.engine_bus);
    engines.push(second);
    expect(second.epoch).toBeGreaterThan(old_epoch);
    await wait_for('clients on the new epoch', () => clients.every((c) => c.books().every((b) => b.epoch === second.epoch && b.state === 'synced')));
    await sleep(300);
    const stats = r.feed.feed.stats() as { symbols: Record<string, { epoch: number }> };
    expect(symbols.map((s) => stats.symbols[s].epoch)).toEqual(symbols.map(() => second.epoch));
    await expect_books_equal_engine(clients, second);
  });
});
