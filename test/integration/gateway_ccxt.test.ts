// ccxt pro, unchanged, against the Binance gateway (issue 25, part 2): a
// widely used client that no one here wrote checks our update ids itself
// (it raises ChecksumError when U != previous u + 1) and its books are
// compared with depthcast's own, digest-checked book at the same seq.
//
// One service (engine + feed + gateway in-process, the feed on real uWS
// sockets). A binary client subscribes every symbol at full depth through
// ViewMirror (which recomputes the digest after every frame) and records, per
// symbol, a fingerprint of the book at every seq. ccxt watches every symbol's
// book (watchOrderBook: SUBSCRIBE, REST snapshot, then diffs) and at every
// nonce u it reports its book must have the fingerprint depthcast's book had
// at seq u: every level, both sides (the books here hold ~100 levels a side,
// well under the REST snapshot's 1,000, so "all levels" is literal; asserted).
// Phases: steady; across an engine restart (new epoch: the gateway closes the
// streams with 1012 and ccxt re-syncs from REST); across a feed restart (the
// whole feed service and gateway stopped and started again). ccxt reaches the
// gateway through a plain TCP forwarder, as a client reaches a service behind
// a load balancer: the restarted gateway cannot listen on its old port at once
// (the server-side TIME-WAIT sockets of the connections it closed hold it).
// ccxt's markets come from our exchangeInfo through ccxt's own parser and
// are passed in its constructor, so it makes no exchangeInfo call itself.
//
// And `depthcast replay` as a user runs it (the CLI in its own process,
// --gateway-binance-port): a recording of a live engine replayed in real
// time (looping: each pass is a new epoch, which ccxt re-syncs across), ccxt
// watching its gateway, the books compared the same way with a binary client
// of the replay's feed.
// Time: ~39 s (3 phases of DEPTHCAST_GATEWAY_CCXT_PHASE_MS, default 10 s:
// the issue's 30 s of watching every symbol, plus the restarts) + ~12 s for
// the replay (4 s of recording, the CLI's start, 3 s of watching).
import ccxt from 'ccxt';
import { createConnection, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, start_feed_service, type AllInOne, type FeedService } from '../../src/app.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { start_recorder } from '../../src/record/recorder.js';
import { free_port } from '../../src/util/host.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start_engine } from '../../src/engine/engine.js';
import type { Config } from '../../src/config.js';
import { decode_server_frame } from '../../src/wire/feed_decoder.js';
import { MirrorClient } from '../helpers/mirror_client.js';
import { kill_cli_processes, start_cli } from '../helpers/cli_process.js';
import { ProtocolClient } from '../helpers/protocol_client.js';
import type { MirrorView } from '../helpers/view_mirror.js';
import type WebSocket from 'ws';
import { test_config, wait_for, sleep } from '../helpers/service.js';

const phase_ms = Number(process.env.DEPTHCAST_GATEWAY_CCXT_PHASE_MS ?? 10_000);
/** How long the replay case records a live engine (and then watches half as long). */
const replay_record_ms = 4000;
const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'];
const unified = (s: string) => s.replace('-', '/');

