// A fleet of two feed processes on one NATS (JetStream) and 300 SDK clients
// that know both URLs. The feed they are all on is SIGKILLed mid-stream: every
// client fails over to the other with jittered backoff and offers, per view,
// the (epoch, seq) it holds; the other feed continues most views from there
// with no Snapshot (Status resume = resumed), and every book stays exact: no
// digest mismatch, no range break, all equal to the engine's at the end.
// What it saw (time to all live again, views resumed, Snapshots) is printed.
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { NatsBus } from '../../src/bus/nats_bus.js';
import { connect, type BookHandle, type FeedClient, type WebSocketConstructor } from '../../src/client/index.js';
import type { L2Snapshot } from '../../src/book/types.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { free_port, spawn_depthcast, type DepthcastProcess } from '../helpers/depthcast_process.js';
import { start_nats_server, type NatsServerHandle } from '../helpers/nats_server.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
const clients_count = 300;

describe('clients fail over between feeds and resume their views', () => {
  let nats: NatsServerHandle | undefined;
  let bus: NatsBus | undefined;
  let engine: EngineHandle | undefined;
  const feeds: DepthcastProcess[] = [];
  const clients: FeedClient[] = [];

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const f of feeds) await f.kill();
    await engine?.stop();
    await bus?.close();
    await nats?.stop();
  });

  it(`one of two feeds killed under ${clients_count} clients: all live on the other, exact, most views resumed without a Snapshot`, async () => {
    nats = await start_nats_server({ jetstream: true });
    const config = test_config({ symbols, nats_url: nats.url, rate_orders_per_s: 1200, stream_snapshot_interval_ms: 500 });
    bus = await NatsBus.connect({ url: nats.url, name: 'engine', reconnect_wait_ms: 100 });
    engine = await start_engine(config, bus);
    const feed_args = ['--nats-url', nats.url, '--symbols', symbols.join(','), '--heartbeat-interval-ms', '1000',
      '--new-connections-per-ip-per-s-max', '0', '--log-level', 'warn'];
    // Feed 1 starts only once every view is synced on feed 0: a client whose connect attempt fails in the
    // 300-client storm (a loaded CI machine) then comes back to feed 0 rather than settling on feed 1 early.
    const ports = [await free_port(), await free_port()];
    feeds.push(await spawn_depthcast('feed', ports[0], feed_args));
    const urls = ports.map((port) => `ws://127.0.0.1:${port}/ws`);
    const books: BookHandle[] = [];
    for (let i = 0; i < clients_count; i++) {
      // Everyone starts on feed 0 (listed first) and knows feed 1.
      const c = connect(urls, {
        WebSocket: WebSocket as unknown as WebSocketConstructor, heartbeat_interval_ms: 1000, backoff_initial_ms: 200, backoff_max_ms: 2000,
      });
      books.push(c.subscribe(symbols[i % 3], { depth: 0 }), c.subscribe(symbols[(i + 1) % 3], { depth: 10 }));
      clients.push(c);
    }
    await wait_for('every view synced on feed 0', () => books.every((b) => b.state === 'synced')
      && clients.every((c) => c.url === urls[0]), 30_000);
    feeds.push(await spawn_depthcast('feed', ports[1], feed_args));
    // Feed 1 must be live (every book rebuilt, /health 200) before feed 0 goes: a view's resume history starts at its
    // book's reset, so a position held from before feed 1 went live is too old there. spawn_depthcast returns once it
    // listens; on a loaded box the books came live after the kill (2 of 5 runs beside yes x2: 260 and 396 of 600 too_old).
    await wait_for('feed 1 live', async () => {
      const res = await fetch(`http://127.0.0.1:${ports[1]}/health`);
      await res.arrayBuffer();
      return res.status === 200;
    }, 30_000, 50);
    // Its history then grows past what a client lagging behind feed 0 may hold (100-114 of 600 views were still too old
    // beside yes x2 with 500 ms here: positions from before feed 1 went live, held by clients that lagged).
    await sleep(1500);

    const snapshots_before = clients.reduce((n, c) => n + c.counters.snapshots, 0);
    // A client whose socket went stale after feed 1 started is on feed 1 already: only feed 0's fail over.
    const moving = clients.filter((c) => c.url === urls[0]);
    expect(moving.length).toBeGreaterThan(clients_count / 2);
    await feeds[0].kill();
    const killed_at = performance.now();
    await wait_for('every client live on feed 1', () => clients.every((c) => c.url === urls[1] && c.state === 'synced')
      && books.every((b) => b.state === 'synced'), 20_000);
    const all_live_ms = Math.round(performance.now() - killed_at);
    await sleep(700);

    await engine.stop();
    const final: Record<string, L2Snapshot> = {};
    for (const s of symbols) final[s] = engine.snapshot(s);
    const levels = (l: readonly { price: number; size: number; orders: number }[]) => l.map((x) => [x.price, x.size, x.orders]);
    const exact = (b: BookHandle) => {
      const n = b.depth === 0 ? Infinity : b.depth;
      return JSON.stringify([levels(b.bids), levels(b.asks)]) === JSON.stringify([levels(final[b.symbol].bids.slice(0, n)), levels(final[b.symbol].asks.slice(0, n))]);
    };
    await wait_for('every book equal to the engine', () => books.every(exact), 15_000);

    const sum = (k: keyof FeedClient['counters']) => clients.reduce((n, c) => n + (c.counters[k] as number), 0);
    const report = {
      clients: clients_count, clients_failing_over: moving.length, views: books.length, all_live_again_ms: all_live_ms,
      resumed_views: sum('resumed_views'), resume_refused: sum('resume_refused'), snapshots_before_kill: snapshots_before,
      snapshots_after_kill: sum('snapshots') - snapshots_before,
      conflated_frames: sum('conflated_frames'), discarded_deltas: sum('discarded_deltas'), snapshot_timeouts: sum('snapshot_timeouts'),
      digest_mismatches: sum('digest_mismatches'), range_breaks: sum('range_breaks'), resyncs: sum('resyncs'), reconnects: sum('reconnects'),
      // Every other verdict that resyncs a view, so a failed resyncs check says which (CI beside yes x2 once: 29 resyncs, no mismatch or break).
      epoch_changes: sum('epoch_changes'), crossed_books: sum('crossed_books'), invalid_frames: sum('invalid_frames'),
    };
    // The surviving feed's own count of the resume points it was offered, by outcome.
    const stats = await (await fetch(`http://127.0.0.1:${feeds[1].port}/stats`)).json() as { counters: { resumes_total: Record<string, number> } };
    // Books feed 1 rebuilt after it went live (a gap on a loaded box): a resume from before a rebuild is too old.
    const feed1_rebuilds = feeds[1].output().split('\n').filter((l) => l.includes('recovering: the book is rebuilt')).length;
    process.stdout.write(`feed failover: ${JSON.stringify({ ...report, feed_resumes_total: stats.counters.resumes_total, feed1_rebuilds })}\n`);
    expect(report.digest_mismatches).toBe(0);
    expect(report.range_breaks).toBe(0);
    expect(report.resyncs).toBe(0);
    expect(moving.every((c) => c.counters.reconnects >= 1)).toBe(true);
    // Most views continue from what they held; each of the others got a Snapshot with a reason.
    expect(report.resumed_views).toBeGreaterThan(books.length / 2);
    const offered = Object.values(stats.counters.resumes_total).reduce((n, x) => n + x, 0);
    // Every view of a client that moved offered its position (clients that reconnected for other reasons, a
    // socket gone stale on this busy machine, offered theirs too).
    expect(offered).toBeGreaterThanOrEqual(2 * moving.length);
    expect(stats.counters.resumes_total.resumed ?? 0).toBeGreaterThan(offered / 2);
  });
});
