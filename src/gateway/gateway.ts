// The Binance-compatible gateway (docs/GATEWAYS.md): Binance spot's
// diff-depth WebSocket streams and REST depth, served from the feed's own
// books (book_source.ts). Transport-free like the feed: src/server/
// gateway_server.ts hands it ClientTransports, text and query parameters.
//
// A gateway connection is a feed Session opened with the slow policy
// 'close': the feed's flow control (corked sends, the send-buffer cap, the
// reader-lag probes, 4008/4009/4010) decides when a Binance reader is too
// slow, exactly as for a binary client that asked for `?slow=close`. A
// Binance client cannot be conflated (it would see a gap in U/u), so closing
// it is the only honest answer: it reconnects and re-syncs from REST.
//
// Fan-out: each (symbol, speed) update is encoded ONCE as a raw event and,
// when any subscriber wants it, once as a combined-stream message, and each
// is published once to its uWS topic (the feed's PublishedTopic: uWS's C++
// writes it to every member). Each member Session counts its share of what
// was published as sent, as for the binary views' topics, so flow control
// judges gateway readers on the same bytes. Nothing is encoded or sent per
// client in JS.
//
// Bounds (GatewayLimits, from --gateway-* options): streams per connection,
// method frames per second per connection (4x over it closes with 1008),
// REST requests per second per IP, REST depth levels.
//
// Cost per update: one encode (two with combined subscribers), one publish
// per form. Per method frame: a token-bucket take and a JSON.parse.

import type { Instrument, L2Level } from '../book/types.js';
import { TokenBucket } from '../feed/rate_limiter.js';
import { inbound_abuse_factor } from '../feed/requests.js';
import type { Session } from '../feed/session.js';
import type { PublishedTopic } from '../feed/published_topic.js';
import type { ClientTransport, TopicPublisher } from '../feed/transport.js';
import {
  binance_ids, combined_json, depth_body, depth_update_json, exchange_info_body, LevelFormat, rest_error, rest_error_body,
  ws_error, ws_error_json, ws_result_json,
} from './binance_format.js';
import { parse_method_frame, parse_stream, type StreamRef } from './binance_requests.js';
import { BookSource, type GatewayFeed, type SourceListener, type SpeedMs } from './book_source.js';
import { count_by } from '../feed/counters.js';
import { gateway_close, new_gateway_counters, type GatewayCounters } from './counters.js';

export interface GatewayLimits {
  readonly streams_per_connection_max: number;
  readonly method_frames_per_s_max: number;
  readonly rest_requests_per_s_max: number;
  readonly depth_levels_max: number;
}

/** REST depth levels when `limit` is not given (Binance's default). */
export const depth_levels_default = 100;
/** Per-IP REST buckets idle this long are forgotten. */
const rest_bucket_idle_ms = 60_000;

export interface RestAnswer {
  status: number;
  body: string;
}

class GatewayStream {
  readonly subscribers = new Set<GatewayConnection>();
  constructor(readonly name: string, readonly symbol: string, readonly speed: SpeedMs,
    /** The raw events' topic and the combined-stream messages' ({"stream":…,"data":…}). */
    readonly raw: PublishedTopic, readonly combined: PublishedTopic) {}

  topic(conn: GatewayConnection): PublishedTopic {
    return conn.combined ? this.combined : this.raw;
  }
}

export class GatewayConnection {
  readonly streams = new Set<GatewayStream>();
  refused = 0;
  constructor(readonly session: Session, public combined: boolean, readonly inbound: TokenBucket) {}
}

export class Gateway implements SourceListener {
  readonly counters: GatewayCounters = new_gateway_counters();
  readonly connections = new Set<GatewayConnection>();
  private readonly source: BookSource;
  /** Every (symbol, speed) stream, by Binance name. */
  private readonly streams = new Map<string, GatewayStream>();
  private readonly by_symbol_speed = new Map<string, GatewayStream>();
  private readonly ids: Map<string, string>;
  /** Binance id (upper case) → symbol, and lower case → symbol (stream names). */
  private readonly symbols_by_id = new Map<string, string>();
  private readonly symbols_by_lower_id = new Map<string, string>();
  private readonly formats = new Map<string, LevelFormat>();
  private readonly rest_buckets = new Map<string, { bucket: TokenBucket; last_ms: number }>();
  private rest_swept_ms = 0;

