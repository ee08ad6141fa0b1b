// Faults of the feed process itself, run as a real child process
// (`depthcast feed`) between a real nats-server and SDK clients:
//   - killed and started again on the same port: clients reconnect with
//     jittered backoff and resync; none keeps stale levels;
//   - frozen (SIGSTOP): clients hear nothing, flag the connection stale,
//     replace it, and resync once the process runs again (SIGCONT);
//   - SIGTERM: every client gets close 1001 going-away, every frame before it
//     is whole, and the process exits 0 with its log flushed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { NatsBus } from '../../src/bus/nats_bus.js';
import { connect, type FeedClient } from '../../src/client/index.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { close_code } from '../../src/wire/codes.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { free_port, spawn_depthcast, type DepthcastProcess } from '../helpers/depthcast_process.js';
import { start_nats_server, type NatsServerHandle } from '../helpers/nats_server.js';
import { RawClient, rows } from '../helpers/raw_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD'];
const depths = [10, 0];
const heartbeat_interval_ms = 200;

describe('feed process faults', () => {
  let nats: NatsServerHandle;
  let engine_bus: NatsBus;
  let engine: EngineHandle | undefined;
  let feed: DepthcastProcess | undefined;
  let clients: FeedClient[] = [];
  let port: number;

  const feed_args = () => ['--nats-url', nats.url, '--symbols', symbols.join(','), '--heartbeat-interval-ms', String(heartbeat_interval_ms),
    '--snapshot-timeout-ms', '500'];

  beforeAll(async () => {
    nats = await start_nats_server();
    engine_bus = await NatsBus.connect({ url: nats.url, name: 'engine', reconnect_wait_ms: 50 });
  });

  afterEach(async () => {
    for (const c of clients) c.close();
    clients = [];
    feed?.signal('SIGCONT');
    await feed?.kill();
    feed = undefined;
    await engine?.stop();
    engine = undefined;
  });

  afterAll(async () => {
    await engine_bus?.close();
    await nats?.stop();
  });

  async function start(): Promise<void> {
    engine = await start_engine(test_config({ symbols, rate_orders_per_s: 800, nats_url: nats.url }), engine_bus);
    port = await free_port();
    feed = await spawn_depthcast('feed', port, feed_args());
  }

  function sdk_clients(n: number, connect_timeout_ms = 10_000): FeedClient[] {
    return Array.from({ length: n }, () => {
      const c = connect(`ws://127.0.0.1:${port}/ws`, {
        WebSocket: WebSocket as never, heartbeat_interval_ms, backoff_initial_ms: 100, backoff_max_ms: 1000, connect_timeout_ms,
      });
      for (const s of symbols) for (const depth of depths) c.subscribe(s, { depth });
      return c;
    });
  }

  const synced = (cs: FeedClient[]) => cs.every((c) => c.state === 'synced' && c.books().every((b) => b.state === 'synced'));

  async function expect_books_equal_engine(cs: FeedClient[]): Promise<void> {
    await engine!.stop();
    const final = Object.fromEntries(symbols.map((s) => [s, engine!.snapshot(s)]));
    await wait_for('clients at the engine\'s final books', () => synced(cs) && cs.every((c) => symbols.every((s) => at_engine_book(c.book(s, 0), final[s]))));
    for (const c of cs) {
      for (const s of symbols) {
        for (const depth of depths) {
          expect(rows(c.book(s, depth)!.bids)).toEqual(rows(final[s].bids, depth));
          expect(rows(c.book(s, depth)!.asks)).toEqual(rows(final[s].asks, depth));
        }
      }
      expect([c.counters.digest_mismatches, c.counters.range_breaks, c.counters.crossed_books, c.counters.invalid_frames]).toEqual([0, 0, 0, 0]);
    }
  }

  it('feed killed and started again on the same port: clients reconnect with backoff, resync, keep no stale level', async () => {
    await start();
    clients = sdk_clients(6);
    await wait_for('synced', () => synced(clients));
    const snapshots_before = clients.map((c) => c.counters.snapshots);
    await feed!.kill();
    // Every view stops claiming to be live: none shows the old levels as current.
    await wait_for('views not synced', () => clients.every((c) => c.books().every((b) => b.state !== 'synced')), 15_000); // hang guards, generous: a loaded machine is slower
    await sleep(300); // the clients retry against a closed port meanwhile
    feed = await spawn_depthcast('feed', port, feed_args());
    await wait_for('resynced', () => synced(clients), 15_000);
    for (const [i, c] of clients.entries()) {
      expect(c.counters.reconnects).toBeGreaterThanOrEqual(1);
      // Every view was replaced by a fresh snapshot from the new process.
      expect(c.counters.snapshots - snapshots_before[i]).toBeGreaterThanOrEqual(symbols.length * depths.length);
    }
    await expect_books_equal_engine(clients);
  });

  it('feed frozen (SIGSTOP): clients flag the connection stale and reconnect; after SIGCONT they resync', async () => {
    await start();
    clients = sdk_clients(3, 1000);
    await wait_for('synced', () => synced(clients));
    const states: string[] = [];
    for (const c of clients) c.on('state', (s) => states.push(s));
    feed!.signal('SIGSTOP');
    await wait_for('stale', () => clients.every((c) => c.counters.stale_connections >= 1), 20_000);
    expect(states).toContain('stale');
    expect(clients.every((c) => c.books().every((b) => b.state !== 'synced'))).toBe(true);
    await sleep(500);
    feed!.signal('SIGCONT');
    await wait_for('resynced after SIGCONT', () => synced(clients), 15_000);
    await expect_books_equal_engine(clients);
  });

  it('SIGTERM: clients get close 1001 going-away after whole frames; the process exits 0 with its log flushed', async () => {
    await start();
    const raw = await Promise.all(Array.from({ length: 5 }, () => RawClient.open(`ws://127.0.0.1:${port}/ws`)));
    for (const c of raw) c.subscribe(symbols, 0);
    await wait_for('streaming', () => raw.every((c) => c.synced && c.deltas > 5));
    feed!.signal('SIGTERM');
    const codes = await Promise.all(raw.map((c) => c.closed));
    expect(codes).toEqual(raw.map(() => close_code.going_away));
    for (const c of raw) {
      expect(c.close_reason).toBe('server shutting down');
      expect(c.violations).toEqual([]); // every frame decoded and verified: nothing half-written
      expect(c.undecodable).toBe(0);
    }
    const exit = await feed!.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const lines = feed!.output().split('\n').filter((l) => l.trim() !== '');
    // Every log line is whole JSON, and the shutdown was logged.
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.some((l) => l.includes('"shutting down"'))).toBe(true);
  });
});
