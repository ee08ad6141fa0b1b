// The depthcast client: one WebSocket, many book views, each verified frame by
// frame (src/client/book.ts). Runs in browsers and in Node: no Node imports;
// the WebSocket constructor is injectable (Node 20 has no global WebSocket:
// pass `ws`'s), timers are the standard globals.
//
// States (connection and per view):
//   connecting  socket opening / waiting to reconnect / view waiting for its snapshot
//   synced      connection: open and hearing from the server; view: verified book
//   stale       nothing heard for 2 heartbeat intervals: the socket is treated as
//               dead (half-open) and replaced
//   resyncing   view only: a check failed; Resync sent in-band, other views flow on
//   closed      client.close(), unsubscribe, a fatal close code, or a view the
//               server refused (unknown symbol, bad depth, ...)
//
// Recovery rules: a check failure resyncs that view alone; a snapshot always
// replaces a book; deltas that arrive before the snapshot of a (re)subscription
// or resync are discarded (counted); after a reconnect everything is
// resubscribed and every book waits for its new snapshot.
import { now_ns } from '../util/clock.js';
import { close_code, depths_allowed, error_code, interval_ms_max } from '../wire/codes.js';
import type {
  ClientMsg, DeltaMsg, ErrorMsg, PongMsg, ServerMsg, SnapshotMsg, StatusMsg, SymbolStateName, TradeAggregateRec, TradeRec,
} from '../wire/feed_types.js';
import { symbol_bytes_max, symbols_per_message_max } from '../wire/feed_types.js';
import { FrameEncoder, decode_server_frame } from '../wire/feed_codec.js';
import { HopHistograms, client_hops } from '../metrics/hop_histograms.js';
import { Backoff, type RandomSource } from './backoff.js';
import { ClientBook, type Verdict } from './book.js';
import { Emitter } from './emitter.js';

export type ConnectionState = 'connecting' | 'synced' | 'stale' | 'closed';
export type ViewState = 'connecting' | 'synced' | 'stale' | 'resyncing' | 'closed';

/** The part of the WebSocket API the client uses: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  // Handler parameters are loose on purpose: DOM and ws event types differ.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onopen: ((event: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onmessage: ((event: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onclose: ((event: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onerror: ((event: any) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

const ws_open = 1;
/** Heartbeat intervals of silence after which a connection is stale. */
export const stale_heartbeats = 2;
/** Close code the client uses when it gives up on a silent (half-open) socket. */
export const client_close_stale = 4000;
/** Close codes after which reconnecting would only repeat the refusal. */
const fatal_close_codes: readonly number[] = [close_code.unauthorized];
/** Error codes that mean a view can never be served as asked. */
const view_refused_codes: readonly number[] = [
  error_code.unknown_symbol, error_code.bad_depth, error_code.bad_interval, error_code.not_entitled, error_code.too_many_subscriptions,
];

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
   * Where per-hop latency goes; default a new HopHistograms of the client hops
   * (~280 KB: totals and interval, two hops). Many clients in one process
   * (loadgen) should share one.
   */
  hops?: HopHistograms;
  /** Record per-frame latency. Default true. */
  record_latency?: boolean;
  /** Clock in ns since the Unix epoch, the same clock the server stamps with. Default src/util/clock now_ns. */
  clock_ns?: () => number;
}

export interface SubscribeOptions {
  /** 10, 50 or 0 (full book). Default 10. */
  depth?: number;
  /** 0 = every update; else at most one Delta per interval. Default 0. */
  interval_ms?: number;
}

