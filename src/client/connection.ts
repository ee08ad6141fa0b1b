// The client's connection lifecycle: one WebSocket at a time, opened, watched
// and replaced. Knows nothing of views or frames: it hands received data and
// lifecycle moments to its owner (FeedClient) through ConnectionHooks.
//
//   connecting  socket opening, or waiting out a backoff delay to reconnect
//   synced      open and hearing from the server
//   stale       nothing heard for stale_heartbeats heartbeat intervals: the socket
//               is treated as dead (half-open), dropped and replaced
//   closed      for good (close(), a fatal close code, reconnect disabled)
//
// One watchdog timer per client checks every deadline (connect timeout,
// staleness, and through hooks.tick the owner's per-view snapshot waits): no
// timer per view or per frame. Reconnect delays come from Backoff (capped
// exponential, full jitter); the owner resets it when the connection proves
// healthy (a heartbeat, a verified snapshot).
//
// Cost: per received frame one clock read and one comparison; per watchdog tick
// (heartbeat/4, at least 5 ms) three comparisons plus the owner's tick.
//
// Invariants: events of a socket that is no longer current are ignored; once
// 'closed', the state never changes again and no socket is opened.
import { close_code } from '../wire/codes.js';
import type { Backoff } from './backoff.js';
import { FeedClientError, client_error_code, type ClientCounters } from './counters.js';
import type { TokenKeeper } from './token_keeper.js';
import { TickGuard } from '../util/tick_guard.js';

export type ConnectionState = 'connecting' | 'synced' | 'stale' | 'closed';

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

/** What the connection tells its owner. Called synchronously, in this order of a lifecycle. */
export interface ConnectionHooks {
  state(next: ConnectionState, previous: ConnectionState): void;
  /** The socket opened: subscribe everything. */
  opened(now_ns: number): void;
  message(data: unknown, receive_ns: number): void;
  /** The connection went stale; called before the socket is dropped. */
  stale(): void;
  /** The socket is gone (closed, dropped, timed out). Before any reconnect decision. */
  disconnected(code: number, reason: string): void;
  /** The connection will not come back (fatal close code, reconnect disabled): close the client. */
  give_up(): void;
  /** Each watchdog tick while the socket is open and not stale. */
  tick(now_ns: number): void;
  error(err: FeedClientError): void;
}

export interface ConnectionSettings {
  /** Feeds to try, in turn: each reconnect (after the backoff delay) goes to the next one. */
  urls: readonly string[];
  protocols: string | string[] | undefined;
  ws_ctor: WebSocketConstructor;
  heartbeat_interval_ms: number;
  connect_timeout_ms: number;
  reconnect: boolean;
  backoff: Backoff;
  clock_ns: () => number;
  /** The access token, when the client has one (option `token`). */
  token: TokenKeeper | null;
}

export class Connection {
  private connection_state: ConnectionState = 'connecting';
  private socket: WebSocketLike | null = null;
  private socket_opened_ns = 0;
  private last_receive_ns = 0;
  private sockets_opened = 0;
  /** A failure to connect was reported since the last socket opened. */
  private connect_failure_said = false;
  /** The current socket has opened (an error now is about its stream, not about connecting). */
  private socket_was_open = false;
  private reconnect_timer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private readonly watchdog_interval_ms: number;
  /** A watchdog tick right after this process was held up judges nothing (frames may sit unread in the socket). */
  private watchdog_guard: TickGuard | null = null;
  private readonly stale_after_ns: number;
  private readonly connect_timeout_ns: number;
  private url_index = 0;

  constructor(private readonly settings: ConnectionSettings, private readonly counters: ClientCounters, private readonly hooks: ConnectionHooks) {
    this.stale_after_ns = stale_heartbeats * settings.heartbeat_interval_ms * 1e6;
    this.watchdog_interval_ms = Math.max(5, Math.floor(settings.heartbeat_interval_ms / 4));
    this.connect_timeout_ns = settings.connect_timeout_ms * 1e6;
  }

