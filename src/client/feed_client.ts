// The depthcast client: one WebSocket, many book views, each verified frame by
// frame (src/client/book.ts). Runs in browsers and in Node: no Node imports;
// the WebSocket constructor is injectable (Node 20 has no global WebSocket:
// pass `ws`'s), timers are the standard globals.
//
// This file is the public API (subscribe, unsubscribe, ping, close, events)
// and the frame dispatch: it decodes each frame and hands what is about a view
// to ViewSync; heartbeats, pongs and the reader's progress are its own. Its parts:
//   view_sync.ts    what a frame means for the views; recovery rules; asking for snapshots
//   connection.ts   socket, watchdog, backoff, connect and stale timeouts
//   book_handle.ts  the per-view record and the BookHandle users hold
//   counters.ts     ClientCounters and FeedClientError
//   options.ts      FeedClientOptions, their defaults and checks
//   view_table.ts   the views by symbol; Subscribe batching
//   feed_check.ts   whether the socket's peer is a depthcast feed at all
//
// Bad input never reaches a book and never throws into the app: a frame that
// cannot be used is dropped and said (error event, kind 'decode', a
// client_error_code); a socket whose first frames are all unusable is not a
// feed (kind 'protocol': not_a_feed / incompatible_protocol) and is dropped
// and retried with backoff; a frame that throws while applied resyncs every
// view (apply_failed).
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
// Cost per Delta: read in place by a DeltaReader (src/wire/delta_reader.ts:
// checked like decode_server_frame, nothing built), then ViewSync.on_delta
// (see there). Allocation: the views over the received buffer. Every other
// frame goes through the verifying decoder (decode_server_frame).
import { now_ns } from '../util/clock.js';
import type { ClientMsg, PongMsg, ServerMsg, StatusMsg, TradeAggregateRec, TradeIdRange, TradeRec } from '../wire/feed_types.js';
import { decode_server_frame, is_unknown_message } from '../wire/feed_decoder.js';
import { FrameEncoder } from '../wire/feed_encoder.js';
import { DeltaReader, body_delta } from '../wire/delta_reader.js';
import type { BookHandle, UpdateInfo, ViewState } from './book_handle.js';
import { Connection, type ConnectionState } from './connection.js';
import { FeedClientError, client_error_code, new_counters, type ClientCounters } from './counters.js';
import { FeedCheck } from './feed_check.js';
import { Emitter } from './emitter.js';
import { ReaderProgress } from './reader_progress.js';
import { ViewSync } from './view_sync.js';
import { TokenKeeper } from './token_keeper.js';
import { error_code } from '../wire/codes.js';
import { client_settings, client_urls, subscription_of, type FeedClientOptions, type LatencySink, type SubscribeOptions } from './options.js';

export type { ClientHop, FeedClientOptions, HopSampleRecorder, LatencySink, SubscribeOptions } from './options.js';

/** WebSocket close code 1002 (RFC 6455): the peer broke the protocol; the client's close of a socket that is not a feed. */
const close_protocol_error = 1002;

export type ClientEvents = {
  state: (state: ConnectionState, previous: ConnectionState) => void;
  book_state: (book: BookHandle, state: ViewState, previous: ViewState) => void;
  update: (book: BookHandle, info: UpdateInfo) => void;
  trade: (book: BookHandle, trade: TradeRec) => void;
  trade_aggregate: (book: BookHandle, aggregate: TradeAggregateRec) => void;
  /** Trade ids the feed never had (a rebuild within the epoch, docs/PROTOCOL.md §5.5): never coming, neither as trades nor folded. */
  trades_missing: (book: BookHandle, range: TradeIdRange) => void;
  status: (status: StatusMsg) => void;
  error: (error: FeedClientError) => void;
  disconnect: (code: number, reason: string) => void;
};

interface PendingPing {
  resolve: (rtt_ns: number) => void;
  reject: (err: Error) => void;
}

export class FeedClient {
  readonly counters: ClientCounters = new_counters();
  /** options.hops: where per-frame latency goes, undefined when not opted in. */
  readonly hops: LatencySink | undefined;
  /** Last round trip measured by ping() (ns), NaN before the first. */
  last_rtt_ns = Number.NaN;
  /** server_time_ns - receive time of the last Heartbeat/Pong: clock offset plus one-way delay. */
  server_clock_offset_ns = Number.NaN;

  private readonly events: Emitter<ClientEvents>;
  private readonly views: ViewSync;
  private readonly connection: Connection;
  private readonly encoder = new FrameEncoder();
  private readonly clock_ns: () => number;
  private next_nonce = 1;
  private readonly pings = new Map<number, PendingPing>();
  private readonly progress: ReaderProgress;
  private readonly behind_ms: number;
  private readonly delta_reader = new DeltaReader();
  private readonly ack: boolean | 'auto';
  private readonly feed_check = new FeedCheck();
  private readonly token: TokenKeeper | null;