  constructor(private readonly feed: GatewayFeed, symbols: readonly string[], readonly limits: GatewayLimits, publisher: TopicPublisher) {
    const by_id = binance_ids(symbols); // throws on a collision
    this.ids = new Map([...by_id].map(([id, symbol]) => [symbol, id]));
    for (const [id, symbol] of by_id) {
      this.symbols_by_id.set(id, symbol);
      this.symbols_by_lower_id.set(id.toLowerCase(), symbol);
      for (const speed of [100, 1000] as const) {
        const name = speed === 100 ? `${id.toLowerCase()}@depth@100ms` : `${id.toLowerCase()}@depth`;
        const stream = new GatewayStream(name, symbol, speed, feed.open_topic(name, publisher), feed.open_topic(`${name}|combined`, publisher));
        this.streams.set(name, stream);
        this.by_symbol_speed.set(`${symbol}|${speed}`, stream);
      }
    }
    this.source = new BookSource(feed, symbols, this);
  }

  start(): void {
    this.source.start();
  }

  stop(): void {
    for (const c of [...this.connections]) c.session.close(gateway_close.going_away.code, gateway_close.going_away.reason);
    this.source.stop();
  }

  /** Streams subscribed now, over all connections. */
  get stream_subscriptions(): number {
    let n = 0;
    for (const c of this.connections) n += c.streams.size;
    return n;
  }

  // ---- WebSocket ----

  /** The streams a connection URL names (/ws/<a>/<b>, /stream?streams=a/b); segments without '@' are ignored, as Binance does (ccxt's /stream/0). */
  path_streams(names: readonly string[]): StreamRef[] | string {
    const out: StreamRef[] = [];
    for (const name of names) {
      if (!name.includes('@')) continue;
      const s = parse_stream(name, this.symbols_by_lower_id);
      if (typeof s === 'string') return s;
      out.push(s);
    }
    if (out.length > this.limits.streams_per_connection_max) return `more than ${this.limits.streams_per_connection_max} streams on one connection`;
    return out;
  }

  open(transport: ClientTransport, streams: readonly StreamRef[], combined: boolean): GatewayConnection {
    // Binance clients do not speak depthcast's protocol: no Heartbeat frames (a lagging reader is closed, never conflated).
    const session = this.feed.open_session(transport, { slow_policy: 'close', heartbeats: false });
    const rate = this.limits.method_frames_per_s_max;
    const conn = new GatewayConnection(session, combined, new TokenBucket(rate, rate, Date.now()));
    this.connections.add(conn);
    this.counters.connections = this.connections.size;
    this.counters.connections_opened_total++;
    for (const s of streams) this.join(conn, s);
    return conn;
  }

  on_close(conn: GatewayConnection, code: number): void {
    if (!this.connections.delete(conn)) return;
    for (const s of conn.streams) s.subscribers.delete(conn);
    conn.streams.clear();
    this.counters.connections = this.connections.size;
    count_by(this.counters.closes_total, close_reason(code));
    this.feed.close_session(conn.session, code);
  }

