// Bad input never wrongs a book and never throws into the app (issue 21 part
// 6): the SDK pointed at something that is not a depthcast feed, at a feed of
// an incompatible protocol version, at a server that sends garbage (frames,
// text, the WebSocket layer itself), at an HTTP server. Each ends in error
// events of a known kind with a code (client_error_code), books that are
// either exact or not shown as synced, and the client carrying on (a real
// feed's stream continues; a socket that is not a feed is dropped and
// retried with backoff). Every case runs on both Node transports: `ws` and the
// SDK's own NodeWebSocket (depthcast/client/node). Real sockets: `ws` servers, a bare TCP server for
// WebSocket-level garbage, node:http; the fake feed to inject garbage into a
// real stream. An exception escaping into the event loop fails the run
// (vitest reports unhandled errors).
import { createServer as create_http_server, type Server as HttpServer } from 'node:http';
import { createServer as create_tcp_server, type Server as TcpServer, type AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
  client_error_code, connect, seeded_random, type BookHandle, type FeedClient, type FeedClientError, type WebSocketConstructor,
} from '../../src/client/index.js';
import { NodeWebSocket } from '../../src/client/node/index.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { FakeFeedServer } from '../helpers/fake_feed_server.js';
import { wait_for } from '../helpers/service.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const transports: [string, WebSocketConstructor][] = [['ws', WebSocket as unknown as WebSocketConstructor], ['NodeWebSocket', NodeWebSocket]];
let transport: WebSocketConstructor = NodeWebSocket;

function client_of(url: string): { c: FeedClient; errors: FeedClientError[] } {
  const c = connect(url, { WebSocket: transport, heartbeat_interval_ms: 500, backoff_initial_ms: 20, backoff_max_ms: 60, random: seeded_random(3) });
  const errors: FeedClientError[] = [];
  c.on('error', (e) => errors.push(e));
  closers.push(() => c.close());
  return { c, errors };
}