  /** `url`: one feed, or several to fail over between (each reconnect tries the next, after a jittered backoff). */
  constructor(url: string | readonly string[], options: FeedClientOptions = {}) {
    const settings = client_settings(url, options, now_ns);
    this.clock_ns = settings.clock_ns;
    this.hops = settings.hops;
    // The delay this client asked for makes its state that much older by design: not a sign of falling behind.
    this.behind_ms = settings.behind_ms + settings.write_delay_ms;
    this.ack = settings.ack;
    this.progress = new ReaderProgress(settings.ack_interval_ms,
      settings.ack !== false ? (bytes_processed) => this.send({ type: 'ack', bytes_processed }) : null, this.clock_ns);
    this.events = new Emitter<ClientEvents>((err, event) => this.listener_failed(err, event));
    this.token = settings.token_source === undefined ? null : new TokenKeeper(settings.token_source, settings.token_refresh_lead_ms, settings.random, {
      send_refresh: (token) => {
        if (!this.connection.is_open()) return false;
        this.send({ type: 'refresh', token });
        return true;
      },
      failed: (message) => this.emit_error(new FeedClientError('socket', message)),
    }, settings.backoff.initial_ms, settings.backoff.max_ms);
    // The hooks reach this.views only once the connection starts, below.
    this.connection = new Connection(
      { urls: client_urls(url, settings.write_delay_ms), ...settings, token: this.token },
      this.counters,
      {
        state: (next, previous) => this.events.emit('state', next, previous),
        opened: (now) => this.on_open(now),
        message: (data, receive_ns) => this.on_message(data, receive_ns),
        stale: () => this.views.stale(),
        disconnected: (code, reason) => this.on_disconnect(code, reason),
        give_up: () => this.close(),
        tick: (now) => this.views.check_snapshot_deadlines(now),
        error: (err) => this.emit_error(err),
      },
    );
    this.views = new ViewSync(this.counters, this.events, this.connection, (msg) => this.send(msg), (err, event) => this.listener_failed(err, event), settings);
    this.connection.start();
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The feed URL in use now (several given: the one this client has failed over to). */
  get url(): string {
    return this.connection.url;
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
    if (this.connection.state === 'closed') throw new FeedClientError('socket', 'client is closed');
    const { depth, interval_ms, group } = subscription_of(symbol, options);
    return this.views.subscribe(symbol, depth, interval_ms, group);
  }

  /** Stops a view: Unsubscribe is sent, the book goes 'closed' and receives nothing more. */
  unsubscribe(symbol_or_book: string | BookHandle, depth?: number, group = 1): void {
    const view = typeof symbol_or_book === 'string'
      ? this.views.find(symbol_or_book, depth ?? 10, group)
      : this.views.find(symbol_or_book.symbol, symbol_or_book.depth, symbol_or_book.group);
    if (view === undefined || (typeof symbol_or_book !== 'string' && view.handle !== symbol_or_book)) return;
    this.views.unsubscribe(view);
  }

  /** The handle of a subscribed view, or undefined. */
  book(symbol: string, depth = 10, group = 1): BookHandle | undefined {
    return this.views.find(symbol, depth, group)?.handle;
  }

  books(): BookHandle[] {
    const out: BookHandle[] = [];
    this.views.for_each((view) => out.push(view.handle));
    return out;
  }

  /**
   * How old (ms) the newest state this client has processed is, beyond what
   * an idle path would make it: 0 when it keeps up; grows while frames wait
   * (a busy page) or the server conflates it. Needs no clock agreement.
   */
  staleness_ms(): number {
    return this.progress.staleness_ms(this.clock_ns());
  }

  /** Hearing from the server, but what it processed is older than options.behind_ms (plus options.write_delay_ms). */
  get behind(): boolean {
    return this.connection.state === 'synced' && this.staleness_ms() > this.behind_ms;
  }

  /** Acks sent so far (none on a socket whose pongs prove processing, unless options.ack is true). */
  get acks_sent(): number {
    return this.progress.acks_sent;
  }

  /** Round trip to the server and back (ns), via Ping/Pong. Rejects if the socket goes away first. */
  ping(): Promise<number> {
    if (!this.connection.is_open()) return Promise.reject(new FeedClientError('socket', 'not connected'));
    const nonce = this.next_nonce++;
    return new Promise<number>((resolve, reject) => {
      this.pings.set(nonce, { resolve, reject });
      this.send({ type: 'ping', nonce, client_time_ns: this.clock_ns() });
    });
  }

  /** Closes for good: no reconnect; every view goes 'closed'. */
  close(): void {
    if (this.connection.state === 'closed') return;
    this.connection.close();
    this.token?.stop();
    this.reject_pings('client closed');
    this.progress.stop();
    this.connection.mark_closed();
    this.views.close_all();
  }

  // ---- connection lifecycle (called by Connection) ----

  private on_open(now: number): void {
    this.feed_check.opened();
    this.progress.reset(this.ack === true || (this.ack === 'auto' && !this.connection.pongs_follow_processing()));
    this.views.opened(now);
  }

  private on_disconnect(code: number, reason: string): void {
    this.counters.closes++;
    this.reject_pings('connection closed');
    this.progress.reset(false);
    this.events.emit('disconnect', code, reason);
    this.views.disconnected();
  }

  // ---- frames ----

  private on_message(data: unknown, receive_ns: number): void {
    const c = this.counters;
    c.frames++;
    // Node's ws and NodeWebSocket hand Uint8Arrays (Buffers, views), read in place without a copy; browsers hand ArrayBuffers.
    const bytes = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : null;
    if (bytes === null) {
      this.unusable_frame(client_error_code.text_frame, `expected a binary frame, got ${typeof data === 'string' ? 'text' : typeof data}`);
      return;
    }
    c.bytes += bytes.byteLength;
    const delta = this.delta_reader;
    let msg: ServerMsg | null = null;
    try {
      if (delta.read(bytes) !== body_delta) msg = decode_server_frame(bytes);
    } catch (err) {
      this.progress.processed(bytes.byteLength, 0, receive_ns);
      const unknown = is_unknown_message(bytes);
      this.unusable_frame(unknown ? client_error_code.unknown_message : client_error_code.bad_frame,
        `${unknown ? 'a message type this SDK does not know (a newer protocol?)' : 'undecodable frame'} (${bytes.byteLength} bytes): ${(err as Error).message}`);
      return;
    }
    this.feed_check.usable_frame();
    try {
      this.dispatch(msg, receive_ns, bytes.byteLength);
    } catch (err) {
      // Not a verdict (those are values) nor a listener (the emitter catches those): a frame that broke the
      // client. No book that frame may have touched is trusted; the error goes to the app as an event.
      c.decode_errors++;
      this.emit_error(new FeedClientError('decode', `a frame could not be applied (${bytes.byteLength} bytes): ${(err as Error)?.message ?? String(err)}; every view resyncs`, client_error_code.apply_failed));
      this.views.distrust_all();
    }
  }

  /** A frame nobody can use: dropped and said; a socket that sends only such frames is not a feed and is dropped. */
  private unusable_frame(code: number, message: string): void {
    this.counters.decode_errors++;
    this.emit_error(new FeedClientError('decode', message, code));
    const verdict = this.feed_check.unusable_frame(code);
    if (verdict === 0) return;
    const what = verdict === client_error_code.incompatible_protocol
      ? 'a feed of a protocol version this SDK does not speak (only message types it does not know)'
      : 'not a depthcast feed (nothing it sent decodes as a depthcast frame)';
    this.emit_error(new FeedClientError('protocol', `${this.connection.url}: ${what}; dropping the socket, retrying with backoff`, verdict));
    this.connection.abandon(close_protocol_error, 'not a depthcast feed');
  }

  /** What a decoded frame means; msg null: the Delta in delta_reader. */
  private dispatch(msg: ServerMsg | null, receive_ns: number, byte_length: number): void {
    const c = this.counters;
    const delta = this.delta_reader;
    let sent_ns = 0;
    if (msg === null) {
      this.views.on_delta(delta, receive_ns);
      sent_ns = delta.ts_send_ns;
    } else switch (msg.type) {
      case 'delta': break; // read by delta_reader above
      case 'snapshot': this.views.on_snapshot(msg, receive_ns); sent_ns = msg.ts_send_ns; break;
      case 'heartbeat':
        c.heartbeats++;
        this.server_clock_offset_ns = msg.server_time_ns - receive_ns;
        this.connection.healthy();
        this.token?.on_accepted();
        sent_ns = msg.server_time_ns;
        break;
      case 'status': this.views.on_status(msg); break;
      case 'error':
        if (msg.code === error_code.refresh_refused) this.token?.on_refresh_refused(msg.message);
        this.views.on_server_error(msg);
        break;
      case 'refreshed': this.token?.on_refreshed(msg.expires_at_ms); break;
      case 'pong': this.on_pong(msg, receive_ns); sent_ns = msg.server_time_ns; break;
    }
    // After every listener ran: what the application has really processed. Stamped with the frame's receive
    // time: one clock read per frame (the floor is the quickest path, and staleness_ms() reads the clock itself).
    this.progress.processed(byte_length, sent_ns, receive_ns);
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
    if (!this.connection.is_writable()) return;
    try {
      // FrameEncoder returns a copy, which the socket may keep until it is written.
      this.connection.send(this.encoder.client(msg));
    } catch (err) {
      this.emit_error(new FeedClientError('socket', `send failed: ${(err as Error).message}`));
    }
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

/** Opens a client. Equivalent to new FeedClient(url, options). */
export function connect(url: string | readonly string[], options: FeedClientOptions = {}): FeedClient {
  return new FeedClient(url, options);
}