  /** A text frame: a method frame, answered with a result or Binance's error. */
  on_text(conn: GatewayConnection, text: string): void {
    const session = conn.session;
    if (session.closing) return;
    this.counters.method_frames_total++;
    if (!conn.inbound.take(Date.now())) {
      if (++conn.refused > this.limits.method_frames_per_s_max * inbound_abuse_factor) {
        session.close(gateway_close.rate.code, gateway_close.rate.reason);
        return;
      }
      this.send_error(conn, ws_error.invalid_request, `Invalid request: more than ${this.limits.method_frames_per_s_max} messages per second`, null);
      return;
    }
    conn.refused = 0;
    const frame = parse_method_frame(text, this.symbols_by_lower_id, this.limits.streams_per_connection_max);
    if ('code' in frame) {
      this.send_error(conn, frame.code, frame.msg, frame.id);
      return;
    }
    switch (frame.method) {
      case 'SUBSCRIBE': {
        const adding = frame.streams.filter((s) => !conn.streams.has(this.streams.get(s.name)!));
        if (conn.streams.size + new Set(adding.map((s) => s.name)).size > this.limits.streams_per_connection_max) {
          this.send_error(conn, ws_error.invalid_request, `Invalid request: more than ${this.limits.streams_per_connection_max} streams on one connection`, frame.id);
          return;
        }
        // The answer goes first: a client (ccxt) starts its book when it reads it, then buffers the events after it.
        this.send_text(conn, ws_result_json(null, frame.id));
        for (const s of adding) this.join(conn, s);
        return;
      }
      case 'UNSUBSCRIBE':
        for (const s of frame.streams) this.leave(conn, this.streams.get(s.name)!);
        this.send_text(conn, ws_result_json(null, frame.id));
        return;
      case 'LIST_SUBSCRIPTIONS':
        this.send_text(conn, ws_result_json([...conn.streams].map((s) => s.name), frame.id));
        return;
      case 'SET_PROPERTY':
        if (conn.combined !== frame.combined) {
          for (const s of conn.streams) session.leave_topic(s.topic(conn));
          conn.combined = frame.combined;
          for (const s of conn.streams) session.join_topic(s.topic(conn));
        }
        this.send_text(conn, ws_result_json(null, frame.id));
        return;
      case 'GET_PROPERTY':
        this.send_text(conn, JSON.stringify({ result: conn.combined, id: frame.id }));
        return;
    }
  }

  private join(conn: GatewayConnection, ref: StreamRef): void {
    const stream = this.streams.get(ref.name)!;
    if (conn.streams.has(stream)) return;
    conn.streams.add(stream);
    stream.subscribers.add(conn);
    conn.session.join_topic(stream.topic(conn));
  }

  private leave(conn: GatewayConnection, stream: GatewayStream): void {
    if (!conn.streams.delete(stream)) return;
    stream.subscribers.delete(conn);
    conn.session.leave_topic(stream.topic(conn));
  }

  private send_text(conn: GatewayConnection, text: string): void {
    conn.session.queue(Buffer.from(text));
  }

  private send_error(conn: GatewayConnection, code: number, msg: string, id: number | string | null): void {
    count_by(this.counters.ws_errors_total, String(code));
    this.send_text(conn, ws_error_json(code, msg, id));
  }

  // ---- the books (SourceListener) ----

  on_update(symbol: string, speed: SpeedMs, first_update_id: number, last_update_id: number,
    bids: readonly L2Level[], bid_count: number, asks: readonly L2Level[], ask_count: number): void {
    const stream = this.by_symbol_speed.get(`${symbol}|${speed}`);
    if (stream === undefined || stream.subscribers.size === 0) return;
    const format = this.format(symbol);
    if (format === null) return;
    const event = depth_update_json({ id: this.ids.get(symbol)!, first_update_id, last_update_id, event_time_ms: Date.now(), bids, bid_count, asks, ask_count }, format);
    const raw = stream.raw.published.size;
    const combined = stream.combined.published.size;
    if (raw > 0) stream.raw.publish(Buffer.from(event));
    if (combined > 0) stream.combined.publish(Buffer.from(combined_json(stream.name, event)));
    this.counters.events_encoded_total += (raw > 0 ? 1 : 0) + (combined > 0 ? 1 : 0);
    this.counters.events_sent_total += raw + combined;
  }

  on_restart(symbol: string, speed: SpeedMs): void {
    const stream = this.by_symbol_speed.get(`${symbol}|${speed}`);
    if (stream === undefined) return;
    for (const conn of [...stream.subscribers]) conn.session.close(gateway_close.restart.code, gateway_close.restart.reason);
  }

  private format(symbol: string): LevelFormat | null {
    let f = this.formats.get(symbol);
    if (f === undefined) {
      const instrument = this.source.book(symbol)?.instrument ?? null;
      if (instrument === null) return null;
      this.formats.set(symbol, (f = new LevelFormat(instrument)));
    }
    return f;
  }

