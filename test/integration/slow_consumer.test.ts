// Slow consumers over real sockets: engine → in-process bus → feed → uWS →
// `ws` clients. A slow client is one whose TCP socket stops reading
// (`socket.pause()`): the kernel buffers fill, then uWS's, and the feed
// switches it to conflation (or closes it, per its policy). Every client's
// frames go through ViewMirror (ranges, digest per frame written from
// docs/PROTOCOL.md, never crossed, trade ids contiguous). Small slow
// thresholds make the switch happen within a second or two.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MirrorClient, service_per_test, stop_engine_and_settle } from '../helpers/mirror_client.js';
import type { AllInOne } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { conflation_trades_max } from '../../src/feed/subscription.js';
import { close_code } from '../../src/wire/codes.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
const depths = [0, 10];
const slow_enter_bytes = 64 * 1024;
/** What one connection may have buffered in user space while conflating: the threshold plus one flush's frames. */
const buffered_bytes_bound = slow_enter_bytes + 64 * 1024;

function config(overrides: Partial<Config> = {}): Readonly<Config> {
  return test_config({
    symbols, rate_orders_per_s: 30_000,
    slow_enter_bytes, slow_exit_bytes: 8 * 1024, send_buffer_bytes_max: 2 * 1024 * 1024,
    // Paused clients conflate at any target; the "fast" ones here share one process (and 2 cores)
    // with the engine and the feed, and must not be taken for lagging over a loaded second: nor
    // capped by the in-flight ceiling (240 KB is ~0.2 s of these full-book streams; a paused client
    // still conflates on uWS's buffer, slow_enter_bytes).
    reader_lag_target_ms: 2000, in_flight_bytes_max: 2 * 1024 * 1024, ...overrides,
  });
}

function top(levels: { price: number; size: number; orders: number }[], depth: number): [number, number, number][] {
  const list = levels.map((l) => [l.price, l.size, l.orders] as [number, number, number]);
  return depth === 0 ? list : list.slice(0, depth);
}

const service = service_per_test();

async function start(overrides: Partial<Config> = {}): Promise<AllInOne> {
  return service.start(config(overrides));
}

async function connect(all: AllInOne, query = ''): Promise<MirrorClient> {
  return service.connect(all, query);
}

function expect_engine_book(all: AllInOne, c: MirrorClient, symbol: string, depth: number): void {
  const snap = all.engine.snapshot(symbol);
  const got = c.view(symbol, depth).sorted();
  expect(got.bids, `${symbol}|${depth} bids`).toEqual(top(snap.bids, depth));
  expect(got.asks, `${symbol}|${depth} asks`).toEqual(top(snap.asks, depth));
}