/** Order-independent fingerprint of a book's (side, price, size) levels, as integers. */
function level_hash(side: number, price: number, size: number): number {
  let h = Math.imul(side + 1, 0x9e3779b1) ^ Math.imul(price | 0, 0x85ebca6b) ^ Math.imul(Math.floor(price / 2 ** 32), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ Math.imul(size | 0, 0x27d4eb2f) ^ Math.imul(Math.floor(size / 2 ** 32), 0x165667b1);
  h = Math.imul(h ^ (h >>> 13), 0x85ebca6b);
  return (h ^ (h >>> 16)) >>> 0;
}

interface Fingerprint { hash: number; bids: number; asks: number }

function fingerprint(bids: Iterable<[number, number]>, asks: Iterable<[number, number]>): Fingerprint {
  let hash = 0;
  let nb = 0;
  let na = 0;
  for (const [p, s] of bids) { hash = (hash + level_hash(0, p, s)) >>> 0; nb++; }
  for (const [p, s] of asks) { hash = (hash + level_hash(1, p, s)) >>> 0; na++; }
  return { hash, bids: nb, asks: na };
}

/** depthcast's books at every seq (all epochs: a seq may repeat after an engine restart). */
class Recorder {
  readonly at = new Map<string, Map<number, Fingerprint[]>>(symbols.map((s) => [s, new Map()]));
  /** The binary client's socket and the protocol violations its mirror found. */
  client: { ws: WebSocket; violations: () => string[] } | null = null;
  max_levels = 0;

  /** A binary full-depth client of an in-process feed service (MirrorClient). */
  async attach(feed_service: FeedService): Promise<void> {
    const c = await MirrorClient.connect({ feed_service } as AllInOne); // it reads only the feed service
    this.record(c.ws, (symbol) => c.view(symbol, 0));
    c.subscribe(symbols, 0);
    await wait_for('binary full-depth views', () => c.has_all_views(symbols, [0]));
    this.client = { ws: c.ws, violations: () => c.mirror.violations };
  }

  /** A binary full-depth client of a feed in another process (ProtocolClient). */
  async attach_url(url: string): Promise<void> {
    const c = await ProtocolClient.connect(url);
    this.record(c.socket, (symbol) => c.book(symbol, 0)!);
    c.subscribe(symbols, 0);
    await wait_for('binary full-depth views', () => symbols.every((s) => c.book(s, 0) !== undefined), 20_000);
    this.client = { ws: c.socket, violations: () => c.violations };
  }

  /** Each Snapshot and Delta's book, fingerprinted at its seq (the client's own listener has applied it already). */
  private record(ws: WebSocket, view: (symbol: string) => MirrorView): void {
    ws.on('message', (data: Buffer) => {
      const msg = decode_server_frame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (msg.type !== 'snapshot' && msg.type !== 'delta') return;
      const v = view(msg.symbol);
      const f = fingerprint([...v.bids].map(([p, l]) => [p, l.size]), [...v.asks].map(([p, l]) => [p, l.size]));
      this.max_levels = Math.max(this.max_levels, f.bids, f.asks);
      const by_seq = this.at.get(msg.symbol)!;
      const list = by_seq.get(msg.seq) ?? [];
      list.push(f);
      by_seq.set(msg.seq, list);
    });
  }
}

/** A TCP forwarder to 127.0.0.1:upstream_port (changed when the service restarts). */
async function forwarder(upstream: { port: number }): Promise<{ server: Server; port: number }> {
  const server = createServer((down) => {
    const up = createConnection({ host: '127.0.0.1', port: upstream.port });
    down.pipe(up).pipe(down);
    const end = () => { down.destroy(); up.destroy(); };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

interface Watched { symbol: string; nonce: number; fp: Fingerprint }

/** ccxt pro's binance, unchanged, pointed at a gateway: markets from its exchangeInfo (ccxt's parser) in the constructor. */
class CcxtWatcher {
  readonly watched: Watched[] = [];
  readonly errors = new Map<string, number>();
  phase = 'steady';
  private running = false;
  private watchers: Promise<void>[] = [];
  private constructor(readonly exchange: InstanceType<typeof ccxt.pro.binance>, private readonly ticks: Map<string, { price: number; amount: number }>) {}

  static async connect(port: number): Promise<CcxtWatcher> {
    const base = `http://127.0.0.1:${port}`;
    const info = await (await fetch(`${base}/api/v3/exchangeInfo`)).json() as { symbols: unknown[] };
    const parser = new ccxt.pro.binance();
    // fetchMarkets fills these from Binance's margin endpoints before parsing; a spot-only venue has no margin pairs.
    parser.options['crossMarginPairsData'] = [];
    parser.options['isolatedMarginPairsData'] = [];
    const markets = info.symbols.map((s) => parser.parseMarket(s as Record<string, unknown>)).filter((m) => m !== undefined);
    expect(markets.map((m) => m.symbol).sort()).toEqual(symbols.map(unified).sort());
    const exchange = new ccxt.pro.binance({
      markets: Object.fromEntries(markets.map((m) => [m.symbol, m])),
      urls: { api: { ws: { spot: `ws://127.0.0.1:${port}/stream` }, public: `${base}/api/v3` } },
    });
    await exchange.loadHttpProxyAgent(); // ccxt refuses plain ws:// without it
    return new CcxtWatcher(exchange, new Map(markets.map((m) => [m.symbol, { price: Number(m.precision.price), amount: Number(m.precision.amount) }])));
  }

  fingerprint(symbol: string, bids: unknown[][], asks: unknown[][]): Fingerprint {
    const t = this.ticks.get(unified(symbol))!;
    const ints = (side: unknown[][]) => (side as [number, number][]).map(([p, a]) => [Math.round(p / t.price), Math.round(a / t.amount)] as [number, number]);
    return fingerprint(ints(bids), ints(asks));
  }

  /** watchOrderBook on every symbol until stop(); a failure (a restart) is counted by class and the call repeated, as an application would. */
  start(): void {
    this.running = true;
    this.watchers = symbols.map(async (symbol) => {
      while (this.running) {
        try {
          const ob = await this.exchange.watchOrderBook(unified(symbol));
          this.watched.push({ symbol, nonce: ob.nonce as number, fp: this.fingerprint(symbol, ob.bids, ob.asks) });
        } catch (err) {
          const name = (err as Error).constructor.name;
          this.errors.set(name, (this.errors.get(name) ?? 0) + 1);
          if (process.env.GW_DEBUG) console.log(this.phase, symbol, name, (err as Error).message.slice(0, 200));
          await sleep(100); // ccxt re-subscribes and re-syncs on the next call
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.race([Promise.all(this.watchers), sleep(3000)]);
    await this.exchange.close();
  }

  symbols_since(from: number): Set<string> {
    return new Set(this.watched.slice(from).map((w) => w.symbol));
  }

  /** Each book ccxt reported against depthcast's at the same seq: how many were compared, and the mismatches. */
  compare(recorder: Recorder): { compared: number; mismatches: string[] } {
    let compared = 0;
    const mismatches: string[] = [];
    for (const w of this.watched) {
      const ours = recorder.at.get(w.symbol)!.get(w.nonce);
      if (ours === undefined) continue; // a seq the recorder was not connected for (during the feed restart)
      compared++;
      if (!ours.some((f) => f.hash === w.fp.hash && f.bids === w.fp.bids && f.asks === w.fp.asks)) {
        mismatches.push(`${w.symbol} at ${w.nonce}: ccxt ${w.fp.bids}/${w.fp.asks} levels, depthcast ${ours.map((f) => `${f.bids}/${f.asks}`).join(' or ')}`);
      }
    }
    return { compared, mismatches };
  }
}

describe('ccxt pro binance against the gateway', () => {
  let all: AllInOne;
  let config: Readonly<Config>;
  const recorder = new Recorder();
  const upstream = { port: 0 };
  let proxy: { server: Server; port: number };

  beforeAll(async () => {
    all = await start_all(test_config({ gateway_binance_port: 0 }));
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
    config = test_config({ gateway_binance_port: 0 });
    upstream.port = all.feed_service.gateway!.port;
    proxy = await forwarder(upstream);
    await recorder.attach(all.feed_service);
  });

  afterAll(async () => {
    recorder.client?.ws.terminate();
    proxy?.server.close();
    if (all === undefined) return;
    // Not all.stop(): it would stop the engine and feed service start_all made, replaced by the restarts.
    await all.feed_service.stop();
    await all.engine.stop();
    await all.bus.close();
  });

  it('watchOrderBook and fetchOrderBook match depthcast books at every nonce, 0 ChecksumErrors, across an engine and a feed restart', async () => {
    const ccxt_client = await CcxtWatcher.connect(proxy.port);
    ccxt_client.start();

    // Steady.
    await sleep(phase_ms);
    expect(ccxt_client.symbols_since(0)).toEqual(new Set(symbols));
    const rest = await ccxt_client.exchange.fetchOrderBook('BTC/USD', 1000);
    ccxt_client.watched.push({ symbol: 'BTC-USD', nonce: rest.nonce as number, fp: ccxt_client.fingerprint('BTC-USD', rest.bids, rest.asks) });

    // Engine restart: a new epoch.
    ccxt_client.phase = 'engine_restart';
    await all.engine.stop();
    all.engine = await start_engine(config, all.bus);
    const after_engine = ccxt_client.watched.length;
    await wait_for('ccxt books again after the engine restart', () => ccxt_client.symbols_since(after_engine).size === symbols.length, 20_000);
    await sleep(phase_ms);
    expect(all.feed_service.gateway!.gateway.counters.closes_total.get('book_restart') ?? 0).toBeGreaterThan(0);

    // Feed restart: the feed service and its gateway go away and come back (behind the same forwarder).
    ccxt_client.phase = 'feed_restart';
    recorder.client!.ws.terminate();
    await all.feed_service.stop();
    all.feed_service = await start_feed_service(config, all.bus);
    upstream.port = all.feed_service.gateway!.port;
    await wait_for('feed live again', () => all.feed_service.feed.health().ready);
    await recorder.attach(all.feed_service);
    const after_feed = ccxt_client.watched.length;
    await wait_for('ccxt books again after the feed restart', () => ccxt_client.symbols_since(after_feed).size === symbols.length, 20_000);
    await sleep(phase_ms);
    await ccxt_client.stop();

    expect(recorder.client!.violations()).toEqual([]);
    expect(recorder.max_levels).toBeLessThan(1000); // REST's 1,000 levels are the whole book: the comparison is all levels
    expect(ccxt_client.errors.get('ChecksumError') ?? 0).toBe(0);
    const { compared, mismatches } = ccxt_client.compare(recorder);
    expect(mismatches.slice(0, 5)).toEqual([]);
    // Nearly every nonce ccxt reported is one the recorder saw (not only a few): the comparison covered the run.
    expect(compared).toBeGreaterThan(ccxt_client.watched.length * 0.9);
    expect(compared).toBeGreaterThan(symbols.length * 3 * (phase_ms / 1000) * 5);
  }, 120_000);
});

describe('ccxt pro binance against `depthcast replay`', () => {
  afterAll(() => kill_cli_processes());

  it('the CLI replaying a recording in real time, its gateway on: books match at every nonce, 0 ChecksumErrors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcrec-gateway-'));
    const cleanup: (() => unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
    try {
      // Record a few seconds of a live engine.
      const config = test_config({ recording_dir: dir, record_checkpoint_interval_ms: 300, engine_heartbeat_interval_ms: 200 });
      const live_bus = new MemoryBus();
      const rec = start_recorder(config, live_bus);
      const engine = await start_engine(config, live_bus);
      await sleep(replay_record_ms);
      await engine.stop();
      await rec.stop();
      // Replay it as a user does, with the gateway on (looping, so a slow start of the CLI misses nothing).
      const [port, gateway_port] = [await free_port(), await free_port()];
      const replay = start_cli(['replay', '--recording-dir', dir, '--speed', '1', '--loop', '--port', String(port),
        '--gateway-binance-port', String(gateway_port), '--no-ui']);
      await wait_for('replay feed and gateway up', () => replay.output().includes('replay feed is up') && replay.output().includes('Binance gateway listening'), 30_000);
      const recorder = new Recorder();
      cleanup.push(() => recorder.client?.ws.terminate());
      await recorder.attach_url(`ws://127.0.0.1:${port}/ws`);
      const ccxt_client = await CcxtWatcher.connect(gateway_port);
      ccxt_client.start();
      await wait_for('ccxt books from the replay', () => ccxt_client.symbols_since(0).size === symbols.length, 20_000);
      await sleep(3000);
      await ccxt_client.stop();
      expect(recorder.client!.violations()).toEqual([]);
      expect(ccxt_client.errors.get('ChecksumError') ?? 0).toBe(0);
      const { compared, mismatches } = ccxt_client.compare(recorder);
      expect(mismatches.slice(0, 5)).toEqual([]);
      expect(compared).toBeGreaterThan(symbols.length * 5);
    } finally {
      for (const c of cleanup.reverse()) await c();
    }
  }, 60_000);
});
