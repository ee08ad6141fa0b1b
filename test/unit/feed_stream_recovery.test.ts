// SymbolFeed's recovery from the durable stream, with faults injected
// deterministically: an in-memory EventStream (beside the real JetStream one,
// which the integration tests use) fed by the real EngineCore on a virtual
// clock. Covers the paths a live cluster only hits by chance: a hole in the
// stream (fall back to the engine), a new epoch stored before its first
// snapshot (retry until it is there), a gap in a live book filled from the
// stream with no reset, and a stream that does not answer.
import { describe, expect, it } from 'vitest';
import { side_ask, side_bid } from '../../src/book/types.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import type { EventStream, ReplayResult, StoredMessage, StreamInfo } from '../../src/bus/event_stream.js';
import { Subjects } from '../../src/bus/subjects.js';
import { default_config } from '../../src/config.js';
import { EngineCore } from '../../src/engine/engine_core.js';
import { SymbolFeed, type ResetReason } from '../../src/feed/symbol_feed.js';
import { encode_snapshot_reply } from '../../src/wire/engine_codec.js';
import { sleep, wait_for } from '../helpers/service.js';

const symbol = 'BTC-USD';
const subjects = new Subjects();
const config = { ...default_config(), symbols: [symbol], rate_orders_per_s: 5000 };

/** The stream in memory: every message gets the next stream seq; `holes` are stored but never replayed. */
class FakeStream implements EventStream {
  readonly name = 'fake';
  readonly batches: { seq: number; data: Uint8Array }[] = [];
  private snapshot: StoredMessage | null = null;
  private next_seq = 1;
  readonly holes = new Set<number>();
  failures_left = 0;

  store_batch(data: Uint8Array): number {
    const seq = this.next_seq++;
    this.batches.push({ seq, data });
    return seq;
  }

  async ensure(): Promise<void> {}
  async put_snapshot(_symbol: string, data: Uint8Array): Promise<void> {
    this.snapshot = { data, stream_seq: this.next_seq++ };
  }

  async last_snapshot(): Promise<StoredMessage | null> {
    if (this.failures_left > 0) {
      this.failures_left--;
      throw new Error('stream unavailable (injected)');
    }
    return this.snapshot;
  }

  async replay(_symbol: string, after: number, on_batch: (data: Uint8Array, seq: number) => boolean): Promise<ReplayResult> {
    const result: ReplayResult = { batches: 0, bytes: 0, stopped: false };
    for (const b of this.batches.filter((x) => x.seq > after && !this.holes.has(x.seq))) {
      result.batches++;
      result.bytes += b.data.byteLength;
      if (!on_batch(b.data, b.seq)) {
        result.stopped = true;
        break;
      }
    }
    return result;
  }

  async info(): Promise<StreamInfo | null> {
    return null;
  }
}

/** An engine on a virtual clock whose batches go to `sink`. */
function engine(epoch: number, sink: (bytes: Uint8Array) => void) {
  let now = 1.7e18;
  const core = new EngineCore({ config, subjects, epoch, clock_ns: () => now, publish: (_s, bytes) => sink(bytes) });
  core.start();
  return {
    core,
    run(ms: number): void {
      for (let i = 0; i < ms; i++) {
        now += 1e6;
        core.advance(now, 10_000);
      }
      core.flush();
    },
    snapshot_bytes(): Uint8Array {
      core.flush(symbol);
      return encode_snapshot_reply(core.snapshot(symbol)!);
    },
  };
}

function feed(stream: FakeStream, bus = new MemoryBus()) {
  const resets: ResetReason[] = [];
  const f = new SymbolFeed(symbol, bus, subjects, {
    // A rebuild within the epoch continues the views (on_continue): recorded as 'continued'.
    on_commit: () => {}, on_reset: (_f, reason) => { resets.push(reason); }, on_continue: () => { resets.push('continued' as ResetReason); },
    on_state: () => {}, before_recovery: () => {}, on_batch_applied: () => {},
  }, 100, { stream, engine_silence_ms_max: 10_000 });
  return { f, resets };
}

function levels(l: readonly { price: number; size: number; orders: number }[]) {
  return l.map((x) => [x.price, x.size, x.orders]);
}

function expect_book(f: SymbolFeed, core: EngineCore): void {
  const want = core.snapshot(symbol)!;
  expect(f.committed_seq).toBe(want.seq);
  const got = { bids: [] as { price: number; size: number; orders: number }[], asks: [] as { price: number; size: number; orders: number }[] };
  f.book.top(side_bid, 100_000, got.bids);
  f.book.top(side_ask, 100_000, got.asks);
  expect(levels(got.bids.slice(0, f.book.level_count(side_bid)))).toEqual(levels(want.bids));
  expect(levels(got.asks.slice(0, f.book.level_count(side_ask)))).toEqual(levels(want.asks));
}

