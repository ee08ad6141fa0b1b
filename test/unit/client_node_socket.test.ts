// depthcast/client/node: the frame parser under every way TCP can cut and
// merge a server's frames (fast-check: random messages, fragmented or not,
// pings between fragments, the byte stream cut at random points, each read
// handed over in a buffer that is overwritten as soon as push() returns, as
// the socket's shared read buffer is), its RFC 6455 checks, and NodeWebSocket
// under the SDK against a real feed server (the in-process fake feed on real
// sockets): exact books, pings answered in order after the listeners ran (so
// no Acks), the handshake's checks. The SDK's bad-input suite runs on it too
// (client_bad_input.test.ts).
import { createHash } from 'node:crypto';
import { createServer as create_tcp_server, type AddressInfo, type Server as TcpServer } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type FeedClient } from '../../src/client/index.js';
import { NodeWebSocket, node_websocket } from '../../src/client/node/index.js';
import {
  FrameParser, close_message_too_big, close_protocol_error, opcode_binary, opcode_ping, opcode_text, type FrameSink,
} from '../../src/client/node/frame_parser.js';
import { FakeFeedServer } from '../helpers/fake_feed_server.js';
import { wait_for } from '../helpers/service.js';

/** A server frame (never masked). */
function server_frame(fin: boolean, opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.byteLength;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(head + n);
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (n < 126) out[1] = n;
  else if (n < 65536) { out[1] = 126; out[2] = n >> 8; out[3] = n & 0xff; }
  else { out[1] = 127; new DataView(out.buffer).setUint32(6, n); }
  out.set(payload, head);
  return out;
}

type Seen = ['message' | 'control', number, string] | ['violation', number, string];

function recorder(): { sink: FrameSink; seen: Seen[] } {
  const seen: Seen[] = [];
  const hex = (p: Uint8Array): string => Buffer.from(p).toString('hex');
  return {
    seen,
    sink: {
      message: (opcode, payload) => { seen.push(['message', opcode, hex(payload)]); },
      control: (opcode, payload) => { seen.push(['control', opcode, hex(payload)]); },
      violation: (code, reason) => { seen.push(['violation', code, reason]); },
    },
  };
}

/** Feeds `stream` cut at `cuts`, each read copied into one scratch buffer that is scribbled over after push(). */
function feed(parser: FrameParser, stream: Uint8Array, cuts: number[]): void {
  const scratch = new Uint8Array(stream.byteLength + 16);
  const points = [...new Set(cuts.map((c) => c % (stream.byteLength + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, stream.byteLength]) {
    if (to <= from) continue;
    const offset = from % 7; // the read does not always start at the buffer's beginning
    scratch.set(stream.subarray(from, to), offset);
    parser.push(scratch, offset, offset + (to - from));
    scratch.fill(0xee);
    from = to;
  }
}

const message_arb = fc.record({
  binary: fc.boolean(),
    // Lengths in each header form: 7-bit, 16-bit, 64-bit (the last rare: it is slow to generate).
  payload: fc.oneof(
    { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 4, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }) },
    { weight: 1, arbitrary: fc.integer({ min: 65_536, max: 65_600 }).map((n) => new Uint8Array(n).fill(n & 0xff)) },
  ),
  parts: fc.integer({ min: 1, max: 4 }),
  ping_between: fc.boolean(),
});

