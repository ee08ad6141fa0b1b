// When the SDK sends Acks (docs/PROTOCOL.md §5.7): on a socket whose pongs
// already prove what the client processed (Node's `ws`: pings answered from
// the client's own thread, in order, after the listeners of the frames before
// them ran) an Ack would only repeat the pong, so by default none goes; on a
// socket without that proof (a browser's WebSocket: no pong() of its own)
// Acks go as before; `ack: true` / `false` force either. Real sockets, the
// in-process fake feed.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type FeedClient, type FeedClientOptions, type WebSocketConstructor } from '../../src/client/index.js';
import { FakeFeedServer } from '../helpers/fake_feed_server.js';
import { wait_for } from '../helpers/service.js';

const opened: { s: FakeFeedServer; c: FeedClient }[] = [];

afterEach(async () => {
  for (const { s, c } of opened.splice(0)) {
    c.close();
    await s.close();
  }
});

/** A `ws` socket showing only what a browser's WebSocket has: no pong(), no on(). */
class BrowserLikeSocket {
  private readonly ws: WebSocket;
  constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
  }
  get binaryType(): string { return this.ws.binaryType; }
  set binaryType(t: string) { this.ws.binaryType = t as 'arraybuffer'; }
  get readyState(): number { return this.ws.readyState; }
  set onopen(f: ((e: unknown) => void) | null) { this.ws.onopen = f; }
  set onmessage(f: ((e: unknown) => void) | null) { this.ws.onmessage = f; }
  set onclose(f: ((e: unknown) => void) | null) { this.ws.onclose = f; }
  set onerror(f: ((e: unknown) => void) | null) { this.ws.onerror = f; }
  send(data: Uint8Array): void { this.ws.send(data); }
  close(code?: number, reason?: string): void { this.ws.close(code, reason); }
}

/** A client on BTC-USD after 30 Deltas; resolves once its book holds the last one. */
async function stream(options: FeedClientOptions): Promise<{ s: FakeFeedServer; c: FeedClient }> {
  const s = await FakeFeedServer.start();
  s.update('BTC-USD', { bids: [[100, 5, 1]], asks: [[101, 2, 1]] });
  const c = connect(s.url, { WebSocket, ack_interval_ms: 10, ...options });
  opened.push({ s, c });
  const book = c.subscribe('BTC-USD');
  await wait_for('snapshot', () => book.state === 'synced');
  for (let i = 0; i < 30; i++) {
    s.update('BTC-USD', { bids: [[100, 6 + i, 1]] });
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await wait_for('deltas', () => book.seq === s.seq('BTC-USD'));
  return { s, c };
}

const acks_received = (s: FakeFeedServer): number => s.received.filter((r) => r.msg.type === 'ack').length;

describe('SDK Acks', () => {
  it('on ws (pongs prove processing) no Ack goes by default; ack: true sends them anyway', async () => {
    const { s, c } = await stream({});
    await new Promise((resolve) => setTimeout(resolve, 50)); // a trailing Ack would have gone by now (interval 10 ms)
    expect(c.acks_sent).toBe(0);
    expect(acks_received(s)).toBe(0);
    const forced = await stream({ ack: true });
    await wait_for('acks', () => acks_received(forced.s) > 0);
    expect(forced.c.acks_sent).toBeGreaterThan(0);
  });

  it('on a socket without pong() (a browser), Acks go by default, and ack: false stops them', async () => {
    const { s, c } = await stream({ WebSocket: BrowserLikeSocket as unknown as WebSocketConstructor });
    await wait_for('acks', () => acks_received(s) > 0);
    expect(c.acks_sent).toBeGreaterThan(0);
    // The trailing Ack after the burst reports every byte processed.
    const last_ack = (): number => {
      const m = s.received.filter((r) => r.msg.type === 'ack').at(-1)?.msg;
      return m?.type === 'ack' ? m.bytes_processed : -1;
    };
    await wait_for('trailing ack', () => last_ack() === c.counters.bytes);
    const off = await stream({ WebSocket: BrowserLikeSocket as unknown as WebSocketConstructor, ack: false });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(acks_received(off.s)).toBe(0);
  });

  it("ws answers the feed's ping only after the listeners of the frames before it ran (what makes its pong an Ack)", async () => {
    const { s, c } = await stream({});
    const busy_ms = 150;
    let busy_done_ms = 0;
    c.book('BTC-USD')!.once('update', () => {
      const until = performance.now() + busy_ms;
      while (performance.now() < until) { /* the page busy with this frame */ }
      busy_done_ms = performance.now();
    });
    s.update('BTC-USD', { asks: [[102, 1, 1]] });
    const pong_ms = await s.ping_all();
    // Pinged right after the Delta was sent: the pong waited for the listener's 150 ms.
    expect(busy_done_ms).toBeGreaterThan(0);
    expect(pong_ms).toBeGreaterThanOrEqual(busy_ms * 0.9);
  });
});