describe('slow consumers over real sockets', () => {
  it('a paused client costs bounded memory, then catches up exactly; fast clients beside it get every diff unconflated', async () => {
    const all = await start();
    const feed = all.feed_service.feed;
    const fast = [await connect(all), await connect(all)];
    const slow = await connect(all);
    // Paused before any data flows (its kernel buffers do not grow), and with depth 50 views too, it trips sooner.
    slow.pause();
    for (const c of [...fast, slow]) for (const d of depths) c.subscribe(symbols, d);
    slow.subscribe(symbols, 50);
    await wait_for('snapshots', () => fast.every((c) => c.has_all_views(symbols, depths)));

    await wait_for('the paused client conflates', () => slow.session.slow, 20_000);
    // While paused: nothing is queued for it, so what the server holds for it stays flat and bounded.
    const buffered: number[] = [];
    let dirty_max = 0;
    let held_max = 0;
    for (let i = 0; i < 15; i++) {
      buffered.push(slow.session.transport.buffered_bytes());
      for (const sub of slow.session.subs.values()) {
        dirty_max = Math.max(dirty_max, sub.dirty_levels);
        held_max = Math.max(held_max, sub.held_trades);
      }
      await sleep(100);
    }
    const base = `http://127.0.0.1:${all.feed_service.server.port}`;
    const stats = await (await fetch(`${base}/stats`)).json() as { slow_consumers: { conflating_connections: number; buffered_bytes: { max_now: number } } };
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(slow.session.slow).toBe(true);
    expect(Math.max(...buffered)).toBeLessThanOrEqual(buffered_bytes_bound);
    expect(buffered.every((b) => b <= buffered[0])).toBe(true);
    expect(dirty_max).toBeGreaterThan(0);
    expect(dirty_max).toBeLessThanOrEqual(config().conflation_levels_max);
    expect(held_max).toBeLessThanOrEqual(conflation_trades_max);
    expect(stats.slow_consumers.conflating_connections).toBe(1);
    expect(stats.slow_consumers.buffered_bytes.max_now).toBeLessThanOrEqual(buffered_bytes_bound);
    expect(metrics).toMatch(/^depthcast_conflating_connections 1$/m);
    expect(metrics).toMatch(/^depthcast_conflation_episodes_total\{cause="(lag|buffer)"\} [1-9]/m);
    expect(metrics).toMatch(/^depthcast_connection_buffered_bytes_count 3$/m);

    slow.resume();
    await wait_for('drained and streaming again', () => !slow.session.slow, 20_000);
    await sleep(300);
    await stop_engine_and_settle(all, [...fast, slow], symbols);

    for (const c of [...fast, slow]) expect(c.mirror.violations).toEqual([]);
    let conflated = 0;
    for (const s of symbols) {
      const last_trade_id = all.engine.snapshot(s).last_trade_id;
      expect_engine_book(all, slow, s, 50);
      for (const d of depths) {
        for (const c of [...fast, slow]) expect_engine_book(all, c, s, d);
        const v = slow.view(s, d);
        conflated += v.count((f) => f.conflated);
        // Every trade accounted for, one by one or folded: ids contiguous (checked per frame) up to the engine's last.
        expect(v.last_trade_id, `${s}|${d}`).toBe(last_trade_id);
        expect(v.trades_listed + v.trades_folded, `${s}|${d}`).toBe(last_trade_id - v.first_trade_id + 1);
        for (const f of fast) {
          const fv = f.view(s, d);
          expect(fv.count((x) => x.conflated), `fast ${s}|${d}`).toBe(0);
          expect(fv.trades_folded).toBe(0);
          expect(fv.last_trade_id).toBe(last_trade_id);
          expect(fv.trades.filter((t) => t.trade_id >= v.first_trade_id).length).toBe(v.trades_listed + v.trades_folded);
        }
      }
    }
    expect(conflated).toBeGreaterThanOrEqual(1);
    expect(slow.session.slow_episodes).toBeGreaterThanOrEqual(1);
    for (const f of fast) expect(f.session.slow_episodes).toBe(0);
    expect(feed.counters.conflated_frames_total + feed.counters.catch_up_snapshots_total).toBeGreaterThanOrEqual(1);
  });

  it("/ws?slow=close: closed with 4008, and not one frame after the server's decision", async () => {
    const all = await start();
    const feed = all.feed_service.feed;
    const fast = await connect(all);
    const slow = await connect(all, '?slow=close');
    slow.pause();
    for (const c of [fast, slow]) for (const d of depths) c.subscribe(symbols, d);
    slow.subscribe(symbols, 50);
    await wait_for('close decided', () => slow.session.close_decision !== null, 20_000);
    expect(slow.session.close_decision).toBe(close_code.slow_consumer);
    const sent = slow.session.frames_sent;
    await sleep(500); // the engine keeps going
    expect(slow.session.frames_sent).toBe(sent);
    slow.resume();
    await wait_for('closed', () => slow.close_code !== null, 20_000);
    expect(slow.close_code).toBe(close_code.slow_consumer);
    // Everything it received was sent before the decision: the count matches exactly.
    expect(slow.mirror.frames).toBe(sent);
    expect(slow.mirror.violations).toEqual([]);
    expect(feed.counters.slow_closes_total.get(close_code.slow_consumer)).toBe(1);
    expect(feed.counters.closes_total.get(close_code.slow_consumer)).toBe(1);
    expect(fast.close_code).toBeNull();
    expect(fast.session.slow_episodes).toBe(0);
    expect(fast.mirror.violations).toEqual([]);

    // A policy that is neither is refused at the upgrade.
    const bad = new WebSocket(`${all.feed_service.url}?slow=sometimes`);
    const status = await new Promise<number>((resolve) => {
      bad.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      bad.once('open', () => resolve(101));
      bad.once('error', () => resolve(-1));
    });
    bad.terminate();
    expect(status).toBe(400);
  });

  it('interval_ms=100: at most about one conflated Delta per 100 ms, exact book, interval changed mid-stream', async () => {
    const all = await start({ symbols: ['BTC-USD', 'ETH-USD'] });
    const list = ['BTC-USD', 'ETH-USD'];
    const fast = await connect(all);
    const timed = await connect(all);
    fast.subscribe(list, 0);
    timed.subscribe(['BTC-USD'], 0, 100);
    timed.subscribe(['ETH-USD'], 0); // streaming beside it on the same connection
    await wait_for('snapshots', () => fast.has_all_views(list, [0]) && timed.has_all_views(list, [0]));
    const v = timed.view('BTC-USD', 0);
    const deltas_between = (from_ms: number, to_ms: number) => v.frames.filter((f) => f.kind === 'delta' && f.at_ms >= from_ms && f.at_ms < to_ms);

    const t0 = performance.now();
    await sleep(1500);
    const at_100 = deltas_between(t0, performance.now());
    expect(at_100.length).toBeGreaterThanOrEqual(5);
    expect(at_100.length).toBeLessThanOrEqual(1500 / 100 + 3);
    expect(at_100.every((f) => f.conflated && f.updates_merged >= 1)).toBe(true);
    expect(timed.view('ETH-USD', 0).count((f) => f.conflated)).toBe(0);

    const statuses = timed.mirror.other.filter((m) => m.type === 'status').length;
    timed.subscribe(['BTC-USD'], 0, 300);
    await wait_for('interval change acknowledged', () => timed.mirror.other.filter((m) => m.type === 'status').length > statuses);
    const t1 = performance.now();
    await sleep(1500);
    const at_300 = deltas_between(t1, performance.now());
    expect(at_300.length).toBeGreaterThanOrEqual(2);
    expect(at_300.length).toBeLessThanOrEqual(1500 / 300 + 2);

    timed.subscribe(['BTC-USD'], 0, 0);
    const t2 = performance.now();
    await sleep(500);
    const streamed = deltas_between(t2, performance.now());
    expect(streamed.filter((f) => !f.conflated).length).toBeGreaterThan(at_300.length * 3);

    await stop_engine_and_settle(all, [fast, timed], list);
    expect(timed.mirror.violations).toEqual([]);
    expect(fast.mirror.violations).toEqual([]);
    for (const s of list) {
      expect_engine_book(all, timed, s, 0);
      expect_engine_book(all, fast, s, 0);
      const tv = timed.view(s, 0);
      expect(tv.last_trade_id).toBe(all.engine.snapshot(s).last_trade_id);
      expect(tv.trades_listed + tv.trades_folded).toBe(tv.last_trade_id - tv.first_trade_id + 1);
    }
    expect(timed.session.slow_episodes).toBe(0);
  });
});
