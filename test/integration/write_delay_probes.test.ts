// Flow control of delayed connections over real sockets (docs/PROTOCOL.md
// §5.10, src/feed/write_delay.ts "Probes"): engine → in-process bus → feed →
// uWS → `ws` clients (directly, or through test/helpers/throttle_proxy.py, a
// real slow reader). A delayed connection's reader probe leaves right after
// its delay class's own write, behind the frames the class held for it, and
// its offset counts exactly the bytes before it on the socket; a delayed
// reader that reads too slowly is judged as an undelayed one beside it is
// (conflated for its lag, never closed, exact again once the market stops),
// and prompt readers, delayed or not, are not conflated. No timing assertion:
// counts, with condition-based deadlines.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { MirrorClient } from '../helpers/mirror_client.js';
import { RawClient } from '../helpers/raw_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';
import { ThrottleProxy } from '../helpers/throttle_proxy.js';

const symbols = ['BTC-USD', 'ETH-USD'];
const delay_ms = 50;

let all: AllInOne | null = null;
const closers: (() => void)[] = [];

afterEach(async () => {
  for (const close of closers) close();
  closers.length = 0;
  await all?.stop();
  all = null;
});

async function start(overrides: Partial<Config> = {}): Promise<AllInOne> {
  all = await start_all(test_config({ symbols, write_delay_ms_max: 100, ...overrides }));
  await wait_for('feed live', () => all!.feed_service.feed.health().ready);
  return all;
}

/** A data probe (a ping with a byte offset) as its reader saw it. */
interface SeenProbe {
  offset: number;
  /** Binary payload bytes this client read before the ping. */
  bytes_before: number;
  /** A data frame arrived in the same socket read just before it (the ping came in the same write as frames). */
  with_frames: boolean;
}

/** Records, per data probe, the bytes before it and whether frames came in the same socket read. */
function watch_probes(c: RawClient): SeenProbe[] {
  const probes: SeenProbe[] = [];
  let reads = 0;
  let bytes = 0;
  let last_frame_read = -1;
  // ws parses a read synchronously in its own 'data' listener, registered before this one: every frame and ping
  // of read k is emitted while `reads` is still k.
  (c.ws as unknown as { _socket: Socket })._socket.on('data', () => { reads++; });
  c.ws.on('message', (data: Buffer, is_binary: boolean) => {
    if (!is_binary) return;
    bytes += data.byteLength;
    last_frame_read = reads;
  });
  c.ws.on('ping', (data: Buffer) => {
    if (data.byteLength !== 8) return; // uWS's keep-alive pings carry no payload
    const offset = data.readDoubleLE(0);
    if (offset < 0) return; // a path probe (sent with direct frames)
    probes.push({ offset, bytes_before: bytes, with_frames: last_frame_read === reads });
  });
  return probes;
}

