// start_engine on the in-process bus: requests and error replies, pause,
// stop flushing everything, and a bus whose publish throws.
import { afterEach, describe, expect, it } from 'vitest';
import { new_book_event } from '../../src/book/types.js';
import type { Bus } from '../../src/bus/bus.js';
import { FaultBus } from '../helpers/fault_bus.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { Subjects } from '../../src/bus/subjects.js';
import { type Config, default_config } from '../../src/config.js';
import { type EngineHandle, start_engine } from '../../src/engine/engine.js';
import { decode_engine_reply, engine_error_code, EventBatchReader } from '../../src/wire/engine_codec.js';

const config: Config = { ...default_config(), rate_orders_per_s: 4000, symbols: ['BTC-USD', 'DOGE-USD'] };
const subjects = new Subjects(config.subject_prefix);
const empty = new Uint8Array(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let engine: EngineHandle | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** Records the last seq published per symbol. */
function watch_seq(bus: Bus): Map<string, number> {
  const last = new Map<string, number>();
  const reader = new EventBatchReader();
  bus.subscribe(subjects.events_all, (data) => {
    reader.read(data);
    last.set(reader.symbol, reader.seq_first + reader.count - 1);
  });
  return last;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(10);
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

describe('engine service (memory bus)', () => {
  it('answers snapshot and instrument requests, and refuses malformed ones with codes', async () => {
    const bus = new MemoryBus();
    engine = await start_engine(config, bus);
    const snapshot = decode_engine_reply(await bus.request(subjects.snapshot('DOGE-USD'), empty, 1000));
    expect(snapshot.kind).toBe('snapshot');
    if (snapshot.kind !== 'snapshot') return;
    expect(snapshot.snapshot.instrument.symbol).toBe('DOGE-USD');
    expect(snapshot.snapshot.epoch).toBe(engine.epoch);
    expect(snapshot.snapshot.bids.length).toBeGreaterThan(5);
    expect(snapshot.snapshot.asks.length).toBeGreaterThan(5);

    const instruments = decode_engine_reply(await bus.request(subjects.instruments, empty, 1000));
    expect(instruments).toMatchObject({ kind: 'instruments', epoch: engine.epoch });
    if (instruments.kind === 'instruments') expect(instruments.instruments.map((i) => i.symbol)).toEqual(['BTC-USD', 'DOGE-USD']);

    const cases: [string, Uint8Array, number, RegExp][] = [
      [subjects.snapshot('ETH-USD'), empty, engine_error_code.unknown_symbol, /unknown symbol 'ETH-USD'.*BTC-USD, DOGE-USD/],
      [subjects.snapshot('btc!'), empty, engine_error_code.bad_request, /not a valid symbol/],
      [subjects.snapshot('BTC-USD'), new Uint8Array([1, 2, 3]), engine_error_code.bad_request, /empty body; got 3 bytes/],
    ];
    for (const [subject, body, code, message] of cases) {
      const reply = decode_engine_reply(await bus.request(subject, body, 1000));
      expect(reply.kind, subject).toBe('error');
      if (reply.kind === 'error') {
        expect(reply.code).toBe(code);
        expect(reply.message).toMatch(message);
      }
    }
    await bus.close();
  });

  it('stops generating while paused, and publishes everything up to the snapshot seq on stop', async () => {
    const bus = new MemoryBus();
    const last_seq = watch_seq(bus);
    engine = await start_engine(config, bus);
    await until(() => (last_seq.get('BTC-USD') ?? 0) > 500, 'events');
    engine.pause(60_000);
    await bus.flush();
    const paused_at = engine.snapshot('BTC-USD').seq;
    await sleep(150);
    expect(engine.snapshot('BTC-USD').seq).toBe(paused_at);
    // Snapshots are still served during a pause.
    const reply = decode_engine_reply(await bus.request(subjects.snapshot('BTC-USD'), empty, 1000));
    expect(reply.kind === 'snapshot' && reply.snapshot.seq).toBe(paused_at);
    await engine.stop();
    await bus.flush();
    for (const symbol of config.symbols) expect(last_seq.get(symbol)).toBe(engine.snapshot(symbol).seq);
    expect(engine.stats().orders).toBeGreaterThan(0);
    await bus.close();
  });

  it('keeps running when every publish throws, counting the failures', async () => {
    const inner = new MemoryBus();
    const failing = new (class extends FaultBus {
      override publish(): void { throw new Error('connection closed'); }
    })(inner);
    engine = await start_engine(config, failing);
    await sleep(200);
    const seq_before = engine.snapshot('BTC-USD').seq;
    await sleep(200);
    expect(engine.snapshot('BTC-USD').seq).toBeGreaterThan(seq_before);
    const stats = engine.stats();
    expect(stats.publish_failures).toBe(stats.batches);
    expect(stats.batches).toBeGreaterThan(0);
    const reply = decode_engine_reply(await failing.request(subjects.snapshot('BTC-USD'), empty, 1000));
    expect(reply.kind).toBe('snapshot');
    await inner.close();
  });

  it('stamps events with the injected clock and takes a new epoch at every start', async () => {
    const bus = new MemoryBus();
    let now = 1.8e18;
    const clock = () => (now += 1000);
    const stamps: number[] = [];
    const reader = new EventBatchReader();
    bus.subscribe(subjects.events_all, (data) => {
      reader.read(data);
      stamps.push(reader.event(0, new_book_event()).ts_engine_ns, reader.ts_publish_ns);
    });
    const first = await start_engine(config, bus, { clock });
    await first.stop();
    engine = await start_engine(config, bus, { clock });
    expect(engine.epoch).toBeGreaterThan(first.epoch);
    await bus.flush();
    expect(stamps.length).toBeGreaterThan(0);
    for (const ts of stamps) expect(ts > 1.8e18 && ts < 1.81e18).toBe(true);
    await engine.stop();
    await bus.close();
  });
});
