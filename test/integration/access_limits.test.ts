// Every per-connection and per-IP limit over real sockets, each with its
// documented answer (docs/OPERATIONS.md "Limits"): subscriptions per
// connection (Error 6), inbound messages/s (Error 7, then close 4001 at 4x),
// frame size (Error 2, then the WebSocket layer drops the connection at 16x), new
// connections per IP per second (close 4029).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import { inbound_abuse_factor } from '../../src/feed/feed.js';
import { ws_payload_bytes_hard_max_factor } from '../../src/server/server.js';
import { close_code, error_code } from '../../src/wire/codes.js';
import { RawClient } from '../helpers/raw_client.js';
import { test_config, wait_for } from '../helpers/service.js';

const symbols = ['A-1', 'A-2', 'A-3', 'A-4', 'A-5'];
const subscriptions_max = 3;
const messages_per_s_max = 10;
const frame_bytes_max = 256;
const connections_per_s_max = 5;

describe('limits', () => {
  let all: AllInOne;
  let url: string;

  beforeAll(async () => {
    all = await start_all(test_config({
      symbols, rate_orders_per_s: 100,
      subscriptions_per_connection_max: subscriptions_max,
      inbound_messages_per_s_max: messages_per_s_max,
      inbound_frame_bytes_max: frame_bytes_max,
      new_connections_per_ip_per_s_max: connections_per_s_max,
    }));
    url = all.feed_service.url;
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    await all?.stop();
  });

  // Each test opens at most a few sockets from its own source address so the per-IP limit of one does not bleed into another.
  it('subscriptions per connection: past the limit each symbol gets Error 6 naming it, the rest are served', async () => {
    const c = await RawClient.open(url, { local_address: '127.0.0.11' });
    c.subscribe(symbols, 10);
    await wait_for('errors', () => c.errors.length >= symbols.length - subscriptions_max);
    await wait_for('snapshots', () => c.snapshots >= subscriptions_max);
    expect(c.errors.map((e) => [e.code, e.symbol])).toEqual(symbols.slice(subscriptions_max).map((s) => [error_code.too_many_subscriptions, s]));
    // The limit counts views: the same symbols at another depth are refused too, re-subscribing a held view is not.
    c.subscribe(symbols.slice(0, 1), 50);
    c.subscribe(symbols.slice(0, 1), 10, 100);
    await wait_for('one more error', () => c.errors.length === symbols.length - subscriptions_max + 1);
    expect(c.errors.at(-1)).toMatchObject({ code: error_code.too_many_subscriptions, symbol: symbols[0] });
    expect(c.close_code).toBeNull();
    c.close();
  });

  it('inbound messages/s: over the limit frames get Error 7 and are ignored; far over it the connection closes 4001', async () => {
    const c = await RawClient.open(url, { local_address: '127.0.0.12' });
    const burst = messages_per_s_max + 5;
    for (let i = 0; i < burst; i++) c.send({ type: 'ping', nonce: i, client_time_ns: 0 });
    await wait_for('answers', () => c.frames.filter((f) => f.type === 'pong' || f.type === 'error').length >= burst);
    const pongs = c.frames.filter((f) => f.type === 'pong').length;
    // A burst of one second's worth passes; within the same few ms at most one more token refills.
    expect(pongs).toBeGreaterThanOrEqual(messages_per_s_max);
    expect(pongs).toBeLessThanOrEqual(messages_per_s_max + 1);
    expect(c.errors.length).toBe(burst - pongs);
    expect(c.errors.every((e) => e.code === error_code.rate_limited)).toBe(true);
    for (let i = 0; i < messages_per_s_max * inbound_abuse_factor + 5; i++) c.send({ type: 'ping', nonce: 1000 + i, client_time_ns: 0 });
    expect(await c.closed).toBe(close_code.policy_rate);
  });

  it('frame size: over the limit Error 2; over 16x the WebSocket layer drops the connection', async () => {
    const c = await RawClient.open(url, { local_address: '127.0.0.13' });
    c.send_raw(new Uint8Array(frame_bytes_max + 1));
    await wait_for('error', () => c.errors.length === 1);
    expect(c.errors[0].code).toBe(error_code.frame_too_large);
    c.subscribe(['A-1'], 10);
    await wait_for('still served', () => c.synced);
    const sessions_before = all.feed_service.feed.sessions.size;
    c.send_raw(new Uint8Array(frame_bytes_max * ws_payload_bytes_hard_max_factor + 1));
    // uWS drops the connection without reading the rest of the message: the client sees 1006 (or 1009 if the close frame gets through).
    expect([1006, 1009]).toContain(await c.closed);
    await wait_for('server dropped the session', () => all.feed_service.feed.sessions.size === sessions_before - 1);
  });

  it(`new connections per IP per second: past the limit they are closed with 4029; other addresses are not affected`, async () => {
    const attempts = connections_per_s_max + 3;
    const clients = await Promise.all(Array.from({ length: attempts }, () => RawClient.open(url, { local_address: '127.0.0.14' })));
    await wait_for('refusals', () => clients.filter((c) => c.close_code !== null).length >= attempts - connections_per_s_max, 15_000);
    const refused = clients.filter((c) => c.close_code === close_code.too_many_connections);
    expect(refused.length).toBeGreaterThanOrEqual(attempts - connections_per_s_max - 1); // one token may refill meanwhile
    expect(refused[0].close_reason).toMatch(/new connections\/s/);
    const other = await RawClient.open(url, { local_address: '127.0.0.15' });
    other.subscribe(['A-2'], 10);
    await wait_for('other address served', () => other.synced);
    // A refused address is served again a moment later: the bucket refills at the rate.
    await new Promise((r) => setTimeout(r, 1000 / connections_per_s_max + 50));
    const again = await RawClient.open(url, { local_address: '127.0.0.14' });
    again.subscribe(['A-3'], 10);
    await wait_for('refilled', () => again.synced);
    for (const c of [...clients, other, again]) c.close();
  });
});
