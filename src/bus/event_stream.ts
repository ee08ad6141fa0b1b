// The durable side of the bus: a stream that keeps the engine's event batches
// (per-symbol subjects <prefix>.events.<SYMBOL>) and one last-value book
// snapshot per symbol (<prefix>.book.<SYMBOL>), so a feed can rebuild a book
// without asking the engine. Over NATS it is a JetStream stream
// (nats_stream.ts); the embedded MemoryBus has none, and a feed without one
// recovers from the engine's request/reply as before.
//
// The live path does not go through this interface: the engine publishes
// batches with core NATS (Bus.publish) and the stream captures the same
// subjects. Costs: a recovery is one direct get plus one short-lived ordered
// consumer that reads the batches stored since that snapshot.

export interface StreamLimits {
  /** Batches and snapshots older than this are dropped. */
  age_s_max: number;
  /** The stream's size cap; past it the oldest messages go. */
  bytes_max: number;
  /** 1 on a single server, 3 on a cluster. */
  replicas: number;
}

export interface StoredMessage {
  data: Uint8Array;
  /** The message's position in the whole stream (all subjects). */
  stream_seq: number;
}

export interface ReplayResult {
  /** Batches handed to the callback. */
  batches: number;
  /** Payload bytes read. */
  bytes: number;
  /** Stopped early because the callback asked to. */
  stopped: boolean;
}

export interface StreamInfo {
  messages: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
  /** The server leading the stream (a cluster), '' when not known. */
  leader: string;
  replicas: number;
}

export interface EventStream {
  readonly name: string;
  /** Creates the stream, or updates its limits when it exists (the engine, at start). */
  ensure(limits: Readonly<StreamLimits>): Promise<void>;
  /** Stores `data` as the symbol's last book snapshot (older ones are rolled up). Resolves once stored. */
  put_snapshot(symbol: string, data: Uint8Array): Promise<void>;
  /** The symbol's latest stored snapshot; null when the stream has none (or no stream exists). */
  last_snapshot(symbol: string): Promise<StoredMessage | null>;
  /**
   * Hands the symbol's event batches stored after `after_stream_seq` to
   * `on_batch`, in stream order, up to the last one stored when the call
   * began. `on_batch` returns false to stop early. Rejects when the stream
   * does not answer within `timeout_ms` of the last progress.
   */
  replay(symbol: string, after_stream_seq: number, on_batch: (data: Uint8Array, stream_seq: number) => boolean,
    timeout_ms: number): Promise<ReplayResult>;
  info(): Promise<StreamInfo | null>;
}
