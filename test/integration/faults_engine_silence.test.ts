// Engine heartbeats (an empty batch at the next seq when a symbol is quiet):
// a quiet market stays live, a lost last batch shows as a gap at the next
// heartbeat (not at the next trade, minutes later), a feed held up longer
// than the silence allowed reads what came meanwhile before it judges (no
// recovery), and an engine that dies without a restart turns its symbols to
// Recovering for clients.
import { afterEach, describe, expect, it } from 'vitest';
import { start_feed_service, type FeedService } from '../../src/app.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { FaultBus } from '../helpers/fault_bus.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { ProtocolClient } from '../helpers/protocol_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbol = 'SOL-USD';
const recovering = 1;
const live = 2;

describe('engine heartbeats and engine silence', () => {
  let engine: EngineHandle | undefined;
  let service: FeedService | undefined;
  afterEach(async () => {
    await service?.stop();
    await engine?.stop();
  });

  async function start(fault: FaultBus, bus: MemoryBus) {
    const config = test_config({ symbols: [symbol], rate_orders_per_s: 200, engine_heartbeat_interval_ms: 100, engine_silence_ms_max: 600 });
    engine = await start_engine(config, bus);
    service = await start_feed_service(config, fault);
    await wait_for('live', () => service!.feed.health().ready);
    return service.feed.symbols.get(symbol)!;
  }

  it('a lost last batch in a quiet market is found at the next heartbeat, and the book recovers', async () => {
    const bus = new MemoryBus();
    const fault = new FaultBus(bus);
    const f = await start(fault, bus);
    const client = await ProtocolClient.connect(service!.url);
    client.subscribe([symbol], 0);
    await wait_for('snapshot', () => client.book(symbol, 0) !== undefined);
    // Drop the next batch that carries events and silence the order flow at that
    // instant (the memory bus delivers before the engine's next turn): only heartbeats follow.
    let dropped = false;
    let batches_at_drop = 0;
    fault.decide = (_subject, _i, data) => {
      if (!dropped && data.byteLength > 200) {
        dropped = true;
        engine!.pause(60_000);
        batches_at_drop = engine!.stats().batches;
        return 'drop';
      }
      return 'deliver';
    };
    await wait_for('a batch dropped', () => dropped);
    const heartbeats_before = f.stats.engine_heartbeats;
    await wait_for('gap found by a heartbeat', () => f.stats.gaps === 1 && f.state === 'live' && f.stats.recoveries === 1, 20_000); // a hang guard: a loaded machine may take longer
    // No event batch was published after the dropped one: a heartbeat revealed the gap.
    expect(engine!.stats().batches).toBe(batches_at_drop);
    expect(f.stats.engine_heartbeats).toBeGreaterThanOrEqual(heartbeats_before);
    const final = engine!.snapshot(symbol);
    await wait_for('client at the engine\'s book', () => at_engine_book(client.book(symbol, 0), final));
    expect(client.sorted(symbol, 0).bids).toEqual(final.bids.map((l) => [l.price, l.size, l.orders]));
    expect(client.sorted(symbol, 0).asks).toEqual(final.asks.map((l) => [l.price, l.size, l.orders]));
    expect(client.violations).toEqual([]);
    client.close();
  });

  it('a feed held up past engine_silence_ms_max reads the heartbeats that came meanwhile: still live, no recovery', async () => {
    const bus = new MemoryBus();
    const fault = new FaultBus(bus);
    const f = await start(fault, bus);
    engine!.pause(60_000);
    await sleep(300);
    // Right after a heartbeat is taken, this process (engine and feed) is held up 1 s, past the 600 ms of silence
    // allowed: when it runs again, the feed's silence check is due before the engine's next heartbeat.
    let stalls = 0;
    let held_until_ms = 0;
    fault.decide = (_subject, _i, data) => {
      if (stalls < 2 && data.byteLength <= 200 && Date.now() > held_until_ms + 300) {
        stalls++;
        queueMicrotask(() => {
          const until = Date.now() + 1000;
          while (Date.now() < until) { /* held up: no timer runs */ }
          held_until_ms = Date.now();
        });
      }
      return 'deliver';
    };
    await wait_for('held up twice', () => stalls === 2 && held_until_ms > 0 && Date.now() > held_until_ms + 300, 20_000);
    expect(f.stats.recoveries).toBe(0);
    expect(f.state).toBe('live');
  });

  it('a quiet but alive engine keeps the symbol live; a dead one turns it Recovering for clients', async () => {
    const bus = new MemoryBus();
    const fault = new FaultBus(bus);
    const f = await start(fault, bus);
    const client = await ProtocolClient.connect(service!.url);
    client.subscribe([symbol], 10);
    engine!.pause(60_000);
    await sleep(1500); // well past engine_silence_ms_max: heartbeats alone keep it live
    expect(f.state).toBe('live');
    expect(f.stats.recoveries).toBe(0);
    expect(f.stats.engine_heartbeats).toBeGreaterThan(5);
    // The engine dies (stops publishing and answering) and nobody restarts it.
    await engine!.stop();
    engine = undefined;
    await wait_for('recovering', () => f.state === 'recovering', 20_000);
    await wait_for('client told', () => client.statuses.some((s) => s.symbol === symbol && s.state === recovering));
    expect(client.statuses.filter((s) => s.state === live).length).toBeGreaterThan(0);
    expect(service!.feed.health().ready).toBe(false);
    client.close();
  });
});
