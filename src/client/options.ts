// The client's options: what a user may set, their defaults, and the checks
// that turn them into settings once, at construction (and a subscription's
// symbol, depth and interval once, at subscribe). Nothing here runs per frame.
//
// Invariants: a FeedClient is never built from an option that failed its check
// (RangeError or FeedClientError('socket') is thrown instead, before any socket
// opens); a bad subscription throws RangeError and sends nothing.
import { is_valid_group } from '../book/grouped_book.js';
import { depths_allowed, group_ticks_max, interval_ms_max, write_delay_query } from '../wire/codes.js';
import { symbol_bytes_max } from '../wire/feed_types.js';
import type { RandomSource } from '../util/random.js';
import { Backoff } from './backoff.js';
import type { WebSocketConstructor } from './connection.js';
import { FeedClientError } from './counters.js';
import type { TokenOption } from './token_keeper.js';

export interface FeedClientOptions {
  /** WebSocket constructor; default globalThis.WebSocket (browsers). In Node 20 pass `ws`'s WebSocket. */
  WebSocket?: WebSocketConstructor;
  protocols?: string | string[];
  /** The server's heartbeat interval; silence for 2 of them makes the connection stale. Default 1000. */
  heartbeat_interval_ms?: number;
  /** Reconnect backoff: delay = random() * min(max, initial * 2^attempt). Defaults 250 and 10_000. */
  backoff_initial_ms?: number;
  backoff_max_ms?: number;
  /** Random source of the backoff jitter (seed it for reproducible tests). Default Math.random. */
  random?: RandomSource;
  /** Reconnect after an unexpected close. Default true. */
  reconnect?: boolean;
  /** A socket that has not opened after this long is dropped and retried. Default 10_000. */
  connect_timeout_ms?: number;
  /** A view waiting this long for its snapshot asks again. Default 5_000. */
  snapshot_timeout_ms?: number;
  /**
   * Where per-frame latency goes (engine_to_receive, send_to_receive); default
   * nowhere. Opt in with `client_latency()` from `depthcast/client/latency`
   * (HDR histograms, which bring hdr-histogram-js: ~140 KB a core client does
   * not carry), or any object with the same `recorder(hop).record(ns)`. Many
   * clients in one process (loadgen) should share one.
   */
  hops?: LatencySink;
  /**
   * Send Ack frames (bytes processed) so the server caps what it has in flight
   * by what this client has processed, not just read: a busy page then gets a
   * catch-up instead of a backlog. 'auto' (default): only on a socket whose
   * pongs do not already prove it (docs/PROTOCOL.md §5.7). A browser answers
   * the feed's pings on its network thread, however far behind the page is,
   * so it acks; Node's `ws` answers them from the thread that runs this
   * client, in order with the messages, after their listeners ran, so an Ack
   * would only repeat a pong (one more socket write each): no Acks there.
   * true: always; false: never.
   */
  ack?: boolean | 'auto';
  /** Most one Ack per this long (plus one after the last frame of a burst). Default 100. */
  ack_interval_ms?: number;
  /** The client is 'behind' while its newest processed state is older than this (staleness_ms()), plus write_delay_ms. Default 1500. */
  behind_ms?: number;
  /**
   * Ask the feed to write to this connection at most every this many ms, all its frames in one write
   * (docs/PROTOCOL.md §5.10; sent as `?write_delay_ms=N` on each URL): far less CPU per frame for this
   * client (one socket read per write instead of per frame), up to this much more latency. The feed
   * allows up to its --write-delay-ms-max (default 100): above it, an `error` event with code 15
   * (bad_write_delay) and no delay. Counted in the `behind` budget. Default 0: every frame at once.
   */
  write_delay_ms?: number;
  /** Clock in ns since the Unix epoch, the same clock the server stamps with. Default src/util/clock now_ns. */
  clock_ns?: () => number;
  /**
   * Access token (a JWT; docs/OPERATIONS.md §4), sent as the subprotocol `token.<TOKEN>`: a string, or a
   * function returning a promise of one, called for each new connection that needs one, before the token
   * expires (sent in a Refresh frame, no reconnect) and after a 4003 close (then the client reconnects).
   */
  token?: TokenOption;
  /** With a token function: refresh this long before `exp` (plus up to 50% jitter; at most half the lifetime). Default 30_000. */
  token_refresh_lead_ms?: number;
}

/** The hops a client measures, per Delta: engine stamp → receive, server send stamp → receive. */
export type ClientHop = 'engine_to_receive' | 'send_to_receive';

/** Records one hop's samples (ns; negative when clocks disagree: the sink decides). */
export interface HopSampleRecorder {
  record(value_ns: number): void;
}

/**
 * Where a client's per-frame latency goes. `depthcast/client/latency`'s
 * HopHistograms is one; the client asks for each hop's recorder once.
 */
export interface LatencySink {
  recorder(hop: ClientHop): HopSampleRecorder;
}

export interface SubscribeOptions {
  /** 10, 50 or 0 (full book). Default 10. */
  depth?: number;
  /** 0 = every update; else at most one Delta per interval. Default 0. */
  interval_ms?: number;
  /** Price bucket in ticks (docs/PROTOCOL.md §3): 1 = ungrouped (default), up to 1,000,000. */
  group?: number;
}