  // ---- REST ----

  /** Per-IP request rate; an answer when the request is refused. */
  admit_rest(remote_address: string, now_ms: number): RestAnswer | undefined {
    if (now_ms - this.rest_swept_ms > rest_bucket_idle_ms) {
      this.rest_swept_ms = now_ms;
      for (const [ip, b] of this.rest_buckets) if (now_ms - b.last_ms > rest_bucket_idle_ms) this.rest_buckets.delete(ip);
    }
    let b = this.rest_buckets.get(remote_address);
    if (b === undefined) {
      const rate = this.limits.rest_requests_per_s_max;
      this.rest_buckets.set(remote_address, (b = { bucket: new TokenBucket(rate, rate, now_ms), last_ms: now_ms }));
    }
    b.last_ms = now_ms;
    if (b.bucket.take(now_ms)) return undefined;
    return this.rest_answer('other', 429, rest_error.too_many_requests, `Too many requests; current limit is ${this.limits.rest_requests_per_s_max} requests per second per IP.`);
  }

  /** GET /api/v3/depth?symbol=…&limit=… */
  rest_depth(symbol_param: string | undefined, limit_param: string | undefined): RestAnswer {
    if (symbol_param === undefined || symbol_param === '') {
      return this.rest_answer('depth', 400, rest_error.mandatory_param, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    }
    const symbol = this.symbols_by_id.get(symbol_param);
    if (symbol === undefined) return this.rest_answer('depth', 400, rest_error.bad_symbol, 'Invalid symbol.');
    let limit = depth_levels_default;
    if (limit_param !== undefined && limit_param !== '') {
      if (!/^[0-9]{1,20}$/.test(limit_param)) {
        return this.rest_answer('depth', 400, rest_error.illegal_chars, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.");
      }
      limit = Number(limit_param);
      if (limit < 1) return this.rest_answer('depth', 400, rest_error.invalid_parameter, "Invalid data sent for a parameter: 'limit' must be at least 1.");
      limit = Math.min(limit, this.limits.depth_levels_max); // Binance truncates a larger limit to its maximum
    }
    const book = this.source.book(symbol);
    const format = this.format(symbol);
    if (book === undefined || !book.live || format === null) {
      return this.rest_answer('depth', 503, rest_error.disconnected, `Internal error; unable to process your request. Please try again. (${symbol} is recovering)`);
    }
    const sorted = book.sorted();
    const body = depth_body(book.seq, sorted.bids, Math.min(limit, sorted.bids.length), sorted.asks, Math.min(limit, sorted.asks.length), format);
    return this.rest_answer('depth', 200, 0, body);
  }

  /** GET /api/v3/exchangeInfo: every symbol whose instrument the feed has sent. */
  rest_exchange_info(now_ms: number): RestAnswer {
    const instruments: Instrument[] = [];
    for (const symbol of this.ids.keys()) {
      const i = this.source.book(symbol)?.instrument;
      if (i) instruments.push(i);
    }
    const limits = { rest_requests_per_s_max: this.limits.rest_requests_per_s_max, ws_messages_per_s_max: this.limits.method_frames_per_s_max };
    return this.rest_answer('exchangeInfo', 200, 0, exchange_info_body(instruments, now_ms, limits));
  }

  /** Counts a REST answer by endpoint and status; `code` 0 means `msg` is the body itself. */
  rest_answer(endpoint: string, status: number, code: number, msg: string): RestAnswer {
    count_by(this.counters.rest_requests_total, `${endpoint} ${status}`);
    return { status, body: code === 0 ? msg : rest_error_body(code, msg) };
  }
}

/** A close code's name for the closes metric (bounded label set). */
function close_reason(code: number): string {
  for (const c of Object.values(gateway_close)) if (c.code === code) return c.name;
  switch (code) {
    case 1000: return 'normal';
    case 1005: return 'no_status';
    case 1006: return 'abnormal';
    case 4008: return 'slow_consumer';
    case 4009: return 'send_buffer_overflow';
    case 4010: return 'reader_too_slow';
    default: return 'other';
  }
}