  /** Opens the first socket and starts the watchdog. */
  start(): void {
    this.open_socket();
    this.watchdog_guard = new TickGuard(this.watchdog_interval_ms, this.settings.clock_ns() / 1e6);
    this.watchdog = setInterval(() => this.check_deadlines(), this.watchdog_interval_ms);
  }

  get state(): ConnectionState {
    return this.connection_state;
  }

  /** The feed URL in use (or to be tried next). */
  get url(): string {
    return this.settings.urls[this.url_index];
  }

  /** Open and not closed for good: frames sent now reach the server. */
  is_open(): boolean {
    return this.socket !== null && this.socket.readyState === ws_open && this.connection_state !== 'closed';
  }

  /** A socket is open to write to (closing may still be under way). */
  is_writable(): boolean {
    return this.socket !== null && this.socket.readyState === ws_open;
  }

  /** Sends bytes on the open socket (check is_writable first). Throws what the socket throws. */
  send(bytes: Uint8Array): void {
    this.socket?.send(bytes);
  }

  /**
   * The current socket answers pings itself, from this thread, in order with
   * the messages and after their listeners ran: it has a pong() method, as
   * Node's `ws` does (its receiver emits messages and answers pings one frame
   * at a time, in order). A browser's WebSocket has none: its network thread
   * answers pings whatever the page has processed.
   */
  pongs_follow_processing(): boolean {
    return typeof (this.socket as { pong?: unknown } | null)?.pong === 'function';
  }

  /** The connection delivered what it should: the next outage starts from a short delay. */
  healthy(): void {
    this.settings.backoff.reset();
  }

  /** Stops timers and drops the socket; the state goes 'closed'. */
  close(): void {
    if (this.connection_state === 'closed') return;
    if (this.reconnect_timer !== null) clearTimeout(this.reconnect_timer);
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.reconnect_timer = null;
    this.watchdog = null;
    this.drop_socket(1000, 'client closed');
  }

  /** The last step of closing: the state goes 'closed' (and 'state' is emitted). */
  mark_closed(): void {
    this.set_state('closed');
  }

  private open_socket(): void {
    this.reconnect_timer = null;
    this.set_state('connecting');
    const { ws_ctor, token } = this.settings;
    if (token !== null && !token.ready) {
      // A token function: get a token first (the first connection, or after a 4003).
      token.fetch().then(() => {
        if (this.connection_state !== 'closed') this.open_socket();
      }, (err: unknown) => {
        if (this.connection_state === 'closed') return;
        this.hooks.error(new FeedClientError('socket', `token function failed: ${(err as Error)?.message ?? String(err)}`));
        this.schedule_reconnect();
      });
      return;
    }
    const protocols = token === null ? this.settings.protocols : token.protocols(this.settings.protocols);
    const url = this.url;
    let ws: WebSocketLike;
    try {
      ws = new ws_ctor(url, protocols);
    } catch (err) {
      this.hooks.error(new FeedClientError('socket', `cannot open ${url}: ${(err as Error).message}`));
      this.schedule_reconnect();
      return;
    }
    if (this.sockets_opened++ > 0) this.counters.reconnects++;
    // Browsers default to Blobs: ask for ArrayBuffers. Node's ws defaults to Buffers, which the client reads
    // in place; asking it for ArrayBuffers would copy every message.
    if (ws.binaryType !== 'nodebuffer') ws.binaryType = 'arraybuffer';
    ws.onopen = () => this.on_open(ws);
    ws.onmessage = (event: { data: unknown }) => this.on_message(ws, event.data);
    ws.onclose = (event: { code?: number; reason?: string }) => this.on_socket_closed(ws, event.code ?? 1006, event.reason ?? '');
    // An error is always followed by close; the close decides what happens next. One that comes before the
    // socket opened is said once per outage (a feed that stays down must not flood the app with errors).
    ws.onerror = (event: { message?: string; error?: { message?: string } }) => this.on_socket_error(ws, event);
    this.socket = ws;
    this.socket_was_open = false;
    this.socket_opened_ns = this.settings.clock_ns();
  }

