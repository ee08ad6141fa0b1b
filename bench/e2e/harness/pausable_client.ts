// The clients of the slow-consumer bench (bench/e2e/slow_consumers.bench.ts):
// `ws` clients on one server that can stop reading their TCP socket (pause)
// and start again (resume), so the server sees a slow consumer exactly as a
// stalled peer looks to it: its kernel buffers fill, then uWS's.
//
// A measured client decodes every frame and reports each unconflated Delta's
// engine->receive latency (µs, corrected by the offset between the server's
// clock and ours, ./clock_offset.ts). A light client (the pausable ones)
// decodes one frame in 32 only, enough to know how fresh its stream is: all
// clients share the bench's one thread, and pausing the light ones must change
// that thread's load little (what is measured is the server's side).
//
// Cost per frame: one counter for a light client's skipped frames; otherwise
// decode_server_frame (allocates the message). keep_alive: one Ping per client
// every 5 s.
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { now_ns } from '../../../src/util/clock.js';
import { decode_server_frame } from '../../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../../src/wire/feed_encoder.js';

/** A light client decodes only one frame in this many (to know how fresh its stream is): its reading costs this thread little. */
const light_decode_every = 32;
const keep_alive_interval_ms = 5000;
const enc = new FrameEncoder();

export class PausableClient {
  measured = false;
  /** Decode one frame in light_decode_every only (pausable clients; they share this thread with the measured ones). */
  light = false;
  frames = 0;
  conflated = 0;
  /** engine→receive of the last frame decoded, µs. */
  last_latency_us = Infinity;
  private socket!: Socket;

  constructor(readonly ws: WebSocket, private readonly offset_ns: number, private readonly record: (latency_us: number) => void) {}

  /** Connects to the server on `port`; `offset_ns` = server clock − ours; `record` gets a measured client's latencies. */
  static async open(port: number, offset_ns: number, record: (latency_us: number) => void): Promise<PausableClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.binaryType = 'nodebuffer';
    const c = new PausableClient(ws, offset_ns, record);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    c.socket = (ws as unknown as { _socket: Socket })._socket;
    ws.on('message', (data: Buffer) => c.on_frame(data));
    return c;
  }

  private on_frame(data: Buffer): void {
    this.frames++;
    if (this.light && this.frames % light_decode_every !== 0) return;
    const msg = decode_server_frame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (msg.type !== 'delta') return;
    this.last_latency_us = (now_ns() + this.offset_ns - msg.ts_engine_ns) / 1000;
    if (msg.conflated) this.conflated++;
    else if (this.measured) this.record(this.last_latency_us);
  }

  /** Writes still go out from a client that does not read: a Ping keeps the server's idle timeout from closing it. */
  ping(): void {
    this.ws.send(enc.ping({ nonce: 1, client_time_ns: now_ns() }));
  }

  subscribe(list: string[], depth: number): void {
    this.ws.send(enc.subscribe({ symbols: list, depth, interval_ms: 0 }));
  }

  unsubscribe(list: string[], depth: number): void {
    this.ws.send(enc.unsubscribe({ symbols: list, depth }));
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.last_latency_us = Infinity;
    this.socket.resume();
  }
}

/** Every client pings every 5 s: a paused one is alive, just not reading (else uWS's idle timeout, 32 s, closes it). Returns the stop. */
export function keep_alive(clients: PausableClient[]): () => void {
  const timer = setInterval(() => { for (const c of clients) c.ping(); }, keep_alive_interval_ms);
  return () => clearInterval(timer);
}