describe('SymbolFeed recovers from the durable stream', () => {
  it('with the engine gone: the latest snapshot plus the batches after it, no engine request; the book says engine_silent', async () => {
    const stream = new FakeStream();
    const e = engine(1, (b) => stream.store_batch(b));
    e.run(200);
    await stream.put_snapshot(symbol, e.snapshot_bytes());
    e.run(300); // batches after the snapshot, stored
    const { f, resets } = feed(stream);
    f.start();
    await wait_for('live', () => f.state === 'live');
    expect_book(f, e.core);
    expect(f.last_recovery_source).toBe('stream');
    expect(f.stats.snapshot_requests).toBe(0);
    expect(f.stats.stream_replayed_batches).toBeGreaterThan(0);
    expect(f.engine_silent).toBe(true);
    expect(resets).toEqual(['start']);
    f.stop();
  });

  it('a hole in the stream after its snapshot: the engine is asked instead', async () => {
    const stream = new FakeStream();
    const e = engine(1, (b) => stream.store_batch(b));
    e.run(200);
    await stream.put_snapshot(symbol, e.snapshot_bytes());
    e.run(100);
    stream.holes.add(stream.batches[stream.batches.length - 20].seq);
    e.run(100);
    const bus = new MemoryBus();
    bus.serve(subjects.snapshot_all, () => e.snapshot_bytes());
    const { f } = feed(stream, bus);
    f.start();
    await wait_for('live', () => f.state === 'live');
    expect_book(f, e.core);
    expect(f.last_recovery_source).toBe('engine');
    expect(f.stats.stream_failures).toBeGreaterThanOrEqual(1);
    expect(f.engine_silent).toBe(false);
    f.stop();
  });

  it('a new epoch stored before its first snapshot: the feed waits for that snapshot (no engine request)', async () => {
    const stream = new FakeStream();
    const old = engine(1, (b) => stream.store_batch(b));
    old.run(100);
    await stream.put_snapshot(symbol, old.snapshot_bytes());
    const next = engine(2, (b) => stream.store_batch(b));
    next.run(100);
    const { f } = feed(stream);
    f.start();
    await new Promise((r) => setTimeout(r, 120));
    expect(f.state).toBe('recovering'); // epoch 1's snapshot cannot be continued by epoch 2's batches
    await stream.put_snapshot(symbol, next.snapshot_bytes());
    await wait_for('live on epoch 2', () => f.state === 'live');
    expect(f.epoch).toBe(2);
    expect_book(f, next.core);
    expect(f.stats.snapshot_requests).toBe(0);
    f.stop();
  });

  it('a batch lost on the live path: the live book is filled from the stream, no reset', async () => {
    const stream = new FakeStream();
    let live: ((bytes: Uint8Array) => void) | null = null;
    const e = engine(1, (b) => {
      stream.store_batch(b);
      live?.(b);
    });
    e.run(100);
    await stream.put_snapshot(symbol, e.snapshot_bytes());
    const { f, resets } = feed(stream);
    f.start();
    await wait_for('live', () => f.state === 'live');
    let n = 0;
    live = (b) => {
      if (++n !== 5) f.on_message(b, 0); // the fifth batch never arrives live
    };
    e.run(50);
    await wait_for('filled', () => f.stats.stream_fills === 1);
    e.run(50);
    expect_book(f, e.core);
    expect(f.stats.gaps).toBe(1);
    expect(f.stats.recoveries).toBe(0);
    expect(resets).toEqual(['start']);
    f.stop();
  });

  it('started from the engine before the stream held a snapshot: once the stream has one, a lost batch is filled from it, no reset', async () => {
    const stream = new FakeStream();
    let live: ((bytes: Uint8Array) => void) | null = null;
    const e = engine(1, (b) => {
      stream.store_batch(b);
      live?.(b);
    });
    e.run(100); // batches stored, but no snapshot yet (the engine stores its first one an interval after it starts)
    const bus = new MemoryBus();
    bus.serve(subjects.snapshot_all, () => e.snapshot_bytes());
    const { f, resets } = feed(stream, bus);
    live = (b) => f.on_message(b, 0);
    f.start();
    await wait_for('live', () => f.state === 'live');
    expect(f.last_recovery_source).toBe('engine');
    e.run(20);
    await stream.put_snapshot(symbol, e.snapshot_bytes()); // the engine's first periodic snapshot
    await sleep(1_300); // the feed asks the stream again a second after its engine reset
    let n = 0;
    live = (b) => {
      if (++n !== 5) f.on_message(b, 0); // the fifth batch never arrives live
    };
    e.run(50);
    await wait_for('filled or reset', () => f.stats.stream_fills === 1 || f.stats.recoveries > 0);
    await wait_for('live', () => f.state === 'live');
    e.run(50);
    expect_book(f, e.core);
    expect(f.stats.gaps).toBe(1);
    expect(f.stats.stream_fills).toBe(1);
    expect(f.stats.recoveries).toBe(0);
    expect(resets).toEqual(['start']);
    f.stop();
  });

  it('a stream that does not answer: the engine is asked; once it answers again, a reset uses it', async () => {
    const stream = new FakeStream();
    const e = engine(1, (b) => stream.store_batch(b));
    e.run(100);
    await stream.put_snapshot(symbol, e.snapshot_bytes());
    stream.failures_left = 1;
    const bus = new MemoryBus();
    bus.serve(subjects.snapshot_all, () => e.snapshot_bytes());
    const { f } = feed(stream, bus);
    f.start();
    await wait_for('live', () => f.state === 'live');
    expect(f.last_recovery_source).toBe('engine');
    expect(f.stats.stream_failures).toBe(1);
    expect_book(f, e.core);
    f.stop();
  });
});
