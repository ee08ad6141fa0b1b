// The readers of the slow-reader bench (bench/e2e/slow_readers.bench.ts), all
// in the bench's one process and subscribed to one view:
//   Reader       a `ws` client (offers permessage-deflate, as browsers do, so
//                a lagging reader's catch-ups come deflated); it tracks the
//                newest engine time it has read, hence its staleness. Put
//                behind a throttling proxy it is a slow reader.
//   FastReader   a reader that keeps up, over the minimal client
//                (./raw_ws.ts: no per-message event objects), recording
//                engine->receive latency into a histogram while one is set.
//   subscription_bytes_per_s   the view's stream rate, on a Reader.
//
// Cost per frame: a Delta is read through one shared DeltaReader flyweight
// (nothing allocated: this process's own lag is the harness's floor, and it
// must stay well under what it measures); other bodies (snapshots, rare) go
// through decode_server_frame. Latency and staleness are corrected by the
// offset between the server's clock and ours (./clock_offset.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Histogram } from 'hdr-histogram-js';
import WebSocket from 'ws';
import { now_ns } from '../../../src/util/clock.js';
import { body_delta, DeltaReader } from '../../../src/wire/delta_reader.js';
import { decode_server_frame } from '../../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../../src/wire/feed_encoder.js';
import { opcode_binary, RawWs } from './raw_ws.js';

/** The one view every reader subscribes to. */
export interface ReaderView {
  symbol: string;
  /** 0 = the full book. */
  depth: number;
}

const enc = new FrameEncoder();
/** One for every reader: read() is synchronous and its fields are used before the next frame. */
const delta_reader = new DeltaReader();

function subscribe_frame(view: ReaderView): Uint8Array {
  return enc.subscribe({ symbols: [view.symbol], depth: view.depth, interval_ms: 0 });
}

/** One reader: every frame decoded; the newest engine time it has read. */
export class Reader {
  newest_engine_ns = 0;
  bytes = 0;
  conflated = 0;
  closed_with: number | null = null;

  private constructor(readonly ws: WebSocket, private readonly offset_ns: number) {
    ws.on('message', (data: Buffer) => {
      this.bytes += data.byteLength;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      // Deltas through the flyweight (nothing allocated per frame: this process's own lag is the harness floor).
      if (delta_reader.read(bytes) === body_delta) {
        const ts_engine_ns = delta_reader.ts_engine_ns;
        if (ts_engine_ns > this.newest_engine_ns) this.newest_engine_ns = ts_engine_ns;
        if (delta_reader.conflated) this.conflated++;
        return;
      }
      const msg = decode_server_frame(bytes);
      if (msg.type === 'snapshot' && msg.ts_engine_ns > this.newest_engine_ns) this.newest_engine_ns = msg.ts_engine_ns;
    });
    ws.on('close', (code) => { this.closed_with = code; });
    ws.on('error', () => { /* followed by close */ });
  }

  /** Connects to `url` (the server or a proxy in front of it) and subscribes to `view`; `offset_ns` = server clock − ours. */
  static async open(url: string, offset_ns: number, view: ReaderView): Promise<Reader> {
    const ws = new WebSocket(url); // offers permessage-deflate, as browsers do: a lagging reader's catch-ups come deflated
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    ws.send(subscribe_frame(view));
    return new Reader(ws, offset_ns);
  }

  staleness_ms(): number {
    return (now_ns() + this.offset_ns - this.newest_engine_ns) / 1e6;
  }
}

/**
 * A fast reader, over the minimal client (raw_ws.ts: no per-message event
 * objects, Deltas read through the flyweight), so that the measuring
 * process's own lag stays well under what it measures. It answers pings at
 * once, so the server sees a reader that keeps up. Records each Delta's
 * engine->receive latency (µs) into `latency` while it is set.
 */
export class FastReader {
  latency: Histogram | null = null;
  /**
   * The server's own engine→send of each Delta (ts_send_ns − ts_engine_ns,
   * both stamped by the server's clock when it encoded the frame): what the
   * server's work for other connections adds, without this process's delays.
   */
  server_latency: Histogram | null = null;
  private ws: RawWs | null = null;

  private constructor(private readonly offset_ns: number) {}

  /** This reader's TCP port (a capture of what the server sends it filters on it). */
  get local_port(): number {
    return this.ws?.local_port ?? 0;
  }

  static open(port: number, offset_ns: number, view: ReaderView): Promise<FastReader> {
    const reader = new FastReader(offset_ns);
    return new Promise((resolve, reject) => {
      reader.ws = new RawWs({
        host: '127.0.0.1', port, path: '/ws', want_payloads: true,
        on_open: (ws) => {
          ws.send(opcode_binary, subscribe_frame(view));
          resolve(reader);
        },
        on_message: (_ws, opcode, payload) => {
          if (opcode !== opcode_binary || payload === null || reader.latency === null) return;
          if (delta_reader.read(payload) !== body_delta) return;
          reader.latency.recordValue(Math.max(1, Math.round((now_ns() + reader.offset_ns - delta_reader.ts_engine_ns) / 1000)));
          reader.server_latency?.recordValue(Math.max(1, Math.round((delta_reader.ts_send_ns - delta_reader.ts_engine_ns) / 1000)));
        },
        on_close: (_ws, code, reason) => reject(new Error(`a fast reader closed before it opened: ${code} ${reason}`)),
      });
    });
  }

  close(): void {
    this.ws?.destroy();
  }
}

/** Bytes/s of `view`'s stream, on a reader connected straight to the server: 1 s to settle, 3 s measured. */
export async function subscription_bytes_per_s(port: number, offset_ns: number, view: ReaderView): Promise<number> {
  const r = await Reader.open(`ws://127.0.0.1:${port}/ws`, offset_ns, view);
  await sleep(1000);
  const from = r.bytes;
  const t0 = Date.now();
  await sleep(3000);
  const rate_bytes_per_s = ((r.bytes - from) * 1000) / (Date.now() - t0);
  r.ws.close();
  return rate_bytes_per_s;
}