/** Counts since the client was created. A live object: read it any time. */
export interface ClientCounters {
  frames: number;
  bytes: number;
  snapshots: number;
  deltas: number;
  heartbeats: number;
  statuses: number;
  pongs: number;
  server_errors: number;
  resyncs: number;              // Resync requests sent (one per failed check)
  digest_mismatches: number;
  range_breaks: number;         // gaps, overlaps, reorders
  epoch_changes: number;        // Delta of a new epoch without a Snapshot
  duplicates: number;           // Delta wholly already applied: ignored
  crossed_books: number;
  invalid_frames: number;       // impossible content (unsorted, too deep, bad numbers)
  decode_errors: number;        // undecodable frames (text, garbage)
  discarded_deltas: number;     // arrived before the snapshot they build on
  unknown_view_frames: number;  // for a view not subscribed (e.g. late after unsubscribe)
  unknown_level_removals: number;
  conflated_frames: number;
  updates_merged: number;       // book versions covered by Deltas
  trades: number;
  trade_aggregates: number;
  trades_folded: number;        // trades inside aggregates
  snapshot_timeouts: number;
  reconnects: number;           // sockets opened after the first
  stale_connections: number;
  closes: number;               // sockets that closed or were dropped
  listener_errors: number;      // exceptions thrown by event listeners (caught)
}

function new_counters(): ClientCounters {
  return {
    frames: 0, bytes: 0, snapshots: 0, deltas: 0, heartbeats: 0, statuses: 0, pongs: 0, server_errors: 0,
    resyncs: 0, digest_mismatches: 0, range_breaks: 0, epoch_changes: 0, duplicates: 0, crossed_books: 0,
    invalid_frames: 0, decode_errors: 0, discarded_deltas: 0, unknown_view_frames: 0, unknown_level_removals: 0,
    conflated_frames: 0, updates_merged: 0, trades: 0, trade_aggregates: 0, trades_folded: 0,
    snapshot_timeouts: 0, reconnects: 0, stale_connections: 0, closes: 0, listener_errors: 0,
  };
}

export type ClientErrorKind = 'verify' | 'server' | 'decode' | 'socket' | 'listener' | 'refused';

export class FeedClientError extends Error {
  constructor(
    readonly kind: ClientErrorKind,
    message: string,
    /** Error frame code (kind 'server'/'refused'), close code (kind 'socket'), else 0. */
    readonly code = 0,
    readonly symbol = '',
    readonly verdict: Verdict | '' = '',
  ) {
    super(message);
    this.name = 'FeedClientError';
  }
}

/** What an update was; one object per book, rewritten per frame: copy what you keep. */
export interface UpdateInfo {
  kind: 'snapshot' | 'delta';
  seq_first: number;
  seq: number;
  conflated: boolean;
  updates_merged: number;
  trades: number;
  /** Receive time minus engine time of the newest event covered (NaN when not stamped). */
  engine_to_receive_ns: number;
  receive_ns: number;
}

export type BookEvents = {
  update: (info: UpdateInfo) => void;
  trade: (trade: TradeRec) => void;
  trade_aggregate: (aggregate: TradeAggregateRec) => void;
  state: (state: ViewState, previous: ViewState) => void;
};

export type ClientEvents = {
  state: (state: ConnectionState, previous: ConnectionState) => void;
  book_state: (book: BookHandle, state: ViewState, previous: ViewState) => void;
  update: (book: BookHandle, info: UpdateInfo) => void;
  trade: (book: BookHandle, trade: TradeRec) => void;
  trade_aggregate: (book: BookHandle, aggregate: TradeAggregateRec) => void;
  status: (status: StatusMsg) => void;
  error: (error: FeedClientError) => void;
  disconnect: (code: number, reason: string) => void;
};

/** One subscribed view (symbol, depth): the verified book plus its state and events. */
export class BookHandle extends ClientBook {
  /** The feed's own state of the symbol (from Status frames). */
  feed_state: SymbolStateName = 'unknown';
  /** Receive time (ns) of the last frame applied. */
  last_receive_ns = 0;
  readonly info: UpdateInfo = {
    kind: 'snapshot', seq_first: 0, seq: 0, conflated: false, updates_merged: 0, trades: 0, engine_to_receive_ns: Number.NaN, receive_ns: 0,
  };
  private view_state: ViewState = 'connecting';
  private readonly events: Emitter<BookEvents>;
  /** @internal when the snapshot this view waits for was asked (ns); 0 = not waiting. */
  awaiting_since_ns = 0;
  /** @internal a snapshot arrived on the current socket (the server knows this view). */
  confirmed = false;