describe('FrameParser', () => {
  it('delivers the same messages and control frames however the stream is cut into reads (property)', () => {
    fc.assert(fc.property(fc.array(message_arb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
      const chunks: Uint8Array[] = [];
      const expected: Seen[] = [];
      const hex = (p: Uint8Array): string => Buffer.from(p).toString('hex');
      messages.forEach((m, k) => {
        const opcode = m.binary ? opcode_binary : opcode_text;
        const size = Math.ceil(m.payload.byteLength / m.parts);
        for (let p = 0; p < m.parts; p++) {
          const part = m.payload.subarray(p * size, Math.min(m.payload.byteLength, (p + 1) * size));
          chunks.push(server_frame(p === m.parts - 1, p === 0 ? opcode : 0, part));
          if (m.ping_between && p < m.parts - 1) {
            const ping = Uint8Array.of(k, p);
            chunks.push(server_frame(true, opcode_ping, ping));
            expected.push(['control', opcode_ping, hex(ping)]);
          }
        }
        expected.push(['message', opcode, hex(m.payload)]);
      });
      const stream = Buffer.concat(chunks);
      const { sink, seen } = recorder();
      feed(new FrameParser(sink, 1 << 20), stream, cuts);
      expect(seen).toEqual(expected);
    }), { numRuns: 200 });
  });

  it('reads byte by byte as well as all at once', () => {
    const frames = [server_frame(true, opcode_binary, Uint8Array.of(1, 2, 3)), server_frame(true, opcode_binary, new Uint8Array(70_000).fill(7))];
    const stream = Buffer.concat(frames);
    const one = recorder();
    feed(new FrameParser(one.sink, 1 << 20), stream, Array.from({ length: stream.byteLength }, (_, i) => i));
    const all = recorder();
    feed(new FrameParser(all.sink, 1 << 20), stream, []);
    expect(one.seen).toEqual(all.seen);
    expect(all.seen.map((s) => s[0])).toEqual(['message', 'message']);
  });

  const violations: [string, Uint8Array, number, RegExp][] = [
    ['RSV bits', Uint8Array.of(0xc2, 0x00), close_protocol_error, /RSV/],
    ['a reserved opcode', Uint8Array.of(0x83, 0x00), close_protocol_error, /reserved opcode 3/],
    ['a masked server frame', Uint8Array.of(0x82, 0x81, 1, 2, 3, 4, 9), close_protocol_error, /masked/],
    ['a fragmented ping', Uint8Array.of(0x09, 0x00), close_protocol_error, /fragmented control/],
    ['a long ping', server_frame(true, opcode_ping, new Uint8Array(126)), close_protocol_error, /control frame of 126/],
    ['a stray continuation', Uint8Array.of(0x80, 0x00), close_protocol_error, /continuation/],
    ['a message inside a fragmented one', Uint8Array.of(0x02, 0x01, 9, 0x82, 0x00), close_protocol_error, /inside a fragmented/],
    ['a message over the limit', server_frame(true, opcode_binary, new Uint8Array(2000)), close_message_too_big, /over 1000 bytes/],
    ['fragments over the limit', Buffer.concat([server_frame(false, opcode_binary, new Uint8Array(600)), server_frame(true, 0, new Uint8Array(600))]), close_message_too_big, /over 1000/],
  ];
  for (const [what, bytes, code, reason] of violations) {
    it(`refuses ${what} (close ${code}), whole or cut, and parses nothing after it`, () => {
      const trailer = server_frame(true, opcode_binary, Uint8Array.of(1));
      const stream = Buffer.concat([server_frame(true, opcode_binary, Uint8Array.of(5)), bytes, trailer, trailer]);
      for (const cuts of [[], [1, 3, 4, 5]]) {
        const { sink, seen } = recorder();
        feed(new FrameParser(sink, 1000), stream, cuts);
        expect(seen[0]).toEqual(['message', opcode_binary, '05']);
        expect(seen.slice(1)).toHaveLength(1);
        expect(seen[1][0]).toBe('violation');
        expect(seen[1][1]).toBe(code);
        expect(seen[1][2]).toMatch(reason);
      }
    });
  }
});

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function feed_and_client(): Promise<{ s: FakeFeedServer; c: FeedClient }> {
  const s = await FakeFeedServer.start({ heartbeat_interval_ms: 100 });
  closers.push(() => s.close());
  s.update('BTC-USD', { bids: [[100, 5, 1], [99, 3, 2]], asks: [[101, 2, 1], [102, 4, 3]] });
  const c = connect(s.url, { WebSocket: NodeWebSocket, ack_interval_ms: 10 });
  closers.push(() => c.close());
  return { s, c };
}

