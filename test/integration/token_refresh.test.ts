// In-band token refresh (docs/PROTOCOL.md §5.9) over real sockets: a Refresh
// keeps the connection and the views its new token covers, drops the others
// with Error 11, and is refused with Error 14 (nothing changed) for a bad
// token or another subject. The SDK's `token` function: refreshed before
// expiry without reconnecting, and, when refreshing failed until expiry,
// renewed after the 4003 close with its views resumed. Tokens minted with
// jose; the embedded bus. About 10 s (token lifetimes of a few seconds).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { start_all, type AllInOne } from '../../src/app.js';
import { connect, type FeedClientError } from '../../src/client/index.js';
import { mint_hs256 } from '../../src/server/token_cli.js';
import { close_code, error_code } from '../../src/wire/codes.js';
import { RawClient } from '../helpers/raw_client.js';
import { test_config, wait_for } from '../helpers/service.js';

const secret = 'refresh-test-secret-of-32-bytes-or-more';
const now_s = () => Math.floor(Date.now() / 1000);
const mint = (symbols: '*' | string[], ttl_s: number, sub = 'alice') =>
  mint_hs256({ sub, exp_s: now_s() + ttl_s, iat_s: now_s(), symbols, issuer: '', audience: '', claim: 'symbols' }, secret);

describe('token refresh', () => {
  let all: AllInOne;
  let url: string;

  beforeAll(async () => {
    all = await start_all(test_config({ symbols: ['BTC-USD', 'ETH-USD'], rate_orders_per_s: 200, auth_secret: secret, auth_clock_skew_s: 0 }));
    url = all.feed_service.url;
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    await all?.stop();
  });

  it('keeps covered views, drops the others with Error 11, then answers Refreshed; refuses bad tokens with Error 14', async () => {
    const c = await RawClient.open(url, { protocols: ['depthcast', `token.${await mint('*', 60)}`] });
    expect(c.opened).toBe(true);
    c.subscribe(['BTC-USD', 'ETH-USD'], 10);
    await wait_for('both views synced', () => c.synced);
    const narrower = await mint(['BTC-USD'], 120);
    c.send({ type: 'refresh', token: narrower });
    await wait_for('Refreshed', () => c.frames.some((f) => f.type === 'refreshed'));
    const refreshed = c.frames.find((f) => f.type === 'refreshed');
    expect(refreshed).toMatchObject({ expires_at_ms: (now_s() + 120) * 1000 });
    expect(c.errors).toEqual([expect.objectContaining({ code: error_code.not_entitled, symbol: 'ETH-USD' })]);
    // BTC-USD keeps streaming, ETH-USD stops.
    const eth_deltas = () => c.frames.filter((f) => f.type === 'delta' && f.symbol === 'ETH-USD').length;
    const eth_before = eth_deltas();
    const btc_before = c.frames.filter((f) => f.type === 'delta' && f.symbol === 'BTC-USD').length;
    await wait_for('BTC-USD deltas flow on', () => c.frames.filter((f) => f.type === 'delta' && f.symbol === 'BTC-USD').length > btc_before + 3);
    expect(eth_deltas()).toBe(eth_before);
    // The new token's entitlements hold for new subscriptions too.
    c.subscribe(['ETH-USD'], 50);
    await wait_for('Error 11 for ETH-USD@50', () => c.errors.length === 2);
    expect(c.errors[1]).toMatchObject({ code: error_code.not_entitled, symbol: 'ETH-USD' });
    // Refused refreshes: another subject, a forged token, the old format; the connection stays.
    c.send({ type: 'refresh', token: await mint('*', 60, 'mallory') });
    c.send({ type: 'refresh', token: `${narrower.slice(0, -4)}AAAA` });
    c.send({ type: 'refresh', token: 'eyJzdWIiOiJhIn0.c2ln' });
    await wait_for('three Error 14', () => c.errors.filter((e) => e.code === error_code.refresh_refused).length === 3);
    // Checks run concurrently: answers come in the order they finish.
    const reasons = c.errors.filter((e) => e.code === error_code.refresh_refused).map((e) => e.message).sort();
    expect(reasons).toEqual([
      'refresh refused: bad token signature',
      'refresh refused: old token format no longer accepted: mint a JWT (depthcast token)',
      'refresh refused: the new token is for another subject (sub)',
    ]);
    expect(c.close_code).toBeNull();
    expect(c.violations).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${all.feed_service.server.port}/metrics`)).text();
    expect(metrics).toContain('depthcast_token_refreshes_total{result="ok"} 1');
    expect(metrics).toContain('depthcast_token_refreshes_total{result="refused"} 3');
    c.close();
  });

  it('the SDK refreshes before expiry with its token function: no reconnect, the view streams on past the first expiry', async () => {
    let calls = 0;
    const errors: FeedClientError[] = [];
    const client = connect(url, { WebSocket: WebSocket as never, token: async () => { calls++; return mint('*', 3); } });
    client.on('error', (e) => errors.push(e));
    const book = client.subscribe('BTC-USD');
    await wait_for('synced', () => book.state === 'synced');
    const first_exp_ms = (now_s() + 3) * 1000;
    await wait_for('past the first token\'s expiry', () => Date.now() > first_exp_ms + 1500, 15_000, 50);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(client.counters.reconnects).toBe(0);
    expect(book.state).toBe('synced');
    expect(errors).toEqual([]);
    client.close();
  });

  it('the SDK gets a new token after a 4003 (refresh failing until expiry) and resumes its views', async () => {
    let calls = 0;
    let failing = false;
    const disconnects: [number, string][] = [];
    const errors: FeedClientError[] = [];
    const client = connect(url, {
      WebSocket: WebSocket as never, backoff_initial_ms: 50, backoff_max_ms: 200,
      token: async () => {
        calls++;
        if (failing) throw new Error('identity provider down');
        failing = calls === 1; // the first token works; refreshing it fails until the server closes
        return mint('*', 2);
      },
    });
    client.on('error', (e) => errors.push(e));
    client.on('disconnect', (code, reason) => {
      disconnects.push([code, reason]);
      failing = false;
    });
    const book = client.subscribe('BTC-USD');
    await wait_for('synced', () => book.state === 'synced');
    await wait_for('closed 4003 at expiry', () => disconnects.length > 0, 15_000, 50);
    expect(disconnects[0]).toEqual([close_code.unauthorized, 'token expired']);
    await wait_for('reconnected and the view synced again', () => client.counters.reconnects >= 1 && client.state === 'synced' && book.state === 'synced', 15_000, 50);
    expect(errors.some((e) => e.message.includes('token function failed: identity provider down'))).toBe(true);
    expect(errors.some((e) => e.message.includes('not reconnecting'))).toBe(false);
    client.close();
  });
});