/** A `ws` server that greets every connection by sending `frames` (after any message from the client). */
async function ws_server(frames: (Uint8Array | string)[]): Promise<{ url: string; connections: () => number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  let connections = 0;
  wss.on('connection', (ws) => {
    connections++;
    ws.on('error', () => {});
    for (const f of frames) ws.send(f);
  });
  closers.push(() => new Promise<void>((resolve) => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => resolve());
  }));
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`, connections: () => connections };
}

/** A valid Heartbeat frame whose union type is patched to 200: a well-formed Frame of a message type from a newer protocol. */
function unknown_message_frame(): Uint8Array {
  const bytes = new FrameEncoder().heartbeat({ server_time_ns: 1.7e18 }).slice();
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const table = v.getUint32(0, true);
  const vtable = table - v.getInt32(table, true);
  const body_type_at = table + v.getUint16(vtable + 4, true); // field 0 of Frame: body_type (u8)
  bytes[body_type_at] = 200;
  return bytes;
}

const codes = (errors: FeedClientError[]): number[] => errors.map((e) => e.code);

describe.each(transports)('SDK against bad input, on %s', (_name, socket_class) => {
  beforeEach(() => { transport = socket_class; });

  it('a WebSocket service that is not a depthcast feed (JSON text): text_frame errors, then one not_a_feed, the socket dropped and retried; no book', async () => {
    const ticker = JSON.stringify({ e: 'trade', s: 'BTCUSDT', p: '65000.00', q: '0.01' });
    const server = await ws_server([ticker, ticker, ticker, ticker]);
    const { c, errors } = client_of(server.url);
    const book = c.subscribe('BTC-USD');
    await wait_for('a retry after the verdict', () => server.connections() >= 2 && errors.filter((e) => e.code === client_error_code.not_a_feed).length >= 2);
    const first = errors.slice(0, 4);
    expect(first.map((e) => [e.kind, e.code])).toEqual([
      ['decode', client_error_code.text_frame], ['decode', client_error_code.text_frame], ['decode', client_error_code.text_frame],
      ['protocol', client_error_code.not_a_feed],
    ]);
    expect(errors.every((e) => e.code !== 0)).toBe(true);
    expect(c.counters.reconnects).toBeGreaterThanOrEqual(1);
    expect(book.state).not.toBe('synced');
    expect(book.bids).toEqual([]);
  });

  it('a feed of an incompatible protocol version (well-formed Frames of unknown types): unknown_message errors, then incompatible_protocol', async () => {
    const frame = unknown_message_frame();
    const server = await ws_server([frame, frame, frame]);
    const { c, errors } = client_of(server.url);
    const book = c.subscribe('BTC-USD');
    await wait_for('verdict', () => errors.some((e) => e.kind === 'protocol'));
    expect(codes(errors.slice(0, 4))).toEqual([client_error_code.unknown_message, client_error_code.unknown_message,
      client_error_code.unknown_message, client_error_code.incompatible_protocol]);
    expect(errors[3].message).toMatch(/protocol version/);
    expect(book.state).not.toBe('synced');
  });

  it('garbage binary: bad_frame errors, then not_a_feed', async () => {
    const r = seeded_random(9);
    const garbage = Array.from({ length: 3 }, () => Uint8Array.from({ length: 40 }, () => Math.floor(r() * 256)));
    const server = await ws_server(garbage);
    const { errors } = client_of(server.url);
    await wait_for('verdict', () => errors.some((e) => e.kind === 'protocol'));
    expect(codes(errors.slice(0, 4))).toEqual([client_error_code.bad_frame, client_error_code.bad_frame, client_error_code.bad_frame, client_error_code.not_a_feed]);
  });

  it('an HTTP server, not a WebSocket endpoint: one connect_failed error per outage, with the reason, while it retries', async () => {
    const http: HttpServer = create_http_server((_req, res) => { res.statusCode = 404; res.end('not here'); });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const { c, errors } = client_of(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws`);
    c.subscribe('BTC-USD');
    await wait_for('several attempts', () => c.counters.reconnects >= 3);
    expect(errors.map((e) => [e.kind, e.code])).toEqual([['socket', client_error_code.connect_failed]]);
    expect(errors[0].message).toMatch(/404/);
  });

  it('garbage at the WebSocket layer (a reserved opcode) after the handshake: a bad_frame error, the socket replaced', async () => {
    let connections = 0;
    const tcp: TcpServer = create_tcp_server((socket) => {
      connections++;
      socket.on('error', () => {});
      socket.once('data', (head) => {
        const key = /sec-websocket-key: *([^\r\n]+)/i.exec(head.toString('latin1'))?.[1]?.trim() ?? '';
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        socket.write(Buffer.from([0x83, 0x02, 0x01, 0x02])); // FIN, opcode 3 (reserved), 2 bytes
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => tcp.close(() => resolve())));
    const { c, errors } = client_of(`ws://127.0.0.1:${(tcp.address() as AddressInfo).port}/ws`);
    c.subscribe('BTC-USD');
    await wait_for('replaced', () => connections >= 2 && errors.length >= 1);
    expect(errors[0].kind).toBe('decode');
    expect(errors[0].code).toBe(client_error_code.bad_frame);
    expect(errors[0].message).toMatch(/opcode/i);
  });

  it("garbage inside a real feed's stream: every bad frame dropped with a code, the book exact, no verdict, no reconnect", async () => {
    const s = await FakeFeedServer.start({ heartbeat_interval_ms: 100 });
    closers.push(() => s.close());
    s.update('BTC-USD', { bids: [[100, 5, 1], [99, 3, 2]], asks: [[101, 2, 1], [102, 4, 3]] });
    const { c, errors } = client_of(s.url);
    const book: BookHandle = c.subscribe('BTC-USD');
    const exact = (): boolean => {
      const view = s.view('BTC-USD', 10);
      return book.state === 'synced' && book.seq === s.seq('BTC-USD') && JSON.stringify([book.bids, book.asks]) === JSON.stringify([view.bids, view.asks]);
    };
    await wait_for('synced', exact);
    const r = seeded_random(17);
    const unknown = unknown_message_frame();
    for (let i = 0; i < 60; i++) {
      const kind = i % 3;
      if (kind === 0) s.send_raw(Uint8Array.from({ length: 1 + Math.floor(r() * 80) }, () => Math.floor(r() * 256)));
      else if (kind === 1) s.send_raw(i % 2 === 0 ? '{"not":"depthcast"}' : unknown);
      s.update('BTC-USD', { bids: [[100, 5 + i, 1]], asks: [[101 + (i % 3), 1 + i, 1]] });
    }
    await wait_for('the book after the last update', exact);
    expect(errors.length).toBe(c.counters.decode_errors);
    expect(errors.length).toBe(40);
    expect(new Set(codes(errors))).toEqual(new Set([client_error_code.bad_frame, client_error_code.text_frame, client_error_code.unknown_message]));
    expect(c.counters.reconnects).toBe(0);
    expect(c.counters.digest_mismatches + c.counters.resyncs).toBe(0);
  });

  it('a frame that breaks the client while applied: an apply_failed error event, and the view resyncs to an exact book', async () => {
    const s = await FakeFeedServer.start({ heartbeat_interval_ms: 100 });
    closers.push(() => s.close());
    s.update('BTC-USD', { bids: [[100, 5, 1]], asks: [[101, 2, 1]] });
    const { c, errors } = client_of(s.url);
    const book = c.subscribe('BTC-USD');
    await wait_for('synced', () => book.state === 'synced');
    // Stand-in for a bug on the apply path: the next Delta throws inside the SDK (not in a listener).
    const views = (c as unknown as { views: { on_delta: (...a: unknown[]) => void } }).views;
    const on_delta = views.on_delta;
    views.on_delta = () => {
      views.on_delta = on_delta;
      throw new Error('boom');
    };
    s.update('BTC-USD', { bids: [[100, 6, 1]] });
    s.update('BTC-USD', { bids: [[100, 7, 1]] });
    await wait_for('resynced', () => book.state === 'synced' && book.seq === s.seq('BTC-USD') && book.bids[0]?.size === 7);
    expect(errors[0].code).toBe(client_error_code.apply_failed);
    expect(c.counters.resyncs).toBe(1);
  });
});
