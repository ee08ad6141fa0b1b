// A light client for fault and access tests: one `ws` socket, frames decoded
// with the reference decoder, every view verified with the SDK's ClientBook
// (ranges, epoch, digest, never crossed) but none of the SDK's machinery
// (no timers, no reconnect, no histograms), so thousands fit in one process.
// Tests see close codes and reasons, Error frames, and whether every view is
// synced. It never resyncs on its own: a failed check is recorded as a
// violation, since the server must never send a wrong frame.
import WebSocket from 'ws';
import { ClientBook } from '../../src/client/book.js';
import { decode_server_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import type { ClientMsg, ErrorMsg, ServerMsg, SnapshotMsg } from '../../src/wire/feed_types.js';
import { view_key } from '../../src/util/symbol.js';

export interface RawClientOptions {
  protocols?: string[];
  origin?: string;
  /** Source address (127.0.0.x) the socket binds to: the server sees it as the client's IP. */
  local_address?: string;
  ca?: Buffer;
  /** Keep every decoded frame in `frames` (off for storms). */
  keep_frames?: boolean;
  /** Called with every Snapshot received (e.g. to count distinct (symbol, depth, epoch, seq)). */
  on_snapshot?: (msg: SnapshotMsg) => void;
}

const encoder = new FrameEncoder();

export class RawClient {
  readonly books = new Map<string, ClientBook>();
  readonly errors: ErrorMsg[] = [];
  readonly violations: string[] = [];
  readonly frames: ServerMsg[] = [];
  snapshots = 0;
  deltas = 0;
  frame_count = 0;
  undecodable = 0;
  opened = false;
  close_code: number | null = null;
  close_reason = '';
  /** Resolves with the close code once the socket is closed (by either side). */
  readonly closed: Promise<number>;
  private resolve_closed!: (code: number) => void;

  private constructor(readonly ws: WebSocket, private readonly keep_frames: boolean, private readonly on_snapshot_cb: ((msg: SnapshotMsg) => void) | undefined) {
    this.closed = new Promise((resolve) => { this.resolve_closed = resolve; });
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, is_binary: boolean) => this.on_message(data, is_binary));
    ws.on('close', (code: number, reason: Buffer) => {
      this.close_code = code;
      this.close_reason = reason.toString();
      this.resolve_closed(code);
    });
    ws.on('error', () => { /* followed by close */ });
  }

  /** Opens a socket; resolves once it is open, or closed/failed before opening (see close_code). */
  static open(url: string, options: RawClientOptions = {}): Promise<RawClient> {
    const ws = new WebSocket(url, options.protocols ?? [], {
      origin: options.origin, localAddress: options.local_address, ca: options.ca, perMessageDeflate: false,
    });
    const client = new RawClient(ws, options.keep_frames ?? true, options.on_snapshot);
    return new Promise((resolve) => {
      ws.once('open', () => { client.opened = true; resolve(client); });
      void client.closed.then(() => resolve(client));
    });
  }

  send(msg: ClientMsg): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encoder.client(msg));
  }

  send_raw(bytes: Uint8Array | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  subscribe(symbols: string[], depth = 10, interval_ms = 0): void {
    for (const s of symbols) if (!this.books.has(view_key(s, depth))) this.books.set(view_key(s, depth), new ClientBook(s, depth));
    this.send({ type: 'subscribe', symbols, depth, interval_ms });
  }

  book(symbol: string, depth = 10): ClientBook | undefined {
    return this.books.get(view_key(symbol, depth));
  }

  /** Every subscribed view holds a verified book. */
  get synced(): boolean {
    if (this.books.size === 0) return false;
    for (const b of this.books.values()) if (!b.has_snapshot) return false;
    return true;
  }

  /** Drops the socket without a close handshake (a crashed or unplugged client). */
  terminate(): void {
    this.ws.terminate();
  }

  close(): void {
    this.ws.close();
  }

  private on_message(data: Buffer, is_binary: boolean): void {
    this.frame_count++;
    if (!is_binary) {
      this.violations.push('text frame from the server');
      return;
    }
    let msg: ServerMsg;
    try {
      msg = decode_server_frame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch (err) {
      this.undecodable++;
      this.violations.push(`undecodable frame: ${(err as Error).message}`);
      return;
    }
    if (this.keep_frames) this.frames.push(msg);
    if (msg.type === 'snapshot') {
      this.snapshots++;
      this.on_snapshot_cb?.(msg);
      const book = this.books.get(view_key(msg.symbol, msg.depth));
      if (book === undefined) return;
      const verdict = book.load_snapshot(msg);
      if (verdict !== 'ok') this.violations.push(`${msg.symbol}|${msg.depth} snapshot ${verdict}: ${book.last_problem}`);
    } else if (msg.type === 'delta') {
      this.deltas++;
      const book = this.books.get(view_key(msg.symbol, msg.depth));
      if (book === undefined || !book.has_snapshot) return; // before its snapshot: discarded, per the protocol
      const verdict = book.apply_delta(msg);
      if (verdict !== 'ok') this.violations.push(`${msg.symbol}|${msg.depth} delta ${verdict}: ${book.last_problem}`);
    } else if (msg.type === 'error') {
      this.errors.push(msg);
    }
  }
}

/** The book's levels as [price, size, orders] rows, best first (for comparing with an engine snapshot). */
export function rows(levels: readonly { price: number; size: number; orders: number }[], depth = 0): [number, number, number][] {
  const list = levels.map((l) => [l.price, l.size, l.orders] as [number, number, number]);
  return depth === 0 ? list : list.slice(0, depth);
}
