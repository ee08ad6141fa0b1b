// The feed-conflation rig (test code): a real engine and Feed on the in-process
// bus, with sockets replaced by in-memory transports whose buffered bytes the
// test controls (a paused transport buffers every frame it is given), every
// frame decoded and checked by ViewMirror. Used by feed_conflation*.test.ts.
// Cost: an engine at 20,000 orders/s (by default) and a feed per rig, in-process.
import type { Bus } from '../../src/bus/bus.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import type { Config } from '../../src/config.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { Feed } from '../../src/feed/feed.js';
import type { Session } from '../../src/feed/session.js';
import { send_backpressure, send_dropped, send_ok, type ClientTransport } from '../../src/feed/transport.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { stop_feed_rigs } from './feed_rig.js';
import { sleep, test_config, wait_for } from './service.js';
import { ViewMirror } from './view_mirror.js';

/** A socket the test controls: what it was sent is decoded by a ViewMirror; paused, it buffers everything. */
export class MemTransport implements ClientTransport {
  readonly mirror: ViewMirror;
  readonly remote_address = '10.0.0.1';
  buffered = 0;
  /** Paused: every frame sent stays buffered (a client that stopped reading). */
  paused = false;
  /** The socket refuses sends (uWS over maxBackpressure). */
  refuse = false;
  /** The socket drains completely while this send goes out (a reader catching up at that instant). */
  drain_on_next_send = false;
  ended: { code: number; reason: string } | null = null;
  sends_after_end = 0;
  /** Frames sent in each corked batch (one per session flush). */
  readonly corked_batches: number[] = [];

  send(frame: Uint8Array): number {
    if (this.refuse) return send_dropped;
    if (this.ended !== null) this.sends_after_end++;
    this.mirror.on_bytes(frame);
    if (this.drain_on_next_send) {
      this.drain_on_next_send = false;
      this.paused = false;
      this.buffered = 0;
      return send_ok;
    }
    if (!this.paused) return send_ok;
    this.buffered += frame.byteLength;
    return send_backpressure;
  }

  buffered_bytes(): number {
    return this.buffered;
  }

  cork(fn: () => void): void {
    const before = this.mirror.frames;
    fn();
    this.corked_batches.push(this.mirror.frames - before);
  }

  end(code: number, reason: string): void {
    this.ended ??= { code, reason };
  }

  resume(): void {
    this.paused = false;
    this.buffered = 0;
  }

  /** `trade_gaps_at_snapshots`: a Snapshot without trades may start a new trade baseline (after a reset, PROTOCOL.md §5.5). */
  constructor(trade_gaps_at_snapshots = false) {
    this.mirror = new ViewMirror(undefined, trade_gaps_at_snapshots);
  }
}

const enc = new FrameEncoder();

export interface ConflationRig {
  config: Readonly<Config>;
  feed: Feed;
  engine: EngineHandle;
  bus: MemoryBus;
  connect(options?: { slow_policy?: 'conflate' | 'close'; trade_gaps_at_snapshots?: boolean }): { session: Session; t: MemTransport };
  subscribe(session: Session, symbols: string[], depth: number, interval_ms?: number): void;
  /** The engine stopped and every symbol's views at its last seq. */
  quiesce(): Promise<void>;
}

const rigs: ConflationRig[] = [];

/** Stops every rig started since the last call (afterEach). */
export function stop_conflation_rigs(): Promise<void> {
  return stop_feed_rigs(rigs);
}

/** `feed_bus`: what the feed reads the bus through (e.g. a FaultBus around it); the engine always uses the bus itself. */
export async function conflation_rig(overrides: Partial<Config>, feed_bus: (bus: MemoryBus) => Bus = (bus) => bus): Promise<ConflationRig> {
  const config = test_config({
    symbols: ['BTC-USD', 'ETH-USD'], rate_orders_per_s: 20_000,
    slow_enter_bytes: 20_000, slow_exit_bytes: 2_000, send_buffer_bytes_max: 4 * 1024 * 1024, ...overrides,
  });
  const bus = new MemoryBus();
  const engine = await start_engine(config, bus);
  const feed = new Feed(config, feed_bus(bus));
  feed.start();
  await wait_for('feed live', () => feed.health().ready);
  const r: ConflationRig = {
    config, feed, engine, bus,
    connect(options = {}) {
      const t = new MemTransport(options.trade_gaps_at_snapshots);
      return { session: feed.open_session(t, options), t };
    },
    subscribe(session, symbols, depth, interval_ms = 0) {
      feed.on_client_frame(session, enc.subscribe({ symbols, depth, interval_ms }));
    },
    async quiesce() {
      await engine.stop();
      await wait_for('views at the engine seq', () => config.symbols.every((s) =>
        feed.symbols.get(s)!.committed_seq === engine.stats().by_symbol[s].seq));
      await sleep(30); // one more flush turn and accumulate tick
    },
  };
  rigs.push(r);
  return r;
}