  constructor(symbol: string, depth: number, readonly interval_ms: number, on_listener_error: (err: unknown, event: string) => void) {
    super(symbol, depth);
    this.events = new Emitter<BookEvents>(on_listener_error);
  }

  get state(): ViewState {
    return this.view_state;
  }

  on<E extends keyof BookEvents>(event: E, listener: BookEvents[E]): this {
    this.events.on(event, listener);
    return this;
  }

  once<E extends keyof BookEvents>(event: E, listener: BookEvents[E]): this {
    this.events.once(event, listener);
    return this;
  }

  off<E extends keyof BookEvents>(event: E, listener: BookEvents[E]): this {
    this.events.off(event, listener);
    return this;
  }

  /** @internal */
  set_state(next: ViewState): ViewState {
    const previous = this.view_state;
    if (previous === next) return previous;
    this.view_state = next;
    this.events.emit('state', next, previous);
    return previous;
  }

  /** @internal */
  emit<E extends keyof BookEvents>(event: E, ...args: Parameters<BookEvents[E]>): void {
    this.events.emit(event, ...args);
  }
}

interface PendingPing {
  resolve: (rtt_ns: number) => void;
  reject: (err: Error) => void;
}

export class FeedClient {
  readonly counters: ClientCounters = new_counters();
  readonly hops: HopHistograms;
  /** Last round trip measured by ping() (ns), NaN before the first. */
  last_rtt_ns = Number.NaN;
  /** server_time_ns - receive time of the last Heartbeat/Pong: clock offset plus one-way delay. */
  server_clock_offset_ns = Number.NaN;

  private readonly events: Emitter<ClientEvents>;
  private readonly views = new Map<string, BookHandle[]>();
  private readonly ws_ctor: WebSocketConstructor;
  private readonly encoder = new FrameEncoder();
  private readonly backoff: Backoff;
  private readonly clock_ns: () => number;
  private readonly heartbeat_interval_ms: number;
  private readonly stale_after_ns: number;
  private readonly connect_timeout_ns: number;
  private readonly snapshot_timeout_ns: number;
  private readonly reconnect_enabled: boolean;
  private readonly record_latency: boolean;
  private connection_state: ConnectionState = 'connecting';
  private socket: WebSocketLike | null = null;
  private socket_opened_ns = 0;
  private last_receive_ns = 0;
  private sockets_opened = 0;
  private reconnect_timer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private next_nonce = 1;
  private readonly pings = new Map<number, PendingPing>();

