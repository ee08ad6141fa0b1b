// What the feed needs from a client connection. src/server implements it over
// uWebSockets.js; tests may implement it in memory. Keeps uWS out of src/feed.

export const send_ok = 1;          // written or buffered below the limit
export const send_backpressure = 0;// buffered: backpressure built up, drains over time
export const send_dropped = 2;     // NOT sent: over the socket's backpressure limit

export interface ClientTransport {
  /**
   * Sends one binary frame; returns send_ok, send_backpressure or send_dropped.
   * `compress`: deflate it if the connection negotiated permessage-deflate
   * (a lagging reader's catch-ups); ignored otherwise.
   */
  send(frame: Uint8Array, compress?: boolean): number;
  /**
   * The connection negotiated permessage-deflate: returns how much deflate
   * shrinks a frame like this one (uncompressed ÷ wire bytes; an estimate).
   * Absent when it did not (or the transport cannot compress).
   */
  deflate_ratio?(frame: Uint8Array, now_ms: number): number;
  /** Bytes queued in user space for this socket. */
  buffered_bytes(): number;
  /**
   * Sends a WebSocket ping with this payload (a reader-flow probe); same
   * results as send. Optional: a transport without it (in-memory, in tests
   * and benches) gets only the buffer-based slow detection.
   */
  ping?(payload: Uint8Array): number;
  /**
   * Topic fan-out (uWS topics): this connection receives what is published
   * to `topic` from now on, sent by the transport itself, in order with its
   * direct sends (session.ts). Absent when the transport cannot (in-memory,
   * or --no-fanout-topics): every frame then goes through send().
   */
  subscribe?(topic: string): void;
  unsubscribe?(topic: string): void;
  /** Runs fn with the socket corked: every send inside goes out in one syscall. */
  cork(fn: () => void): void;
  /** Closes with a WebSocket close code after flushing what is already queued. */
  end(code: number, reason: string): void;
  readonly remote_address: string;
  /** Access control: the symbols this connection's token covers; undefined = every symbol. A Refresh may replace it. */
  readonly entitled?: (symbol: string) => boolean;
  /**
   * Access control: checks a new token from a Refresh frame. On success the
   * connection runs on it from then on (its `entitled` and expiry are the new
   * token's); on failure nothing changes. Absent without access control.
   */
  refresh?(token: string): Promise<RefreshOutcome>;
}

export type RefreshOutcome =
  | { ok: true; expires_at_ms: number; entitled: (symbol: string) => boolean }
  | { ok: false; reason: string };

/**
 * Sends one frame to every connection subscribed to a topic (uWS
 * app.publish): one call per update per view, whatever the number of its
 * streaming subscribers. src/server provides it with the transports that
 * have subscribe().
 */
export interface TopicPublisher {
  publish(topic: string, frame: Uint8Array): void;
}