/** FeedClientOptions checked, with their defaults filled in. */
export interface ClientSettings {
  ws_ctor: WebSocketConstructor;
  protocols: string | string[] | undefined;
  heartbeat_interval_ms: number;
  connect_timeout_ms: number;
  snapshot_timeout_ms: number;
  reconnect: boolean;
  backoff: Backoff;
  hops: LatencySink | undefined;
  clock_ns: () => number;
  ack: boolean | 'auto';
  ack_interval_ms: number;
  behind_ms: number;
  write_delay_ms: number;
  token_source: TokenOption | undefined;
  token_refresh_lead_ms: number;
  random: RandomSource;
}

/** Largest write delay the SDK lets a client ask for; the feed's own limit (--write-delay-ms-max) is usually lower. */
export const write_delay_ms_max = 60_000;

/**
 * One feed URL, or several to fail over between (tried in turn on each reconnect); each checked. With a
 * write delay, each URL asks for it (`write_delay_ms=N` added to its query).
 */
export function client_urls(url: string | readonly string[], write_delay_ms = 0): string[] {
  const urls = typeof url === 'string' ? [url] : [...url];
  if (urls.length === 0) throw new FeedClientError('socket', 'no feed URL given');
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new FeedClientError('socket', `not a URL: '${u}'`);
    }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new FeedClientError('socket', `expected a ws:// or wss:// URL, got '${u}'`);
  }
  if (write_delay_ms === 0) return urls;
  return urls.map((u) => {
    const parsed = new URL(u);
    parsed.searchParams.set(write_delay_query, String(write_delay_ms));
    return parsed.toString();
  });
}

/** Checks the URLs and every option; throws before anything is opened. */
export function client_settings(url: string | readonly string[], options: FeedClientOptions, default_clock_ns: () => number): ClientSettings {
  client_urls(url);
  const ws_ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (ws_ctor === undefined) {
    throw new FeedClientError('socket', 'no global WebSocket here (Node 20): pass options.WebSocket, e.g. `import { WebSocket } from "ws"`');
  }
  const heartbeat_interval_ms = positive(options.heartbeat_interval_ms, 1000, 'heartbeat_interval_ms');
  const connect_timeout_ms = positive(options.connect_timeout_ms, 10_000, 'connect_timeout_ms');
  const snapshot_timeout_ms = positive(options.snapshot_timeout_ms, 5_000, 'snapshot_timeout_ms');
  const backoff = new Backoff(
    positive(options.backoff_initial_ms, 250, 'backoff_initial_ms'),
    positive(options.backoff_max_ms, 10_000, 'backoff_max_ms'),
    options.random ?? Math.random,
  );
  return {
    ws_ctor, protocols: options.protocols, heartbeat_interval_ms, connect_timeout_ms, snapshot_timeout_ms,
    reconnect: options.reconnect ?? true, backoff, hops: options.hops,
    clock_ns: options.clock_ns ?? default_clock_ns,
    ack: options.ack ?? 'auto',
    ack_interval_ms: positive(options.ack_interval_ms, 100, 'ack_interval_ms'),
    behind_ms: positive(options.behind_ms, 1500, 'behind_ms'),
    write_delay_ms: write_delay(options.write_delay_ms),
    token_source: token_option(options.token),
    token_refresh_lead_ms: positive(options.token_refresh_lead_ms, 30_000, 'token_refresh_lead_ms'),
    random: options.random ?? Math.random,
  };
}

/** The (depth, interval_ms, group) of a subscription; throws RangeError on a bad symbol, depth, interval or group. */
export function subscription_of(symbol: string, options: SubscribeOptions): { depth: number; interval_ms: number; group: number } {
  const depth = options.depth ?? 10;
  const group = options.group ?? 1;
  if (!is_valid_group(group)) throw new RangeError(`group must be an integer from 1 to ${group_ticks_max}, got ${group}`);
  const interval_ms = options.interval_ms ?? 0;
  check_symbol(symbol);
  if (!depths_allowed.includes(depth)) throw new RangeError(`depth must be one of ${depths_allowed.join(', ')}, got ${depth}`);
  if (!Number.isInteger(interval_ms) || interval_ms < 0 || interval_ms > interval_ms_max) {
    throw new RangeError(`interval_ms must be an integer in 0..${interval_ms_max}, got ${interval_ms}`);
  }
  return { depth, interval_ms, group };
}

function token_option(token: unknown): TokenOption | undefined {
  if (token === undefined || typeof token === 'function') return token as TokenOption | undefined;
  if (typeof token !== 'string' || token.length === 0) throw new RangeError('token must be a non-empty string or a function returning a promise of one');
  return token;
}

function write_delay(value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0 || value > write_delay_ms_max) {
    throw new RangeError(`write_delay_ms must be an integer from 0 to ${write_delay_ms_max}, got ${value}`);
  }
  return value;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

const utf8 = new TextEncoder();

function check_symbol(symbol: string): void {
  if (typeof symbol !== 'string' || symbol.length === 0) throw new RangeError('symbol must be a non-empty string');
  if (utf8.encode(symbol).length > symbol_bytes_max) throw new RangeError(`symbol longer than ${symbol_bytes_max} bytes: '${symbol}'`);
}

