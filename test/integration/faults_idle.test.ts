// Half-open sockets, server side: a peer that vanished without a FIN (or a
// client frozen solid) never answers the WebSocket pings uWS sends, and is
// reaped after --idle-timeout-s; a quiet but alive client (its WebSocket
// library answers pings) is kept. The SDK side of half-open connections
// (stale detection, reconnect) is in faults_feed.test.ts.
import { connect as tcp_connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import { RawClient } from '../helpers/raw_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const idle_timeout_s = 8; // uWS's smallest (it rounds to 4 s steps)

/** A WebSocket handshake over raw TCP, then silence: reads nothing it is sent, answers no ping. */
function silent_peer(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = tcp_connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    });
    socket.once('data', (d: Buffer) => {
      if (!d.toString().startsWith('HTTP/1.1 101')) reject(new Error(`no upgrade: ${d.toString().slice(0, 80)}`));
      socket.on('error', () => {});
      resolve({ socket, closed });
    });
  });
}

describe('half-open sockets (server side)', () => {
  let all: AllInOne;

  beforeAll(async () => {
    all = await start_all(test_config({ symbols: ['BTC-USD'], rate_orders_per_s: 50, idle_timeout_s }));
    await wait_for('live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    await all?.stop();
  });

  it(`reaps a silent peer after the idle timeout (${idle_timeout_s} s) and keeps a quiet live client`, async () => {
    const port = all.feed_service.server.port;
    const feed = all.feed_service.feed;
    const quiet = await RawClient.open(`ws://127.0.0.1:${port}/ws`); // sends nothing after subscribing; `ws` answers pings
    quiet.subscribe(['BTC-USD'], 10);
    const peer = await silent_peer(port);
    await wait_for('two sessions', () => feed.sessions.size === 2);
    await peer.closed; // the server closed it: no FIN or RST ever came from the peer
    await wait_for('session dropped', () => feed.sessions.size === 1);
    expect(feed.counters.closes_total.get(1006)).toBe(1);
    await sleep(500);
    expect(quiet.close_code).toBeNull();
    expect(quiet.synced).toBe(true);
    expect(quiet.violations).toEqual([]);
    quiet.close();
  }, 30_000);
});
