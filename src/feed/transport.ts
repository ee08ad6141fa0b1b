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
  /** Runs fn with the socket corked: every send inside goes out in one syscall. */
  cork(fn: () => void): void;
  /** Closes with a WebSocket close code after flushing what is already queued. */
  end(code: number, reason: string): void;
  readonly remote_address: string;
  /** Access control: the symbols this connection's token covers; undefined = every symbol. */
  readonly entitled?: (symbol: string) => boolean;
}