  constructor(readonly url: string, private readonly options: FeedClientOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new FeedClientError('socket', `not a URL: '${url}'`);
    }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new FeedClientError('socket', `expected a ws:// or wss:// URL, got '${url}'`);
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (ctor === undefined) {
      throw new FeedClientError('socket', 'no global WebSocket here (Node 20): pass options.WebSocket, e.g. `import { WebSocket } from "ws"`');
    }
    this.ws_ctor = ctor;
    this.heartbeat_interval_ms = positive(options.heartbeat_interval_ms, 1000, 'heartbeat_interval_ms');
    this.stale_after_ns = stale_heartbeats * this.heartbeat_interval_ms * 1e6;
    this.connect_timeout_ns = positive(options.connect_timeout_ms, 10_000, 'connect_timeout_ms') * 1e6;
    this.snapshot_timeout_ns = positive(options.snapshot_timeout_ms, 5_000, 'snapshot_timeout_ms') * 1e6;
    this.backoff = new Backoff(
      positive(options.backoff_initial_ms, 250, 'backoff_initial_ms'),
      positive(options.backoff_max_ms, 10_000, 'backoff_max_ms'),
      options.random ?? Math.random,
    );
    this.reconnect_enabled = options.reconnect ?? true;
    this.record_latency = options.record_latency ?? true;
    this.clock_ns = options.clock_ns ?? now_ns;
    this.hops = options.hops ?? new HopHistograms(client_hops);
    for (const hop of client_hops) {
      if (!this.hops.has(hop)) throw new FeedClientError('socket', `options.hops must track '${hop}'`);
    }
    this.events = new Emitter<ClientEvents>((err, event) => this.listener_failed(err, event));
    this.open_socket();
    // One timer for every deadline (staleness, connect, snapshot waits): no timer per view or per frame.
    this.watchdog = setInterval(() => this.check_deadlines(), Math.max(5, Math.floor(this.heartbeat_interval_ms / 4)));
  }

  get state(): ConnectionState {
    return this.connection_state;
  }

  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this {
    this.events.on(event, listener);
    return this;
  }

  once<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this {
    this.events.once(event, listener);
    return this;
  }

  off<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * Subscribes to a view and returns its book. Subscribing again to the same
   * (symbol, depth) returns the same handle. Throws RangeError on a bad symbol,
   * depth or interval (nothing is sent).
   */
  subscribe(symbol: string, options: SubscribeOptions = {}): BookHandle {
    if (this.connection_state === 'closed') throw new FeedClientError('socket', 'client is closed');
    const depth = options.depth ?? 10;
    const interval_ms = options.interval_ms ?? 0;
    check_symbol(symbol);
    if (!depths_allowed.includes(depth)) throw new RangeError(`depth must be one of ${depths_allowed.join(', ')}, got ${depth}`);
    if (!Number.isInteger(interval_ms) || interval_ms < 0 || interval_ms > interval_ms_max) {
      throw new RangeError(`interval_ms must be an integer in 0..${interval_ms_max}, got ${interval_ms}`);
    }
    const existing = this.book(symbol, depth);
    if (existing) return existing;
    const view = new BookHandle(symbol, depth, interval_ms, (err, event) => this.listener_failed(err, event));
    const list = this.views.get(symbol);
    if (list) list.push(view);
    else this.views.set(symbol, [view]);
    if (this.is_open()) {
      view.awaiting_since_ns = this.clock_ns();
      this.send({ type: 'subscribe', symbols: [symbol], depth, interval_ms });
    }
    return view;
  }

  /** Stops a view: Unsubscribe is sent, the book goes 'closed' and receives nothing more. */
  unsubscribe(symbol_or_book: string | BookHandle, depth?: number): void {
    const view = typeof symbol_or_book === 'string' ? this.book(symbol_or_book, depth ?? 10) : symbol_or_book;
    if (view && this.remove_view(view)) this.send({ type: 'unsubscribe', symbols: [view.symbol], depth: view.depth });
  }

  /** The handle of a subscribed view, or undefined. */
  book(symbol: string, depth = 10): BookHandle | undefined {
    return this.find_view(symbol, depth);
  }

  books(): BookHandle[] {
    return [...this.views.values()].flat();
  }

  /** Round trip to the server and back (ns), via Ping/Pong. Rejects if the socket goes away first. */
  ping(): Promise<number> {
    if (!this.is_open()) return Promise.reject(new FeedClientError('socket', 'not connected'));
    const nonce = this.next_nonce++;
    return new Promise<number>((resolve, reject) => {
      this.pings.set(nonce, { resolve, reject });
      this.send({ type: 'ping', nonce, client_time_ns: this.clock_ns() });
    });
  }

  /** Closes for good: no reconnect; every view goes 'closed'. */
  close(): void {
    if (this.connection_state === 'closed') return;
    if (this.reconnect_timer !== null) clearTimeout(this.reconnect_timer);
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.reconnect_timer = null;
    this.watchdog = null;
    this.drop_socket(1000, 'client closed');
    this.reject_pings('client closed');
    this.set_state('closed');
    for (const view of this.books()) this.set_view_state(view, 'closed');
    this.views.clear();
  }

  // ---- socket lifecycle ----

  private is_open(): boolean {
    return this.socket !== null && this.socket.readyState === ws_open && this.connection_state !== 'closed';
  }

  private open_socket(): void {
    this.reconnect_timer = null;
    this.set_state('connecting');
    let ws: WebSocketLike;
    try {
      ws = new this.ws_ctor(this.url, this.options.protocols);
    } catch (err) {
      this.emit_error(new FeedClientError('socket', `cannot open ${this.url}: ${(err as Error).message}`));
      this.schedule_reconnect();
      return;
    }
    if (this.sockets_opened++ > 0) this.counters.reconnects++;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => this.on_open(ws);
    ws.onmessage = (event: { data: unknown }) => this.on_message(ws, event.data);
    ws.onclose = (event: { code?: number; reason?: string }) => this.on_socket_closed(ws, event.code ?? 1006, event.reason ?? '');
    // An error is always followed by close; the close decides what happens next.
    ws.onerror = () => {};
    this.socket = ws;
    this.socket_opened_ns = this.clock_ns();
  }

  private on_open(ws: WebSocketLike): void {
    if (ws !== this.socket) return;
    this.last_receive_ns = this.clock_ns();
    this.set_state('synced');
    const views = this.books();
    for (const view of views) {
      view.confirmed = false;
      view.awaiting_since_ns = this.last_receive_ns;
    }
    this.send_subscribes(views);
  }

  /**
   * One Subscribe per (depth, interval) group rather than one per view: after a
   * reconnect or a wave of timeouts, hundreds of views must not trip the
   * server's inbound message rate limit.
   */
  private send_subscribes(views: readonly BookHandle[]): void {
    const groups = new Map<string, { depth: number; interval_ms: number; symbols: string[] }>();
    for (const view of views) {
      const key = `${view.depth}/${view.interval_ms}`;
      const group = groups.get(key);
      if (group) group.symbols.push(view.symbol);
      else groups.set(key, { depth: view.depth, interval_ms: view.interval_ms, symbols: [view.symbol] });
    }
    for (const g of groups.values()) {
      for (let i = 0; i < g.symbols.length; i += symbols_per_message_max) {
        this.send({ type: 'subscribe', symbols: g.symbols.slice(i, i + symbols_per_message_max), depth: g.depth, interval_ms: g.interval_ms });
      }
    }
  }

  private on_socket_closed(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.socket) return;
    this.socket = null;
    this.after_disconnect(code, reason);
  }

  /** Forgets the socket without waiting for a close handshake a dead peer will never answer. */
  private drop_socket(code: number, reason: string): void {
    const ws = this.socket;
    if (!ws) return;
    this.socket = null;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = () => {};
    const terminate = (ws as { terminate?: () => void }).terminate;
    try {
      if (code === client_close_stale && typeof terminate === 'function') terminate.call(ws);
      else ws.close(code, reason);
    } catch {
      // already closing or closed: nothing left to release
    }
  }

  private after_disconnect(code: number, reason: string): void {
    this.counters.closes++;
    this.reject_pings('connection closed');
    this.events.emit('disconnect', code, reason);
    for (const view of this.books()) {
      view.confirmed = false;
      view.awaiting_since_ns = 0;
      if (view.state !== 'stale') this.set_view_state(view, 'connecting');
    }
    if (this.connection_state === 'closed') return;
    if (fatal_close_codes.includes(code)) {
      this.emit_error(new FeedClientError('socket', `server refused the connection (close ${code}${reason ? `: ${reason}` : ''}); not reconnecting`, code));
      this.close();
      return;
    }
    if (!this.reconnect_enabled) {
      this.close();
      return;
    }
    this.schedule_reconnect();
  }

  private schedule_reconnect(): void {
    if (this.connection_state === 'closed' || this.reconnect_timer !== null) return;
    if (this.connection_state !== 'stale') this.set_state('connecting');
    const delay_ms = this.backoff.next_delay_ms();
    this.reconnect_timer = setTimeout(() => this.open_socket(), delay_ms);
  }

  private check_deadlines(): void {
    const now = this.clock_ns();
    const ws = this.socket;
    if (ws === null || this.connection_state === 'closed') return;
    if (ws.readyState !== ws_open) {
      if (now - this.socket_opened_ns > this.connect_timeout_ns) {
        this.drop_socket(client_close_stale, 'connect timeout');
        this.after_disconnect(client_close_stale, 'connect timeout');
      }
      return;
    }
    if (now - this.last_receive_ns > this.stale_after_ns) {
      // Half-open: the server neither sends nor closes. Show it, then replace the socket.
      this.counters.stale_connections++;
      this.set_state('stale');
      for (const view of this.books()) this.set_view_state(view, 'stale');
      this.drop_socket(client_close_stale, 'stale');
      this.after_disconnect(client_close_stale, 'no frame or heartbeat for 2 heartbeat intervals');
      return;
    }
    let unconfirmed: BookHandle[] | undefined;
    for (const view of this.books()) {
      // A recovering symbol's snapshot comes when it is live again: asking again would not hurry it.
      if (view.awaiting_since_ns !== 0 && now - view.awaiting_since_ns > this.snapshot_timeout_ns && view.feed_state !== 'recovering') {
        this.counters.snapshot_timeouts++;
        view.awaiting_since_ns = now;
        if (view.confirmed) this.ask_snapshot(view);
        else (unconfirmed ??= []).push(view);
      }
    }
    if (unconfirmed) this.send_subscribes(unconfirmed);
  }

  // ---- frames ----

  private on_message(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.socket) return;
    const receive_ns = this.clock_ns();
    this.last_receive_ns = receive_ns;
    const c = this.counters;
    c.frames++;
    if (!(data instanceof ArrayBuffer)) {
      c.decode_errors++;
      this.emit_error(new FeedClientError('decode', `expected a binary frame, got ${typeof data === 'string' ? 'text' : typeof data}`));
      return;
    }
    c.bytes += data.byteLength;
    let msg: ServerMsg;
    try {
      msg = decode_server_frame(new Uint8Array(data));
    } catch (err) {
      c.decode_errors++;
      this.emit_error(new FeedClientError('decode', `undecodable frame (${data.byteLength} bytes): ${(err as Error).message}`));
      return;
    }
    switch (msg.type) {
      case 'delta': this.on_delta(msg, receive_ns); break;
      case 'snapshot': this.on_snapshot(msg, receive_ns); break;
      case 'heartbeat':
        c.heartbeats++;
        this.server_clock_offset_ns = msg.server_time_ns - receive_ns;
        this.backoff.reset();
        break;
      case 'status': this.on_status(msg); break;
      case 'error': this.on_server_error(msg); break;
      case 'pong': this.on_pong(msg, receive_ns); break;
    }
  }

  private on_snapshot(msg: SnapshotMsg, receive_ns: number): void {
    this.counters.snapshots++;
    const view = this.book(msg.symbol, msg.depth);
    if (!view) {
      this.counters.unknown_view_frames++;
      return;
    }
    view.confirmed = true;
    // A catch-up snapshot to a conflating client carries the trades since its previous frame.
    const trades = msg.trades ?? [];
    const aggregate = msg.trade_aggregate ?? null;
    if (trades.length > 0 || aggregate !== null) this.emit_trades(view, trades, aggregate);
    const verdict = view.load_snapshot(msg);
    if (verdict !== 'ok') {
      this.check_failed(view, verdict);
      return;
    }
    // A connection that delivers verified books has recovered: the next outage starts from a short delay.
    this.backoff.reset();
    view.awaiting_since_ns = 0;
    view.last_receive_ns = receive_ns;
    const info = view.info;
    info.kind = 'snapshot';
    info.seq_first = msg.seq;
    info.seq = msg.seq;
    info.conflated = false;
    info.updates_merged = 0;
    info.trades = trades.length;
    info.engine_to_receive_ns = Number.NaN;
    info.receive_ns = receive_ns;
    this.set_view_state(view, 'synced');
    this.emit_update(view, info);
  }

  private on_delta(msg: DeltaMsg, receive_ns: number): void {
    const c = this.counters;
    c.deltas++;
    const view = this.find_view(msg.symbol, msg.depth);
    if (!view) {
      c.unknown_view_frames++;
      return;
    }
    if (!view.has_snapshot) {
      c.discarded_deltas++;
      return;
    }
    const removals_before = view.unknown_level_removals;
    const verdict = view.apply_delta(msg);
    c.unknown_level_removals += view.unknown_level_removals - removals_before;
    if (verdict === 'duplicate') {
      c.duplicates++;
      return;
    }
    // Range and epoch were right for every other verdict: the trades belong to this stream.
    if (verdict !== 'range_break' && verdict !== 'epoch_change') this.emit_trades(view, msg.trades, msg.trade_aggregate);
    if (verdict !== 'ok') {
      this.check_failed(view, verdict);
      return;
    }
    if (msg.conflated) c.conflated_frames++;
    c.updates_merged += msg.updates_merged;
    let engine_to_receive_ns = Number.NaN;
    if (this.record_latency) {
      if (msg.ts_engine_ns > 0) {
        engine_to_receive_ns = receive_ns - msg.ts_engine_ns;
        this.hops.record('engine_to_receive', engine_to_receive_ns);
      }
      if (msg.ts_send_ns > 0) this.hops.record('send_to_receive', receive_ns - msg.ts_send_ns);
    }
    view.last_receive_ns = receive_ns;
    const info = view.info;
    info.kind = 'delta';
    info.seq_first = msg.seq_first;
    info.seq = msg.seq;
    info.conflated = msg.conflated;
    info.updates_merged = msg.updates_merged;
    info.trades = msg.trades.length;
    info.engine_to_receive_ns = engine_to_receive_ns;
    info.receive_ns = receive_ns;
    this.emit_update(view, info);
  }

  /** Takes a view out of the client and closes it; false if it was not in. */
  private remove_view(view: BookHandle): boolean {
    const list = this.views.get(view.symbol);
    const i = list ? list.indexOf(view) : -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.views.delete(view.symbol);
    view.awaiting_since_ns = 0;
    this.set_view_state(view, 'closed');
    return true;
  }

  /** No closure, no array method: the hot path runs this per Delta. */
  private find_view(symbol: string, depth: number): BookHandle | undefined {
    const list = this.views.get(symbol);
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) if (list[i].depth === depth) return list[i];
    return undefined;
  }

  private emit_trades(view: BookHandle, trades: readonly TradeRec[], agg: TradeAggregateRec | null): void {
    const c = this.counters;
    c.trades += trades.length;
    const to_client = this.events.has_listeners('trade');
    for (const trade of trades) {
      view.emit('trade', trade);
      if (to_client) this.events.emit('trade', view, trade);
    }
    if (agg !== null) {
      c.trade_aggregates++;
      c.trades_folded += agg.count;
      view.emit('trade_aggregate', agg);
      this.events.emit('trade_aggregate', view, agg);
    }
  }

  private emit_update(view: BookHandle, info: UpdateInfo): void {
    view.emit('update', info);
    this.events.emit('update', view, info);
  }

  private check_failed(view: BookHandle, verdict: Verdict): void {
    const c = this.counters;
    switch (verdict) {
      case 'digest_mismatch': c.digest_mismatches++; break;
      case 'range_break': c.range_breaks++; break;
      case 'epoch_change': c.epoch_changes++; break;
      case 'crossed': c.crossed_books++; break;
      case 'invalid': c.invalid_frames++; break;
      default: break;
    }
    this.emit_error(new FeedClientError('verify', `${view.symbol}@${view.depth}: ${verdict}: ${view.last_problem}; resyncing`, 0, view.symbol, verdict));
    this.set_view_state(view, 'resyncing');
    c.resyncs++;
    view.awaiting_since_ns = this.clock_ns();
    this.ask_snapshot(view);
  }

  /** Resync if the server knows the view on this socket, else (re)subscribe. */
  private ask_snapshot(view: BookHandle): void {
    if (!this.is_open()) return;
    if (view.confirmed) this.send({ type: 'resync', symbol: view.symbol, depth: view.depth });
    else this.send({ type: 'subscribe', symbols: [view.symbol], depth: view.depth, interval_ms: view.interval_ms });
  }

  private on_status(msg: StatusMsg): void {
    this.counters.statuses++;
    for (const s of msg.symbols) {
      const list = this.views.get(s.symbol);
      if (!list) continue;
      for (const view of list) {
        view.feed_state = s.state;
        // The feed is rebuilding this book: no Deltas until a fresh Snapshot, so what we show is stale.
        if (s.state === 'recovering' && view.state === 'synced') this.set_view_state(view, 'stale');
      }
    }
    this.events.emit('status', msg);
  }

  private on_server_error(msg: ErrorMsg): void {
    this.counters.server_errors++;
    const views = msg.symbol ? (this.views.get(msg.symbol) ?? []) : [];
    // Error frames name a symbol, not a depth: act only on views of that symbol still waiting for a snapshot.
    const waiting = views.filter((v) => v.awaiting_since_ns !== 0 && !v.has_snapshot);
    if (msg.code === error_code.not_subscribed) {
      // Our Resync found no subscription (the server lost it): subscribe again.
      for (const view of waiting) {
        view.confirmed = false;
        this.ask_snapshot(view);
      }
    }
    if (view_refused_codes.includes(msg.code) && waiting.length > 0) {
      for (const view of waiting) {
        this.emit_error(new FeedClientError('refused', `${view.symbol}@${view.depth}: refused by the server: ${msg.message}`, msg.code, view.symbol));
        this.remove_view(view);
      }
      return;
    }
    this.emit_error(new FeedClientError('server', `server error ${msg.code}: ${msg.message}`, msg.code, msg.symbol));
  }

  private on_pong(msg: PongMsg, receive_ns: number): void {
    this.counters.pongs++;
    const pending = this.pings.get(msg.nonce);
    if (!pending) return;
    this.pings.delete(msg.nonce);
    this.last_rtt_ns = receive_ns - msg.client_time_ns;
    if (msg.server_time_ns > 0) this.server_clock_offset_ns = msg.server_time_ns - (receive_ns + msg.client_time_ns) / 2;
    pending.resolve(this.last_rtt_ns);
  }

  private reject_pings(why: string): void {
    for (const p of this.pings.values()) p.reject(new FeedClientError('socket', why));
    this.pings.clear();
  }

  // ---- helpers ----

  private send(msg: ClientMsg): void {
    const ws = this.socket;
    if (ws === null || ws.readyState !== ws_open) return;
    try {
      // FrameEncoder returns a copy, which the socket may keep until it is written.
      ws.send(this.encoder.client(msg));
    } catch (err) {
      this.emit_error(new FeedClientError('socket', `send failed: ${(err as Error).message}`));
    }
  }

  private set_state(next: ConnectionState): void {
    const previous = this.connection_state;
    if (previous === next || previous === 'closed') return;
    this.connection_state = next;
    this.events.emit('state', next, previous);
  }

  private set_view_state(view: BookHandle, next: ViewState): void {
    if (view.state === 'closed') return;
    const previous = view.set_state(next);
    if (previous !== next) this.events.emit('book_state', view, next, previous);
  }

  private emit_error(err: FeedClientError): void {
    this.events.emit('error', err);
  }

  private listener_failed(err: unknown, event: string): void {
    this.counters.listener_errors++;
    if (event === 'error') return; // an 'error' listener that throws must not loop
    this.events.emit('error', new FeedClientError('listener', `a '${event}' listener threw: ${(err as Error)?.message ?? String(err)}`));
  }
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

/** Opens a client. Equivalent to new FeedClient(url, options). */
export function connect(url: string, options: FeedClientOptions = {}): FeedClient {
  return new FeedClient(url, options);
}