  private on_socket_error(ws: WebSocketLike, event: { message?: string; error?: { message?: string } }): void {
    if (ws !== this.socket) return;
    // ws says why (an HTTP status, a refused connection, a bad handshake, a broken frame); a browser says nothing.
    const why = event?.message ?? event?.error?.message ?? 'no reason given';
    if (this.socket_was_open) {
      // Garbage at the WebSocket layer itself (bad opcode, length, UTF-8): the library closes the socket (1002).
      this.hooks.error(new FeedClientError('decode', `the WebSocket stream from ${this.url} broke: ${why}`, client_error_code.bad_frame));
      return;
    }
    if (this.connect_failure_said) return;
    this.connect_failure_said = true;
    this.hooks.error(new FeedClientError('socket', `could not open a WebSocket to ${this.url}: ${why}`, client_error_code.connect_failed));
  }

  /** Drops the current socket, whose frames cannot be used (not a depthcast feed), and reconnects as after any loss. */
  abandon(code: number, reason: string): void {
    if (this.socket === null || this.connection_state === 'closed') return;
    this.drop_socket(code, reason);
    this.after_disconnect(code, reason);
  }

  private on_open(ws: WebSocketLike): void {
    if (ws !== this.socket) return;
    this.connect_failure_said = false;
    this.socket_was_open = true;
    this.last_receive_ns = this.settings.clock_ns();
    this.set_state('synced');
    this.hooks.opened(this.last_receive_ns);
  }

  private on_message(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.socket) return;
    const receive_ns = this.settings.clock_ns();
    this.last_receive_ns = receive_ns;
    this.hooks.message(data, receive_ns);
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
    this.hooks.disconnected(code, reason);
    if (this.connection_state === 'closed') return;
    if (fatal_close_codes.includes(code)) {
      // With a token function, a 4003 (expired, revoked) means: get a new token, reconnect, resume the views.
      if (this.settings.token?.on_refused() === true && this.settings.reconnect) {
        this.schedule_reconnect();
        return;
      }
      this.hooks.error(new FeedClientError('socket', `server refused the connection (close ${code}${reason ? `: ${reason}` : ''}); not reconnecting`, code));
      this.hooks.give_up();
      return;
    }
    if (!this.settings.reconnect) {
      this.hooks.give_up();
      return;
    }
    this.schedule_reconnect();
  }

  private schedule_reconnect(): void {
    if (this.connection_state === 'closed' || this.reconnect_timer !== null) return;
    if (this.connection_state !== 'stale') this.set_state('connecting');
    // Fail over: the next attempt goes to the next feed (the one that failed may be down for good).
    this.url_index = (this.url_index + 1) % this.settings.urls.length;
    const delay_ms = this.settings.backoff.next_delay_ms();
    this.reconnect_timer = setTimeout(() => this.open_socket(), delay_ms);
  }

  private check_deadlines(): void {
    const now = this.settings.clock_ns();
    // Right after this process was held up, what the server sent meanwhile may still sit unread (timers run before
    // sockets are read): a live socket would look silent (util/tick_guard.ts).
    if (this.watchdog_guard !== null && !this.watchdog_guard.may_judge(now / 1e6)) return;
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
      this.hooks.stale();
      this.drop_socket(client_close_stale, 'stale');
      this.after_disconnect(client_close_stale, `no frame or heartbeat for ${stale_heartbeats} heartbeat intervals`);
      return;
    }
    this.hooks.tick(now);
  }

  private set_state(next: ConnectionState): void {
    const previous = this.connection_state;
    if (previous === next || previous === 'closed') return;
    this.connection_state = next;
    this.hooks.state(next, previous);
  }
}
