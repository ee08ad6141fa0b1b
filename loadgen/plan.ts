// The plan of a run, fixed before any socket opens: which symbols each client
// takes, which clients are slow, where each connects from, which ones each
// reconnect storm drops. Every choice comes from the seed and the client's
// index, never from the worker split, so the same seed gives the same load
// whatever --workers is.
import { seeded_random, type RandomSource } from '../src/util/random.js';
import { LoadgenOptionError, sockets_per_source_address_max, type LoadgenOptions, type SymbolDistribution } from './options.js';

export interface ClientSpec {
  index: number;
  /** The feed this client starts on (round-robin over --url). */
  url: string;
  /** Every --url, starting with `url`: on a lost connection the client fails over to the next (SDK connect). */
  urls: string[];
  /** '' = let the kernel choose. */
  local_address: string;
  symbols: string[];
  slow: boolean;
  /** Seed of this client's backoff jitter. */
  seed: number;
}

export interface StormPlan {
  at_s: number;
  percent: number;
  /** Indexes of the clients it drops, ascending. */
  clients: number[];
}

export interface RunPlan {
  symbols: string[];
  clients: ClientSpec[];
  /** clients split over workers: worker w runs clients[i] for i % workers === w. */
  workers: number;
  storms: StormPlan[];
  source_addresses: string[];
}

/** Distinct seeds per purpose and client, so adding a purpose does not shift the others. */
function derive_seed(seed: number, purpose: number, index: number): number {
  let h = (seed ^ Math.imul(purpose + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (index + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const purpose_symbols = 1;
const purpose_slow = 2;
const purpose_backoff = 3;
const purpose_storm = 4;

/** Cumulative Zipf weights over ranks 1..n: weight(r) = 1 / r^s. */
export function zipf_cumulative(n: number, exponent: number): Float64Array {
  const out = new Float64Array(n);
  let total = 0;
  for (let r = 1; r <= n; r++) {
    total += 1 / r ** exponent;
    out[r - 1] = total;
  }
  for (let i = 0; i < n; i++) out[i] /= total;
  return out;
}

/**
 * `count` distinct symbols: uniform draws without replacement, or Zipf draws
 * (the list order is the popularity rank) rejecting repeats. With count close
 * to the set size Zipf rejection gets slow, so the tail is filled in rank order.
 */
export function pick_symbols(
  symbols: readonly string[], count: number, dist: SymbolDistribution, random: RandomSource, cumulative?: Float64Array,
): string[] {
  if (count > symbols.length) throw new RangeError(`cannot pick ${count} distinct symbols out of ${symbols.length}`);
  if (dist === 'uniform') {
    const pool = [...symbols];
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, count);
  }
  const cdf = cumulative ?? zipf_cumulative(symbols.length, 1);
  const chosen = new Set<number>();
  for (let attempt = 0; chosen.size < count && attempt < count * 64; attempt++) {
    const u = random();
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    chosen.add(lo);
  }
  for (let r = 0; chosen.size < count; r++) chosen.add(r);
  return [...chosen].map((r) => symbols[r]);
}

function is_loopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
}

export function source_addresses_for(o: LoadgenOptions): string[] {
  if (o.source_addresses === 'none') return [];
  if (o.source_addresses !== 'auto') return [...o.source_addresses];
  if (o.clients <= sockets_per_source_address_max) return [];
  if (!o.urls.every(is_loopback)) {
    throw new LoadgenOptionError('--source-addresses',
      `${o.clients} clients need several source addresses (one per ${sockets_per_source_address_max}); the target is not loopback, so list them yourself`);
  }
  const needed = Math.ceil(o.clients / sockets_per_source_address_max);
  if (needed > 254) throw new LoadgenOptionError('--clients', `${o.clients} clients would need ${needed} loopback addresses (at most 254)`);
  return Array.from({ length: needed }, (_, i) => `127.0.0.${i + 1}`);
}

export function plan_run(o: LoadgenOptions, symbols: readonly string[]): RunPlan {
  if (symbols.length === 0) throw new LoadgenOptionError('--symbols', 'no symbols to subscribe to');
  if (o.symbols_per_client > symbols.length) {
    throw new LoadgenOptionError('--symbols-per-client', `${o.symbols_per_client} is more than the ${symbols.length} symbols available (${symbols.join(', ')})`);
  }
  const addresses = source_addresses_for(o);
  const cdf = o.symbol_dist === 'zipf' ? zipf_cumulative(symbols.length, o.zipf_exponent) : undefined;
  // Exactly round(clients * fraction) slow clients, spread by a seeded shuffle rather than a coin per client.
  const slow_count = Math.round(o.clients * o.slow_fraction);
  const slow = new Uint8Array(o.clients);
  for (const i of seeded_sample(o.clients, slow_count, seeded_random(derive_seed(o.seed, purpose_slow, 0)))) slow[i] = 1;
  const clients: ClientSpec[] = [];
  for (let i = 0; i < o.clients; i++) {
    const random = seeded_random(derive_seed(o.seed, purpose_symbols, i));
    clients.push({
      index: i,
      url: o.urls[i % o.urls.length],
      urls: o.urls.map((_, k) => o.urls[(i + k) % o.urls.length]),
      local_address: addresses.length === 0 ? '' : addresses[Math.floor(i / Math.ceil(o.clients / addresses.length))] ?? addresses[addresses.length - 1],
      symbols: pick_symbols(symbols, o.symbols_per_client, o.symbol_dist, random, cdf),
      slow: slow[i] === 1,
      seed: derive_seed(o.seed, purpose_backoff, i),
    });
  }
  const storms = o.reconnect_storms
    .map((s, k) => ({
      at_s: s.at_s,
      percent: s.percent,
      clients: seeded_sample(o.clients, Math.round((o.clients * s.percent) / 100), seeded_random(derive_seed(o.seed, purpose_storm, k))).sort((a, b) => a - b),
    }))
    .sort((a, b) => a.at_s - b.at_s);
  return { symbols: [...symbols], clients, workers: Math.min(o.workers, o.clients), storms, source_addresses: addresses };
}

/** `k` distinct indexes of 0..n-1 (partial Fisher-Yates). */
export function seeded_sample(n: number, k: number, random: RandomSource): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  const take = Math.min(k, n);
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(random() * (n - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, take);
}

/** The clients worker w runs. */
export function clients_of_worker(plan: RunPlan, worker: number): ClientSpec[] {
  return plan.clients.filter((c) => c.index % plan.workers === worker);
}

/** ws://host:port/ws → http://host:port/stats (the feed's JSON stats). */
export function stats_url(ws_url: string): string {
  const u = new URL(ws_url);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = '/stats';
  u.search = '';
  return u.toString();
}

/** The symbols the feed serves, from its /stats. Throws an Error saying what went wrong. */
export async function discover_symbols(ws_url: string, timeout_ms = 5000): Promise<string[]> {
  const url = stats_url(ws_url);
  let body: unknown;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeout_ms) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (err) {
    throw new Error(`cannot read the feed's symbols from ${url} (${(err as Error).message}); is the feed running? Or pass --symbols`, { cause: err });
  }
  const symbols = (body as { symbols?: Record<string, unknown> } | null)?.symbols;
  const list = symbols && typeof symbols === 'object' ? Object.keys(symbols) : [];
  if (list.length === 0) throw new Error(`${url} lists no symbols; pass --symbols`);
  return list;
}