describe('NodeWebSocket under the SDK', () => {
  it('keeps a book exact through many Deltas and a large snapshot; pongs prove processing, so no Acks', async () => {
    const { s, c } = await feed_and_client();
    const bids = Array.from({ length: 3000 }, (_, i): [number, number, number] => [5000 - i, 1 + (i % 7), 1]);
    s.update('ETH-USD', { bids, asks: [[5001, 1, 1]] });
    const book = c.subscribe('BTC-USD');
    const full = c.subscribe('ETH-USD', { depth: 0 });
    await wait_for('synced', () => book.state === 'synced' && full.state === 'synced');
    for (let i = 0; i < 300; i++) s.update('BTC-USD', { bids: [[100 - (i % 5), 1 + i, 1]], asks: [[101 + (i % 3), 2 + i, 1]] });
    const exact = (): boolean => {
      const v = s.view('BTC-USD', 10);
      return book.seq === s.seq('BTC-USD') && JSON.stringify([book.bids, book.asks]) === JSON.stringify([v.bids, v.asks]);
    };
    await wait_for('every Delta applied', exact);
    expect(full.bids).toHaveLength(3000);
    expect(c.counters.digest_mismatches + c.counters.resyncs + c.counters.decode_errors).toBe(0);
    await s.ping_all();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(c.acks_sent).toBe(0);
    expect(s.received.filter((r) => r.msg.type === 'ack')).toHaveLength(0);
  });

  it("answers the feed's ping only after the listeners of the frames before it ran", async () => {
    const { s, c } = await feed_and_client();
    const book = c.subscribe('BTC-USD');
    await wait_for('synced', () => book.state === 'synced');
    const busy_ms = 150;
    let busy_done = false;
    book.once('update', () => {
      const until = performance.now() + busy_ms;
      while (performance.now() < until) { /* the app busy with this frame */ }
      busy_done = true;
    });
    s.update('BTC-USD', { asks: [[102, 1, 1]] });
    const pong_ms = await s.ping_all();
    expect(busy_done).toBe(true);
    expect(pong_ms).toBeGreaterThanOrEqual(busy_ms * 0.9);
  });

  it('reconnects and resumes when the server closes it, and with node_websocket(options) too', async () => {
    const s = await FakeFeedServer.start({ heartbeat_interval_ms: 100 });
    closers.push(() => s.close());
    s.update('BTC-USD', { bids: [[100, 5, 1]], asks: [[101, 2, 1]] });
    const codes: number[] = [];
    const c = connect(s.url, { WebSocket: node_websocket({ local_address: '127.0.0.1' }), backoff_initial_ms: 10, backoff_max_ms: 20 });
    closers.push(() => c.close());
    c.on('disconnect', (code) => codes.push(code));
    const book = c.subscribe('BTC-USD');
    await wait_for('synced', () => book.state === 'synced');
    s.close_all(4001, 'going away');
    await wait_for('reconnected', () => c.counters.reconnects === 1 && book.state === 'synced');
    s.update('BTC-USD', { bids: [[100, 9, 1]] });
    await wait_for('update after reconnect', () => book.seq === s.seq('BTC-USD') && book.bids[0]?.size === 9);
    expect(codes).toEqual([4001]);
  });
});

describe('NodeWebSocket handshake', () => {
  /** A bare TCP server answering the upgrade with `answer(key)`. */
  async function tcp_server(answer: (accept: string) => string): Promise<string> {
    const tcp: TcpServer = create_tcp_server((socket) => {
      socket.on('error', () => {});
      socket.once('data', (head) => {
        const key = /sec-websocket-key: *([^\r\n]+)/i.exec(head.toString('latin1'))?.[1]?.trim() ?? '';
        socket.end(Buffer.from(answer(createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')), 'latin1'));
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => tcp.close(() => resolve())));
    return `ws://127.0.0.1:${(tcp.address() as AddressInfo).port}/ws`;
  }

  const cases: [string, (accept: string) => string, RegExp][] = [
    ['a wrong Sec-WebSocket-Accept', () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n', /Sec-WebSocket-Accept/],
    ['a 404', () => 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', /Unexpected server response: 404/],
    ['no Upgrade header', (a) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`, /Upgrade header/],
    ['an extension nobody asked for', (a) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`, /Extensions/],
  ];
  for (const [what, answer, message] of cases) {
    it(`refuses ${what}: an error event saying so, then close 1006, never open`, async () => {
      const url = await tcp_server(answer);
      const ws = new NodeWebSocket(url);
      const seen: string[] = [];
      ws.onopen = () => seen.push('open');
      ws.onerror = (e: { message: string }) => seen.push(`error: ${e.message}`);
      const code = await new Promise<number>((resolve) => { ws.onclose = (e: { code: number }) => resolve(e.code); });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(message);
      expect(code).toBe(1006);
      expect(ws.readyState).toBe(NodeWebSocket.CLOSED);
    });
  }

  it('opens on a correct answer, with frames in the same read as the headers, and reports the server close code', async () => {
    const url = await tcp_server((a) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`
      + Buffer.concat([server_frame(true, opcode_binary, Uint8Array.of(1, 2)), server_frame(true, 8, Uint8Array.of(0x0f, 0xa1, 0x62, 0x79, 0x65))]).toString('latin1'));
    const ws = new NodeWebSocket(url);
    const seen: unknown[] = [];
    ws.onopen = () => seen.push('open');
    ws.onmessage = (e: { data: Uint8Array }) => seen.push([...e.data]);
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => { ws.onclose = resolve; });
    expect(seen).toEqual(['open', [1, 2]]);
    expect([closed.code, closed.reason]).toEqual([4001, 'bye']);
  });
});
