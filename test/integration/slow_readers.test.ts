// Slow readers through every buffer, on real sockets: engine → in-process bus
// → feed → uWS → a TCP proxy (test/helpers/throttle_proxy.py) whose socket
// toward the feed has a small SO_RCVBUF and reads at a fixed byte rate (or
// not at all) → a `ws` client that reads promptly. The feed sees only what a
// real slow client shows it: a peer that reads slowly. Staleness is what a
// user would see: now minus ts_engine_ns of the newest frame the client has
// read. Every frame goes through ViewMirror (ranges, digest per frame,
// never crossed, trades contiguous).
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { start_all, type AllInOne } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { close_code } from '../../src/wire/codes.js';
import { kernel_send_queues } from '../../src/server/kernel_queues.js';
import { now_ns } from '../../src/util/clock.js';
import { decode_server_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';
import { ThrottleProxy } from '../helpers/throttle_proxy.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { LoopLagMeter } from '../../loadgen/loop_lag.js';
import { ViewMirror } from '../helpers/view_mirror.js';

const enc = new FrameEncoder();
/** The proxy's receive buffer toward the feed (Linux doubles it): a thin client, not megabytes of slack. */
const rcvbuf_bytes = 4096;
/** A staleness sample taken this much later than asked measures this process's stall, not the feed. */
const harness_late_ms_max = 200;
const in_flight_bytes_max = 256 * 1024;

function config(overrides: Partial<Config> = {}): Readonly<Config> {
  return test_config({ symbols: ['BTC-USD', 'ETH-USD'], rate_orders_per_s: 2000, in_flight_bytes_max, ...overrides });
}

interface Read {
  at_ms: number;
  bytes: number;
  view: string;
  conflated: boolean;
  ts_engine_ns: number;
}

class Reader {
  readonly mirror = new ViewMirror();
  readonly reads: Read[] = [];
  newest_engine_ns = 0;
  bytes = 0;
  close_code: number | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.bytes += bytes.byteLength;
      this.mirror.on_bytes(bytes);
      const msg = decode_server_frame(bytes);
      if (msg.type !== 'snapshot' && msg.type !== 'delta') return;
      if (msg.ts_engine_ns > this.newest_engine_ns) this.newest_engine_ns = msg.ts_engine_ns;
      this.reads.push({
        at_ms: Date.now(), bytes: bytes.byteLength, view: `${msg.symbol}|${msg.depth}`,
        conflated: msg.type === 'delta' ? msg.conflated : false, ts_engine_ns: msg.ts_engine_ns,
      });
    });
    ws.on('close', (code) => { this.close_code = code; });
  }

  static async open(url: string): Promise<Reader> {
    const ws = new WebSocket(url); // offers permessage-deflate, as browsers do: a lagging reader's catch-ups come deflated
    ws.binaryType = 'nodebuffer';
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Reader(ws);
  }

  subscribe(symbols: string[], depth: number): void {
    this.ws.send(enc.subscribe({ symbols, depth, interval_ms: 0 }));
  }

  /** ms between the engine's newest event this reader has read and now. */
  staleness_ms(): number {
    return (now_ns() - this.newest_engine_ns) / 1e6;
  }

  conflated_frames(): number {
    return this.reads.filter((r) => r.conflated).length;
  }
}

let all: AllInOne | null = null;
const proxies: ThrottleProxy[] = [];
const readers: Reader[] = [];

afterEach(async () => {
  for (const r of readers) r.ws.terminate();
  readers.length = 0;
  for (const p of proxies) p.close();
  proxies.length = 0;
  await all?.stop();
  all = null;
});

async function open_reader(url: string): Promise<Reader> {
  const r = await Reader.open(url);
  readers.push(r);
  return r;
}

async function proxy(rate_bytes_per_s: number): Promise<ThrottleProxy> {
  const p = await ThrottleProxy.start(all!.feed_service.server.port, rcvbuf_bytes, rate_bytes_per_s);
  proxies.push(p);
  return p;
}

/** Bytes/s of one view's frames, measured on a fast reader. */
async function view_rate(fast: Reader, view: string, ms: number): Promise<number> {
  const from = Date.now();
  await sleep(ms);
  const bytes = fast.reads.filter((r) => r.view === view && r.at_ms >= from).reduce((n, r) => n + r.bytes, 0);
  return (bytes * 1000) / (Date.now() - from);
}

