// Access control over real sockets: tokens (query parameter and subprotocol),
// expiry (at connect and while connected), per-symbol entitlements, the
// origin allow-list, and TLS through uWS's SSLApp with a certificate made here
// by openssl. The embedded bus keeps it fast; the engine runs in-process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as https_request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { start_all, type AllInOne } from '../../src/app.js';
import { connect, type FeedClientError } from '../../src/client/index.js';
import { mint_hs256 } from '../../src/server/token_cli.js';
import { close_code, error_code } from '../../src/wire/codes.js';
import { RawClient } from '../helpers/raw_client.js';
import { test_config, wait_for } from '../helpers/service.js';

const secret = 'test-secret-of-at-least-32-bytes!!';
const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
const allowed_origin = 'https://trade.example.com';
const now_s = () => Math.floor(Date.now() / 1000);
const mint = (sub: string, exp_s: number, syms: '*' | string[], key: string) =>
  mint_hs256({ sub, exp_s, iat_s: Math.min(now_s(), exp_s), symbols: syms, issuer: '', audience: '', claim: 'symbols' }, key);
const token_for = (syms: '*' | string[], ttl_s = 60) => mint('tester', now_s() + ttl_s, syms, secret);

describe('access control', () => {
  let all: AllInOne;
  let url: string;

  beforeAll(async () => {
    all = await start_all(test_config({
      symbols, rate_orders_per_s: 300, auth_secret: secret, origin_allow_list: [allowed_origin], auth_clock_skew_s: 0,
    }));
    url = all.feed_service.url;
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    await all?.stop();
  });

  it('refuses a connection without a token, with a bad one or an expired one: close 4003 with the reason', async () => {
    const cases: [string, string][] = [
      [url, 'token required'],
      [`${url}?token=${await token_for('*')}x`, 'bad token signature'],
      [`${url}?token=${await mint('t', now_s() + 60, '*', 'another-secret-that-is-32-bytes-long')}`, 'bad token signature'],
      [`${url}?token=${await mint('t', now_s() - 60, '*', secret)}`, 'token expired'],
      [`${url}?token=garbage`, 'malformed token: not a JWT (header.payload.signature)'],
    ];
    for (const [u, reason] of cases) {
      const c = await RawClient.open(u, { origin: allowed_origin });
      expect(await c.closed).toBe(close_code.unauthorized);
      expect(c.close_reason).toBe(reason);
      expect(c.frame_count).toBe(0); // not one byte of market data
    }
    const stats = await (await fetch(`http://127.0.0.1:${all.feed_service.server.port}/stats?token=${await token_for('*')}`)).json() as { admission: { refused_total: Record<string, number> } };
    expect(stats.admission.refused_total['4003']).toBeGreaterThanOrEqual(cases.length);
  });

  it('guards /stats (it shows best prices) with a token for all symbols; /health and /metrics stay open', async () => {
    const base = `http://127.0.0.1:${all.feed_service.server.port}`;
    expect((await fetch(`${base}/stats`)).status).toBe(401);
    const narrow = await fetch(`${base}/stats?token=${await token_for(['BTC-USD'])}`);
    expect(narrow.status).toBe(401);
    expect(await narrow.json()).toEqual({ error: 'needs a token for all symbols ("*")' });
    expect((await fetch(`${base}/stats`, { headers: { authorization: `Bearer ${await token_for('*')}` } })).status).toBe(200);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it('refuses an origin not on the allow-list even with a good token', async () => {
    const c = await RawClient.open(`${url}?token=${await token_for('*')}`, { origin: 'https://evil.example' });
    expect(await c.closed).toBe(close_code.unauthorized);
    expect(c.close_reason).toBe('origin not allowed');
    const none = await RawClient.open(`${url}?token=${await token_for('*')}`); // no Origin header at all (not a browser)
    expect(await none.closed).toBe(close_code.unauthorized);
  });

  it('serves only entitled symbols: others get Error not_entitled (11) naming the symbol', async () => {
    const c = await RawClient.open(`${url}?token=${await token_for(['BTC-USD', 'SOL-USD'])}`, { origin: allowed_origin });
    expect(c.opened).toBe(true);
    c.subscribe(['BTC-USD', 'ETH-USD', 'SOL-USD'], 10);
    await wait_for('errors and snapshots', () => c.errors.length >= 1 && c.book('BTC-USD')!.has_snapshot && c.book('SOL-USD')!.has_snapshot);
    expect(c.errors.map((e) => [e.code, e.symbol])).toEqual([[error_code.not_entitled, 'ETH-USD']]);
    expect(c.book('ETH-USD')!.has_snapshot).toBe(false);
    expect(c.frames.some((f) => (f.type === 'snapshot' || f.type === 'delta') && f.symbol === 'ETH-USD')).toBe(false);
    c.send({ type: 'resync', symbol: 'ETH-USD', depth: 10 });
    await wait_for('resync refused', () => c.errors.length >= 2);
    expect(c.errors[1].code).toBe(error_code.not_subscribed);
    expect(c.violations).toEqual([]);
    c.close();
  });

  it('accepts the token as a subprotocol and answers with the other offered protocol', async () => {
    const c = await RawClient.open(url, { origin: allowed_origin, protocols: ['depthcast', `token.${await token_for('*')}`] });
    expect(c.opened).toBe(true);
    expect(c.ws.protocol).toBe('depthcast');
    c.subscribe(['ETH-USD'], 0);
    await wait_for('snapshot', () => c.synced);
    c.close();
  });

  it('closes a connection with 4003 when its token expires while connected', async () => {
    const c = await RawClient.open(`${url}?token=${await token_for('*', 2)}`, { origin: allowed_origin });
    expect(c.opened).toBe(true);
    c.subscribe(['BTC-USD'], 10);
    expect(await c.closed).toBe(close_code.unauthorized);
    expect(c.close_reason).toBe('token expired');
    expect(c.snapshots).toBe(1);
  });

  it('the SDK reports a refusal as fatal and does not reconnect', async () => {
    const errors: FeedClientError[] = [];
    const client = connect(`${url}?token=${await token_for('*', -5)}`, {
      WebSocket: class extends WebSocket { constructor(u: string, p?: string | string[]) { super(u, p, { origin: allowed_origin }); } } as never,
      backoff_initial_ms: 10, backoff_max_ms: 20,
    });
    client.on('error', (e) => errors.push(e));
    client.subscribe('BTC-USD');
    await wait_for('client closed', () => client.state === 'closed');
    await new Promise((r) => setTimeout(r, 100));
    expect(errors.some((e) => e.kind === 'socket' && e.code === close_code.unauthorized)).toBe(true);
    expect(client.counters.reconnects).toBe(0);
  });
});

const has_openssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!has_openssl)('TLS (uWS SSLApp)', () => {
  let dir: string;
  let all: AllInOne;
  let cert: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'depthcast-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    all = await start_all(test_config({ symbols: ['BTC-USD'], rate_orders_per_s: 200, tls_cert_path: join(dir, 'cert.pem'), tls_key_path: join(dir, 'key.pem') }));
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    await all?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves wss:// and https:// with the configured certificate, and nothing in plain text', async () => {
    expect(all.feed_service.server.tls).toBe(true);
    const port = all.feed_service.server.port;
    expect(all.feed_service.url).toBe(`wss://127.0.0.1:${port}/ws`);
    const c = await RawClient.open(`wss://127.0.0.1:${port}/ws`, { ca: cert });
    expect(c.opened).toBe(true);
    c.subscribe(['BTC-USD'], 10);
    await wait_for('snapshot over TLS', () => c.synced && c.deltas > 0);
    expect(c.violations).toEqual([]);
    c.close();
    const status = await new Promise<number>((resolve, reject) => {
      https_request({ host: '127.0.0.1', port, path: '/health', ca: cert }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end();
    });
    expect(status).toBe(200);
    // An unverified certificate is refused by the client: the chain really is the one we made.
    const untrusted = await RawClient.open(`wss://127.0.0.1:${port}/ws`);
    expect(untrusted.opened).toBe(false);
    const plain = await RawClient.open(`ws://127.0.0.1:${port}/ws`);
    expect(plain.opened).toBe(false);
  });

  it('refuses to start with a certificate it cannot read or load, naming the flag', async () => {
    writeFileSync(join(dir, 'empty.pem'), '');
    await expect(start_all(test_config({ tls_cert_path: join(dir, 'missing.pem'), tls_key_path: join(dir, 'key.pem') })))
      .rejects.toThrow(/--tls-cert-path .*missing\.pem: not readable/);
    await expect(start_all(test_config({ tls_cert_path: join(dir, 'empty.pem'), tls_key_path: join(dir, 'key.pem') })))
      .rejects.toThrow(/TLS: cannot load --tls-cert-path .*empty\.pem/);
  });
});
