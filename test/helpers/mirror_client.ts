// A `ws` client of an in-process feed (start_all) whose every frame goes
// through ViewMirror (ranges, digest per frame as docs/PROTOCOL.md says, never
// crossed, trade ids contiguous), with its server-side Session at hand and a
// way to stop reading its TCP socket (`pause`: the kernel's buffers fill,
// then the server's).
import type { Socket } from 'node:net';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { start_all, type AllInOne } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import type { Session } from '../../src/feed/session.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { at_engine_book } from './engine_book.js';
import { sleep, wait_for } from './service.js';
import { ViewMirror, type MirrorView } from './view_mirror.js';

const enc = new FrameEncoder();

export class MirrorClient {
  readonly mirror: ViewMirror;
  close_code: number | null = null;
  /** Payload bytes of the binary frames received so far. */
  bytes_received = 0;
  /** Each reader-flow probe: the offset it carries and the bytes this client had received when it came. */
  readonly probes: { offset: number; received: number }[] = [];
  private constructor(readonly ws: WebSocket, readonly session: Session, trade_gaps_at_snapshots: boolean) {
    this.mirror = new ViewMirror(undefined, trade_gaps_at_snapshots);
  }

  /** `trade_gaps_at_snapshots`: see ViewMirror (a client that resyncs or subscribes a view again); `url`: the feed's, or a proxy's to it. */
  static async connect(all: AllInOne, query = '', trade_gaps_at_snapshots = false, url = all.feed_service.url): Promise<MirrorClient> {
    const feed = all.feed_service.feed;
    const before = new Set(feed.sessions);
    const ws = new WebSocket(url + query);
    ws.binaryType = 'nodebuffer';
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await wait_for('session open', () => [...feed.sessions].some((s) => !before.has(s)));
    const c = new MirrorClient(ws, [...feed.sessions].find((s) => !before.has(s))!, trade_gaps_at_snapshots);
    ws.on('message', (data: Buffer) => {
      c.bytes_received += data.byteLength;
      c.mirror.on_bytes(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    // A reader-flow probe carries the byte offset the server had sent before it (src/feed/reader_flow.ts).
    ws.on('ping', (data: Buffer) => {
      if (data.byteLength === 8 && data.readDoubleLE(0) >= 0) c.probes.push({ offset: data.readDoubleLE(0), received: c.bytes_received });
    });
    ws.on('close', (code) => { c.close_code = code; });
    return c;
  }

  subscribe(list: string[], depth: number, interval_ms = 0): void {
    this.ws.send(enc.subscribe({ symbols: list, depth, interval_ms }));
  }

  /** Stops reading from the TCP socket: the kernel's buffers fill, then the server's. */
  pause(): void {
    (this.ws as unknown as { _socket: Socket })._socket.pause();
  }

  resume(): void {
    (this.ws as unknown as { _socket: Socket })._socket.resume();
  }

  view(symbol: string, depth: number): MirrorView {
    const v = this.mirror.view(symbol, depth);
    if (v === undefined) throw new Error(`no snapshot of ${symbol}|${depth}`);
    return v;
  }

  has_all_views(list: readonly string[], ds: readonly number[]): boolean {
    return list.every((s) => ds.every((d) => this.mirror.view(s, d) !== undefined));
  }
}

/** Stops the engine and waits until every client's full-book view of each symbol shows the engine's last book (engine_book.ts). */
export async function stop_engine_and_settle(all: AllInOne, clients: MirrorClient[], symbols: readonly string[]): Promise<void> {
  await all.engine.stop();
  const last = Object.fromEntries(symbols.map((s) => [s, all.engine.snapshot(s)]));
  await wait_for('clients at the engine\'s final books', () => clients.every((c) => symbols.every((s) => at_engine_book(c.mirror.view(s, 0), last[s]))), 20_000);
  await sleep(50);
}

/**
 * One in-process service (start_all) and its clients per test, stopped after
 * each. Call it at a test file's top level (it registers an afterEach).
 */
export function service_per_test(): {
  start(config: Readonly<Config>): Promise<AllInOne>;
  connect(all: AllInOne, query?: string, trade_gaps_at_snapshots?: boolean): Promise<MirrorClient>;
} {
  let running: { all: AllInOne; clients: MirrorClient[] } | null = null;
  afterEach(async () => {
    if (running === null) return;
    for (const c of running.clients) c.ws.terminate();
    await running.all.stop();
    running = null;
  });
  return {
    async start(config) {
      const all = await start_all(config);
      running = { all, clients: [] };
      await wait_for('feed live', () => all.feed_service.feed.health().ready);
      return all;
    },
    async connect(all, query = '', trade_gaps_at_snapshots = false) {
      const c = await MirrorClient.connect(all, query, trade_gaps_at_snapshots);
      running!.clients.push(c);
      return c;
    },
  };
}
