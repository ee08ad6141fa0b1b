// Attacks on admission, with real parts: the identity provider's JWKS is
// served by a real HTTP server on loopback, its signing key rotates mid-test
// (a new kid published, the old key withdrawn), tokens are minted with jose,
// connections are real uWS sockets. Every bad token is refused with close
// 4003 and a reason, counted by reason in /metrics; the server keeps running
// and holds nothing for a refused attempt. A seeded fuzz of tokens ends it.
// About 5 s.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import { close_code } from '../../src/wire/codes.js';
import { RawClient } from '../helpers/raw_client.js';
import { test_config, wait_for } from '../helpers/service.js';

const issuer = 'https://id.example.com';
const audience = 'depthcast';
const now_s = () => Math.floor(Date.now() / 1000);

interface SigningKey { kid: string; alg: string; private_key: CryptoKey; public_jwk: JWK }

async function signing_key(kid: string, alg: 'RS256' | 'ES256' | 'EdDSA'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  return { kid, alg, private_key: privateKey, public_jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

interface Claims { iss?: string; aud?: string; exp?: number; nbf?: number; sub?: string; symbols?: unknown }

function sign(key: SigningKey, claims: Claims = {}, header: Record<string, unknown> = {}): Promise<string> {
  const { iss = issuer, aud = audience, exp = now_s() + 60, sub = 'alice', symbols = '*', nbf } = claims;
  const jwt = new SignJWT({ symbols, ...(nbf === undefined ? {} : { nbf }) })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).setSubject(sub).setIssuedAt().setExpirationTime(exp);
  if (iss !== '') jwt.setIssuer(iss);
  if (aud !== '') jwt.setAudience(aud);
  return jwt.sign(key.private_key);
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('token security (JWKS over HTTP, key rotation)', () => {
  let jwks_server: Server;
  let published: JWK[] = [];
  let jwks_requests = 0;
  let all: AllInOne;
  let url: string;
  let rsa: SigningKey;
  let ec: SigningKey;
  let ed: SigningKey;

  /** Opens a socket with this token; resolves with how it ended: [close code, reason], or 'open' if it stays open. */
  async function attempt(token: string): Promise<[number, string] | 'open'> {
    const c = await RawClient.open(`${url}?token=${token}`);
    if (c.opened && c.close_code === null) {
      c.subscribe(['BTC-USD']);
      const outcome = await Promise.race([c.closed.then((code) => [code, c.close_reason] as [number, string]), wait_for('snapshot', () => c.synced, 10_000).then(() => 'open' as const)]);
      c.close();
      await c.closed;
      return outcome;
    }
    return [c.close_code ?? 0, c.close_reason];
  }

  beforeAll(async () => {
    [rsa, ec, ed] = await Promise.all([signing_key('rsa-1', 'RS256'), signing_key('ec-1', 'ES256'), signing_key('ed-1', 'EdDSA')]);
    published = [rsa.public_jwk, ec.public_jwk, ed.public_jwk];
    jwks_server = createServer((req, res) => {
      jwks_requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((resolve) => jwks_server.listen(0, '127.0.0.1', resolve));
    const jwks_url = `http://127.0.0.1:${(jwks_server.address() as AddressInfo).port}/.well-known/jwks.json`;
    all = await start_all(test_config({
      symbols: ['BTC-USD'], rate_orders_per_s: 200, auth_jwks: jwks_url, auth_issuer: issuer, auth_audience: audience, auth_clock_skew_s: 0,
      jwks_unknown_kid_refetch_interval_ms: 300, jwks_refresh_interval_ms: 600_000,
    }));
    url = all.feed_service.url;
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    await all?.stop();
    jwks_server?.close();
  });

  it('accepts RS256, ES256 and EdDSA tokens signed with keys from the JWKS (fetched once, before listening)', async () => {
    expect(jwks_requests).toBe(1);
    for (const key of [rsa, ec, ed]) expect(await attempt(await sign(key))).toBe('open');
  });

  it('refuses each attack with 4003 and a reason, and holds nothing for it', async () => {
    const forger = await signing_key('rsa-1', 'RS256'); // same kid, another key
    const rsa_public_pem = await exportSPKI((await generateKeyPair('RS256')).publicKey);
    const confusion = await new SignJWT({ symbols: '*' }).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).setIssuer(issuer).setAudience(audience)
      .setExpirationTime(now_s() + 60).sign(new TextEncoder().encode(rsa_public_pem));
    const good = await sign(rsa);
    const [h, p] = good.split('.');
    const cases: [string, string, string][] = [
      ['alg none', `${b64({ alg: 'none', kid: 'rsa-1' })}.${b64({ iss: issuer, aud: audience, exp: now_s() + 60, symbols: '*' })}.`, 'token algorithm not allowed'],
      ['alg confusion (HS256 with the RSA public key)', confusion, 'token algorithm not allowed'],
      ['wrong iss', await sign(rsa, { iss: 'https://evil.example.com' }), 'wrong token issuer (iss)'],
      ['wrong aud', await sign(ec, { aud: 'someone-else' }), 'wrong token audience (aud)'],
      ['no aud', await sign(ed, { aud: '' }), 'token has no aud'],
      ['expired', await sign(rsa, { exp: now_s() - 5 }), 'token expired'],
      ['not yet valid', await sign(ec, { nbf: now_s() + 600 }), 'token not yet valid (nbf)'],
      ['bad signature (forged with another key, same kid)', await sign(forger), 'bad token signature'],
      ['tampered payload', `${h}.${b64({ iss: issuer, aud: audience, exp: now_s() + 60, sub: 'alice', symbols: '*', admin: true })}.${good.split('.')[2]}`, 'bad token signature'],
      ['oversize', `${h}.${p}.${'A'.repeat(9000)}`, 'token longer than 8192 characters'],
      ['malformed', 'not-a-jwt', 'malformed token: not a JWT (header.payload.signature)'],
      ['malformed header', `${b64('{oops')}.${p}.AAAA`, 'malformed token (ERR_JWS_INVALID)'],
      ['old 0.1 format', `${b64({ sub: 'a', exp: now_s() + 60, symbols: '*' })}.c2ln`, 'old token format no longer accepted: mint a JWT (depthcast token)'],
      ['bad entitlements', await sign(rsa, { symbols: 'BTC-USD' }), `claim 'symbols' must be "*" or a list of ≤ 4096 symbols`],
    ];
    for (const [what, token, reason] of cases) {
      expect([what, await attempt(token)]).toEqual([what, [close_code.unauthorized, reason]]);
    }
    // Nothing held: no session, no subscription; the server still serves a good token.
    await wait_for('no connection left', () => all.feed_service.feed.counters.connections === 0);
    expect(all.feed_service.feed.counters.subscriptions).toBe(0);
    expect(await attempt(await sign(ed))).toBe('open');
    const metrics = await (await fetch(`http://127.0.0.1:${all.feed_service.server.port}/metrics`)).text();
    for (const [reason, n] of [['algorithm', 2], ['issuer', 1], ['audience', 2], ['expired', 1], ['not_yet_valid', 1], ['signature', 2], ['oversize', 1], ['malformed', 2], ['old_format', 1]] as const) {
      expect(metrics).toContain(`depthcast_auth_refusals_total{reason="${reason}"} ${n}`);
    }
  });

  it('follows a key rotation: a new kid is fetched at once, the withdrawn key is refused, unknown kids refetch at most once per interval', async () => {
    const rsa2 = await signing_key('rsa-2', 'RS256');
    published = [rsa2.public_jwk, ec.public_jwk, ed.public_jwk]; // rsa-1 withdrawn, rsa-2 published
    const before = jwks_requests;
    expect(await attempt(await sign(rsa2))).toBe('open'); // unknown kid → refetch → found
    expect(jwks_requests).toBe(before + 1);
    await new Promise((r) => setTimeout(r, 350)); // past the refetch interval
    expect(await attempt(await sign(rsa))).toEqual([close_code.unauthorized, 'no signing key matches the token (kid)']);
    // A burst of made-up kids: every one refused, at most one fetch per 300 ms between them.
    const started_ms = Date.now();
    const burst_before = jwks_requests;
    const outcomes = await Promise.all(Array.from({ length: 20 }, async (_, i) => attempt(await sign({ ...rsa2, kid: `made-up-${i}` }))));
    const elapsed_ms = Date.now() - started_ms;
    expect(new Set(outcomes.map((o) => JSON.stringify(o)))).toEqual(new Set([JSON.stringify([close_code.unauthorized, 'no signing key matches the token (kid)'])]));
    expect(jwks_requests - burst_before).toBeLessThanOrEqual(1 + Math.ceil(elapsed_ms / 300));
    expect(jwks_requests - burst_before).toBeLessThan(20);
    const metrics = await (await fetch(`http://127.0.0.1:${all.feed_service.server.port}/metrics`)).text();
    expect(metrics).toMatch(/depthcast_jwks_fetches_total\{result="ok"\} [3-9]/);
    expect(metrics).toContain('depthcast_jwks_fetches_total{result="error"} 0');
    expect(metrics).toContain('depthcast_jwks_keys 3');
  });

  it('keeps the last good keys when the JWKS URL fails, and counts the failure', async () => {
    const saved = published;
    published = [{ kty: 'nonsense' } as JWK];
    jwks_server.removeAllListeners('request');
    jwks_server.on('request', (_req, res) => { jwks_requests++; res.writeHead(503).end('down'); });
    // An unknown kid makes it fetch (and fail); known kids still verify with the kept keys.
    await new Promise((r) => setTimeout(r, 350)); // past the refetch interval of the burst before
    await attempt(await sign({ ...ec, kid: 'unknown-now' }));
    expect(await attempt(await sign(ec))).toBe('open');
    const metrics = await (await fetch(`http://127.0.0.1:${all.feed_service.server.port}/metrics`)).text();
    expect(metrics).toMatch(/depthcast_jwks_fetches_total\{result="error"\} [1-9]/);
    published = saved;
  });

  it('survives a seeded fuzz of tokens: each refused with 4003 and a short reason, the server still up', async () => {
    const good = (await sign(ed)).split('.');
    const token = fc.oneof(
      fc.string({ maxLength: 200 }).map((s) => encodeURIComponent(s)),
      fc.tuple(fc.nat(2), fc.string({ maxLength: 40 })).map(([i, s]) => good.map((part, j) => (j === i ? b64(s) : part)).join('.')),
      fc.tuple(fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'EdDSA', 'PS256', 'HS512', ''), fc.string({ maxLength: 20 }))
        .map(([alg, kid]) => `${b64({ alg, kid })}.${good[1]}.${good[2]}`),
      fc.nat({ max: 3 * 8192 }).map((n) => `${good[0]}.${good[1]}.${'A'.repeat(n)}`),
    );
    const samples = fc.sample(token, { seed: 22, numRuns: 60 });
    for (const t of samples) {
      const outcome = await attempt(t);
      expect(outcome).not.toBe('open');
      const [code, reason] = outcome as [number, string];
      expect(code).toBe(close_code.unauthorized);
      expect(reason.length).toBeGreaterThan(0);
    }
    expect((await fetch(`http://127.0.0.1:${all.feed_service.server.port}/health`)).status).toBe(200);
    await wait_for('no connection left', () => all.feed_service.feed.counters.connections === 0);
  });
});