/** What the kernel says of the feed's side of the connection (send queue, TCP timers), for a failure's message. */
function feed_socket_state(port: number): string {
  try {
    return execFileSync('ss', ['-tnoi', `( sport = :${port} )`], { encoding: 'utf8' }).replace(/\s+/g, ' ').trim();
  } catch (err) {
    return `ss failed: ${(err as Error).message}`;
  }
}

function max_kernel_send_queue(port: number): number {
  return kernel_send_queues(port).reduce((m, q) => Math.max(m, q.send_queue_bytes), 0);
}

describe('slow readers: bounded staleness through every buffer', () => {
  // One retry: rare staleness spikes of 2-3 s were seen in earlier sessions (issue 10's notes), none in
  // 10 runs on 2026-12-02 (max 1.03 s); a consistent failure still fails.
  it('a reader at 1/7 of its subscription rate stays within 2 s of live for 30 s, exact and connected; fast readers beside it get every diff unconflated', { timeout: 90_000, retry: 1 }, async () => {
    all = await start_all(config());
    const url = all.feed_service.url;
    const fast = [await open_reader(url), await open_reader(url)];
    for (const f of fast) f.subscribe(['BTC-USD'], 0);
    await wait_for('fast readers synced', () => fast.every((f) => f.mirror.view('BTC-USD', 0) !== undefined));
    const rate = await view_rate(fast[0], 'BTC-USD|0', 3000);
    expect(rate).toBeGreaterThan(5000); // a stream worth throttling

    const p = await proxy(rate / 7);
    const slow = await open_reader(p.url);
    slow.subscribe(['BTC-USD'], 0);
    await wait_for('slow reader got its snapshot', () => slow.mirror.view('BTC-USD', 0) !== undefined, 20_000);
    await sleep(2000); // the snapshot itself took a while at this rate; measure from a settled state

    let staleness_max_ms = 0;
    const staleness: number[] = [];
    // This process reads the sockets AND samples: when it is itself held up (a loaded CI machine,
    // GC), the frames wait in its own socket and the sample measures the harness, not the feed.
    // Such samples are left out and counted (the harness's own lag, reported beside the result).
    let harness_late = 0;
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const asked = Date.now();
      await sleep(50);
      if (Date.now() - asked > 50 + harness_late_ms_max) {
        harness_late++;
        await sleep(harness_late_ms_max); // let the frames that waited behind the stall be read
        continue;
      }
      const s = slow.staleness_ms();
      staleness.push(s);
      if (s > staleness_max_ms) staleness_max_ms = s;
    }
    staleness.sort((a, b) => a - b);
    const summary = { rate_bytes_per_s: Math.round(rate), staleness_p50_ms: staleness[staleness.length >> 1], staleness_max_ms, conflated: slow.conflated_frames(), bytes: slow.bytes, harness_late };
    expect(harness_late, `samples left out because this process was late: ${JSON.stringify(summary)}`).toBeLessThan(staleness.length / 10);
    expect(staleness_max_ms, JSON.stringify(summary)).toBeLessThanOrEqual(2000);
    expect(slow.close_code).toBeNull();
    expect(slow.conflated_frames(), 'it was conflated (else this test tested nothing)').toBeGreaterThan(5);

    // /stats shows it as an operator would look for it: the slowest reader, its lag, what it has in flight, why.
    const stats = all.feed_service.feed.slow_consumer_stats() as { conflation_episodes_by_cause_total: Record<string, number>; slowest: { episodes: number; in_flight_cap_bytes: number }[] };
    expect(stats.conflation_episodes_by_cause_total.lag).toBeGreaterThanOrEqual(1);
    expect(stats.conflation_episodes_by_cause_total.buffer ?? 0).toBe(0); // the reader's own lag tripped it, never uWS's buffer
    const slow_entry = stats.slowest.find((x) => x.episodes > 0); // the fast readers never conflated
    expect(slow_entry?.in_flight_cap_bytes).toBeLessThan(64 * 1024); // its cap follows its rate and the stream, not the 240 KiB ceiling
    // It stayed conflated: its small catch-up rounds, each read within the 20 ms instant bound, are no
    // proof of the bandwidth for the stream (taken as such, it went back to the stream and behind again at
    // every retry, 7 times in 15 s at 1/5; here 6 and 8 episodes in 30 s). A trial of streaming that
    // fails and backs off is allowed: 1 run in 4 had 3 episodes here (staleness max ~1 s), before and
    // after 08a4e84 alike.
    expect(slow_entry?.episodes, JSON.stringify(summary)).toBeLessThanOrEqual(3);
    expect(slow.mirror.violations).toEqual([]);
    for (const f of fast) {
      expect(f.mirror.violations).toEqual([]);
      expect(f.conflated_frames()).toBe(0);
      expect(f.close_code).toBeNull();
    }
    // The slow reader's book is the engine's once the market stops and its last catch-up arrives.
    all.engine.pause(60_000);
    await sleep(200);
    await wait_for('slow reader at the engine\'s book', () => at_engine_book(slow.mirror.view('BTC-USD', 0), all!.engine.snapshot('BTC-USD')), 15_000);
    const snap = all.engine.snapshot('BTC-USD');
    const got = slow.mirror.view('BTC-USD', 0)!.sorted();
    expect(got.bids).toEqual(snap.bids.map((l) => [l.price, l.size, l.orders]));
    expect(got.asks).toEqual(snap.asks.map((l) => [l.price, l.size, l.orders]));
    expect(slow.mirror.violations).toEqual([]);
  });

  // Live again takes two parts: the reader reads what was in flight when it paused (at its own pace: here the
  // proxy's, which a loaded machine slows; the feed only bounds how much, 256 KB), then the feed learns it (the
  // pong behind it) and sends one catch-up per view. The second part is the feed's promise, asserted within 1 s
  // plus however long this process and the proxy were measurably held up meanwhile; the first is reported, with
  // only a hang guard. (CI once failed here at a 5 s deadline with nothing to tell the parts apart. Timelines:
  // the feed's part 9-40 ms; the proxy's 170-410 ms while it read one 4 KB window per 5 ms tick, 19-76 ms since
  // it reads as bytes arrive: throttle_proxy.py. At resume the feed's socket sits in TCP's zero-window probing
  // with a 12 s timer, so a window update the proxy's kernel failed to send would cost seconds: the failure
  // message carries the socket's state.)
  it('a reader paused 15 s is live within 1 s of reading what was in flight (at most 256 KB), through one catch-up per view; the kernel queue stays under 256 KB', async () => {
    all = await start_all(config());
    const port = all.feed_service.server.port;
    const p = await proxy(50 * 1024 * 1024); // reads as fast as it likes until paused
    const r = await open_reader(p.url);
    const views = ['BTC-USD|0', 'ETH-USD|0'];
    r.subscribe(['BTC-USD', 'ETH-USD'], 0);
    await wait_for('synced', () => views.every((v) => r.mirror.views.has(v)));
    await sleep(2000);
    // It streams when it pauses. (A stall of this process, which is the feed too, can make it look lagging for a
    // moment on a loaded machine: it was conflated during these 2 s in 1 of 3 runs beside two CPU hogs.)
    const session = [...all.feed_service.feed.sessions][0];
    await wait_for('streaming before the pause', () => !session.slow && r.staleness_ms() < 500, 30_000);
    const conflated_before_pause = r.conflated_frames();

    await p.pause();
    let send_queue_max = 0;
    const pause_until = Date.now() + 15_000;
    while (Date.now() < pause_until) {
      await sleep(100);
      send_queue_max = Math.max(send_queue_max, max_kernel_send_queue(port));
    }
    expect(r.close_code).toBeNull();
    const bytes_before = r.bytes;
    const reads_before = r.reads.length;
    await p.lag(); // from now on
    const loop = new LoopLagMeter();
    const resumed_ms = Date.now();
    await p.resume();
    // Live: the newest frame read is within the lag target of now. The deadline is a hang guard, not the bound.
    await wait_for('live again', () => r.reads.length > reads_before && r.staleness_ms() < 500, 60_000, 5).catch((err: Error) => {
      throw new Error(`${err.message}; reads since resuming: ${r.reads.length - reads_before}; the feed's socket: ${feed_socket_state(port)}`);
    });
    const live_at_ms = Date.now();
    const harness = { loop_total_ms: Math.round(loop.total_ms), loop_worst_ms: Math.round(loop.worst_ms), proxy: await p.lag() };
    loop.stop();
    await sleep(1000);

    const after = r.reads.slice(reads_before);
    const catch_ups = after.filter((x) => x.conflated);
    const backlog = after.slice(0, after.findIndex((x) => x.conflated)); // what was already in flight when it paused
    const backlog_bytes = backlog.reduce((n, x) => n + x.bytes, 0);
    const backlog_read_ms = backlog.length > 0 ? backlog[backlog.length - 1].at_ms : resumed_ms;
    const feed_ms = live_at_ms - backlog_read_ms; // the feed's part: from the backlog read to live
    const held_up_ms = harness.loop_total_ms + harness.proxy.total_ms;
    const summary = { conflated_before_pause, live_after_ms: live_at_ms - resumed_ms, backlog_read_after_ms: backlog_read_ms - resumed_ms, feed_ms, harness, send_queue_max, backlog_bytes, catch_ups: catch_ups.length, bytes_after: r.bytes - bytes_before };
    process.stdout.write(`slow readers, paused 15 s: ${JSON.stringify(summary)}\n`); // the timeline, for CI's log
    expect(send_queue_max, JSON.stringify(summary)).toBeLessThanOrEqual(in_flight_bytes_max);
    expect(backlog_bytes, JSON.stringify(summary)).toBeLessThanOrEqual(in_flight_bytes_max);
    expect(feed_ms, JSON.stringify(summary)).toBeLessThanOrEqual(1000 + held_up_ms);
    for (const v of views) expect(catch_ups.filter((x) => x.view === v).length, `${v}: ${JSON.stringify(summary)}`).toBe(1);
    // After its catch-up it streams again: every frame since is an ordinary Delta.
    const last_catch_up = after.indexOf(catch_ups[catch_ups.length - 1]);
    expect(after.length - last_catch_up).toBeGreaterThan(5);
    expect(r.mirror.violations).toEqual([]);
    expect(r.close_code).toBeNull();
  }, 120_000);

  it('a reader too slow even for catch-ups is closed with 4010, counted as a slow close; readers beside it are untouched', { timeout: 150_000, retry: 1 }, async () => {
    // The decision needs three probe answers through a 300 B/s proxy: 7-10 s here alone, 20 s beside a CPU hog,
    // over 30 s once in a loaded CI run, where the default idle timeout (32 s) then took the reader first, uncounted.
    // The idle timeout is raised so that what is asserted is the order (4010 before the idle timeout), not a load-dependent time.
    const idle_timeout_s = 64;
    all = await start_all(config({ idle_timeout_s }));
    const fast = await open_reader(all.feed_service.url);
    fast.subscribe(['BTC-USD'], 10);
    const p = await proxy(300); // 5 s of its reading (--reader-lag-ms-max) is less than --in-flight-bytes-min
    const slow = await open_reader(p.url);
    slow.subscribe(['BTC-USD'], 10);
    const feed = all.feed_service.feed;
    const started_ms = Date.now();
    await wait_for('server decided 4010', () => feed.counters.slow_closes_total.get(close_code.reader_too_slow) === 1, idle_timeout_s * 1000, 50).catch((err: Error) => {
      // What the server measured of it, for whoever reads the failure: why it did not look too slow.
      throw new Error(`${err.message}; connections: ${JSON.stringify((feed.slow_consumer_stats() as { slowest: unknown[] }).slowest)}`);
    });
    const decided_after_ms = Date.now() - started_ms;
    process.stdout.write(`slow readers, 4010: decided after ${decided_after_ms} ms (idle timeout ${idle_timeout_s} s)\n`);
    expect(decided_after_ms).toBeLessThan(idle_timeout_s * 1000); // before the idle timeout would have taken it for dead
    // Its close frame waits behind what it has not read (it sees 4010 only if it ever gets that far);
    // the server has let go of it: no session, and its TCP socket is no longer established.
    expect(feed.sessions.size).toBe(1);
    const port = all.feed_service.server.port;
    await wait_for('only the fast reader still established', () => kernel_send_queues(port).length === 1, 5000, 50);
    expect(slow.mirror.violations).toEqual([]);
    expect(fast.close_code).toBeNull();
    expect(fast.conflated_frames()).toBe(0);
    expect(fast.mirror.violations).toEqual([]);
  });
});
