// Reconnect storm: 2,000 clients dropped at once reconnect at once (no
// backoff: the worst case) and must all hold a verified book again. Checks
// that snapshots are encoded once per (symbol, depth, seq) and shared, not
// once per client, and that the storm leaves nothing behind (sessions,
// subscriptions, heap). Clients are light verified clients
// (test/helpers/raw_client.ts) spread over four source addresses, 500 each,
// under the default per-IP connection limit (1000/s). Everything runs in this
// one process, on one core; the measured time is printed, with no timing
// assertion beyond the generous wait.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import { RawClient } from '../helpers/raw_client.js';
import { test_config, wait_for } from '../helpers/service.js';

const clients_total = 2000;
const source_addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
const symbols = ['BTC-USD', 'ETH-USD'];
const depths = [10, 0];

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heap_mb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

describe('reconnect storm', () => {
  let all: AllInOne;
  let url: string;
  let clients: RawClient[] = [];
  const snapshot_keys = new Set<string>();
  const on_snapshot = (m: { symbol: string; depth: number; epoch: number; seq: number }) => { snapshot_keys.add(`${m.symbol}|${m.depth}|${m.epoch}|${m.seq}`); };

  const view_of = (i: number) => ({ symbol: symbols[i % symbols.length], depth: depths[Math.floor(i / symbols.length) % depths.length] });

  /** Opens every client at once; each subscribes as soon as its socket is open. */
  function connect_all(): Promise<RawClient[]> {
    return Promise.all(Array.from({ length: clients_total }, async (_, i) => {
      const c = await RawClient.open(url, { local_address: source_addresses[i % source_addresses.length], keep_frames: false, on_snapshot });
      const v = view_of(i);
      c.subscribe([v.symbol], v.depth);
      return c;
    }));
  }

  function encodes(): number {
    const stats = all.feed_service.feed.stats() as { symbols: Record<string, { views: { snapshot_encodes: number }[] }> };
    let n = 0;
    for (const s of symbols) for (const v of stats.symbols[s].views) n += v.snapshot_encodes;
    return n;
  }

  /** Drops every client at once (no close handshake) and reconnects them all at once, with no backoff; ms until all are synced. */
  async function storm(): Promise<{ ms: number; encodes: number; distinct_snapshots: number }> {
    const feed = all.feed_service.feed;
    const encodes_before = encodes();
    snapshot_keys.clear();
    const t0 = performance.now();
    for (const c of clients) c.terminate();
    clients = await connect_all();
    await wait_for('every client synced again', () => clients.every((c) => c.synced), 60_000, 50);
    const ms = performance.now() - t0;
    await wait_for('old sessions gone', () => feed.sessions.size === clients_total);
    return { ms, encodes: encodes() - encodes_before, distinct_snapshots: snapshot_keys.size };
  }

  beforeAll(async () => {
    all = await start_all(test_config({ symbols, rate_orders_per_s: 40, heartbeat_interval_ms: 1000 }));
    url = all.feed_service.url;
    await wait_for('live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    for (const c of clients) c.terminate();
    await all?.stop();
  });

  it(`${clients_total} clients dropped and reconnected at once are all synced again; snapshots encoded once per (symbol, depth, seq)`, async () => {
    clients = await connect_all();
    await wait_for('all synced', () => clients.every((c) => c.synced), 60_000, 50);
    const heap_start_mb = heap_mb();

    const result = await storm();
    const heap_after_mb = heap_mb();
    const feed = all.feed_service.feed;
    console.log(JSON.stringify({
      clients: clients_total, storm_ms: Math.round(result.ms), snapshot_encodes: result.encodes, distinct_snapshots_sent: result.distinct_snapshots,
      heap_mb: { before: Math.round(heap_start_mb), after: Math.round(heap_after_mb) }, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
    }));

    // One encode per distinct (symbol, depth, epoch, seq) that went out, shared by every client that got it.
    expect(result.encodes).toBeLessThanOrEqual(result.distinct_snapshots);
    expect(result.encodes).toBeLessThan(clients_total / 10);
    for (const c of clients) expect(c.violations).toEqual([]);
    // Nothing left of the dropped connections: sessions and subscriptions are exactly the live ones.
    expect(feed.sessions.size).toBe(clients_total);
    expect(feed.counters.subscriptions).toBe(clients_total);
    // Memory: after the storm, the heap (after GC) is where it was with the same clients before it
    // (generous margin for GC noise; the 2,000 clients live in this process too).
    expect(heap_after_mb - heap_start_mb).toBeLessThan(32);
  }, 120_000);
});