describe('write_delay_ms: probes and slow readers', () => {
  it('a delayed connection\'s probe leaves with its class\'s own write, behind the frames held for it, at the exact offset', async () => {
    // An undelayed reader of the same views beside it: its topics publish every engine turn, so a probe that rode
    // with any publish (not its class's write) would leave between the class's writes, in a write of its own.
    await start({ rate_orders_per_s: 10_000 });
    const url = all!.feed_service.url;
    const direct = await RawClient.open(url);
    const delayed = await RawClient.open(`${url}?write_delay_ms=${delay_ms}`);
    closers.push(() => direct.terminate(), () => delayed.terminate());
    const probes = watch_probes(delayed);
    for (const c of [direct, delayed]) c.subscribe(symbols, 0);
    await wait_for('synced', () => direct.synced && delayed.synced, 20_000);
    await wait_for('16 probes answered by the delayed reader', () => probes.length >= 16, 60_000);
    const summary = JSON.stringify(probes.slice(0, 40));
    // Each probe's offset is every byte before it on the socket: it overtook nothing it counted.
    for (const p of probes) expect(p.offset, summary).toBe(p.bytes_before);
    // It came in the same read as frames: the class's write carried it. (A client held up by a loaded machine can
    // merge reads, which only makes this easier; a split write is rare, hence not every one.)
    const with_frames = probes.filter((p) => p.with_frames).length;
    expect(with_frames, summary).toBeGreaterThanOrEqual(Math.ceil(probes.length * 0.9));
    expect(delayed.violations).toEqual([]);
    expect(direct.violations).toEqual([]);
  });

  it('a delayed reader too slow for its stream is judged as an undelayed one: conflated for its lag, never closed, exact once the market stops; prompt readers are not conflated', { timeout: 90_000 }, async () => {
    await start({ rate_orders_per_s: 2000, in_flight_bytes_max: 256 * 1024 });
    const feed = all!.feed_service.feed;
    const url = all!.feed_service.url;
    const port = all!.feed_service.server.port;
    const open = async (target: string, query: string): Promise<MirrorClient> => {
      const c = await MirrorClient.connect(all!, query, false, target);
      closers.push(() => c.ws.terminate());
      return c;
    };
    const prompt = [await open(url, ''), await open(url, `?write_delay_ms=${delay_ms}`)];
    for (const c of prompt) c.subscribe(['BTC-USD'], 0);
    await wait_for('prompt readers synced', () => prompt.every((c) => c.has_all_views(['BTC-USD'], [0])), 20_000);
    const from_bytes = prompt[0].bytes_received;
    const from_ms = Date.now();
    await sleep(3000);
    const rate = ((prompt[0].bytes_received - from_bytes) * 1000) / (Date.now() - from_ms);
    expect(rate).toBeGreaterThan(5000); // a stream worth throttling

    // Two proxies reading at 1/7 of the stream through a 4 KB receive buffer: the same slow reader, one delayed.
    const slow: MirrorClient[] = [];
    for (const query of ['', `?write_delay_ms=${delay_ms}`]) {
      const p = await ThrottleProxy.start(port, 4096, rate / 7);
      closers.push(() => p.close());
      const c = await open(p.url, query);
      c.subscribe(['BTC-USD'], 0);
      slow.push(c);
    }
    const sessions = slow.map((c) => c.session);
    expect(sessions.map((s) => s.write_delay?.delay_ms ?? 0)).toEqual([0, delay_ms]);
    await wait_for('both slow readers synced', () => slow.every((c) => c.has_all_views(['BTC-USD'], [0])), 30_000);
    // Conflated: each is judged by its own reader's lag (the probes its pongs answered).
    await wait_for('both slow readers conflated', () => sessions.every((s) => s.slow_episodes >= 1), 60_000);
    const stats = feed.slow_consumer_stats() as { conflation_episodes_by_cause_total: Record<string, number> };
    expect(stats.conflation_episodes_by_cause_total.lag, JSON.stringify(stats)).toBeGreaterThanOrEqual(2);
    expect(stats.conflation_episodes_by_cause_total.buffer ?? 0, JSON.stringify(stats)).toBe(0); // the lag tripped it, not uWS's buffer

    all!.engine.pause(60_000);
    await sleep(200);
    const book = all!.engine.snapshot('BTC-USD');
    await wait_for('every reader at the engine\'s book', () => [...prompt, ...slow].every((c) => at_engine_book(c.view('BTC-USD', 0), book)), 30_000);
    for (const c of [...prompt, ...slow]) {
      expect(c.mirror.violations).toEqual([]);
      expect(c.close_code).toBeNull();
      const got = c.view('BTC-USD', 0).sorted();
      expect(got.bids).toEqual(book.bids.map((l) => [l.price, l.size, l.orders]));
      expect(got.asks).toEqual(book.asks.map((l) => [l.price, l.size, l.orders]));
    }
    for (const c of slow) expect(c.view('BTC-USD', 0).conflated).toBeGreaterThan(0);
    for (const c of prompt) expect(c.view('BTC-USD', 0).conflated).toBe(0);
  });
});
