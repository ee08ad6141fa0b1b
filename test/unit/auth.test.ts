// JWT tokens (src/server/token_verifier.ts, with jose), the token CLI, origin
// allow-list, subprotocol split and the per-IP connection limiter
// (src/server/auth.ts), with no sockets. Attacks over real sockets and a real
// JWKS server: test/integration/token_security.test.ts.
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ConnectionRateLimiter, Gatekeeper, ip_buckets_max, origin_allowed, split_protocols } from '../../src/server/auth.js';
import { mint_hs256, token_from_args } from '../../src/server/token_cli.js';
import { token_chars_max, TokenVerifier, type TokenPolicy } from '../../src/server/token_verifier.js';
import { close_code } from '../../src/wire/codes.js';
import { parse_config, ConfigError } from '../../src/config.js';

const secret = 'k'.repeat(32);
const now_s = 1_700_000_000;
const now_ms = now_s * 1000;
const policy: TokenPolicy = {
  auth_secret: secret, auth_jwks: '', auth_issuer: '', auth_audience: '', auth_clock_skew_s: 30, auth_entitlements_claim: 'symbols',
};
const hs = (claims: Record<string, unknown>, key = secret) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key));
const mint = (symbols: '*' | string[], over: Partial<Parameters<typeof mint_hs256>[0]> = {}) =>
  mint_hs256({ sub: 'alice', exp_s: now_s + 60, iat_s: now_s, symbols, issuer: '', audience: '', claim: 'symbols', ...over }, secret);

describe('JWT tokens (HS256)', () => {
  const verifier = new TokenVerifier(policy, null);
  const reason = async (token: string, at = now_ms, v = verifier) => {
    const c = await v.verify(token, at);
    return c.ok ? 'ok' : c.reason;
  };

  it('round-trip: a minted token verifies with its subject, expiry and entitlements', async () => {
    const check = await verifier.verify(await mint(['BTC-USD', 'ETH-USD']), now_ms);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.grant).toMatchObject({ sub: 'alice', exp_ms: (now_s + 60) * 1000, symbols: ['BTC-USD', 'ETH-USD'] });
    expect(check.grant.entitled('BTC-USD')).toBe(true);
    expect(check.grant.entitled('SOL-USD')).toBe(false);
    const all = await verifier.verify(await mint('*'), now_ms);
    expect(all.ok && all.grant.entitled('ANYTHING')).toBe(true);
  });

  it('checks exp, nbf and iat with the configured skew', async () => {
    const token = await mint('*');
    expect(await reason(token, (now_s + 60 + 29) * 1000)).toBe('ok'); // within 30 s of skew
    expect(await reason(token, (now_s + 60 + 31) * 1000)).toBe('token expired');
    expect(await reason(await hs({ symbols: '*', exp: now_s + 600, nbf: now_s + 100 }))).toBe('token not yet valid (nbf)');
    expect(await reason(await hs({ symbols: '*', exp: now_s + 600, nbf: now_s + 20 }))).toBe('ok');
    expect(await reason(await hs({ symbols: '*', exp: now_s + 600, iat: now_s + 100 }))).toBe('token issued in the future (iat)');
    expect(await reason(await hs({ symbols: '*' }))).toBe('token has no exp');
  });

  it('requires iss and aud when configured', async () => {
    const strict = new TokenVerifier({ ...policy, auth_issuer: 'https://id.example', auth_audience: 'depthcast' }, null);
    const good = await mint('*', { issuer: 'https://id.example', audience: 'depthcast' });
    expect(await reason(good, now_ms, strict)).toBe('ok');
    expect(await reason(await mint('*', { issuer: 'https://evil.example', audience: 'depthcast' }), now_ms, strict)).toBe('wrong token issuer (iss)');
    expect(await reason(await mint('*', { issuer: 'https://id.example', audience: 'other' }), now_ms, strict)).toBe('wrong token audience (aud)');
    expect(await reason(await mint('*', { audience: 'depthcast' }), now_ms, strict)).toBe('token has no iss');
    expect(await reason(await mint('*', { issuer: 'https://id.example' }), now_ms, strict)).toBe('token has no aud');
  });

  it('reads entitlements from the configured claim', async () => {
    const custom = new TokenVerifier({ ...policy, auth_entitlements_claim: 'https://depthcast/symbols' }, null);
    const token = await mint(['BTC-USD'], { claim: 'https://depthcast/symbols' });
    const check = await custom.verify(token, now_ms);
    expect(check.ok && check.grant.entitled('BTC-USD')).toBe(true);
    expect(await reason(await mint(['BTC-USD']), now_ms, custom)).toMatch(/^claim 'https:\/\/depthcast\/symbols' must be/);
    expect(await reason(await hs({ exp: now_s + 9, symbols: 'BTC-USD' }))).toMatch(/must be "\*" or a list/);
    expect(await reason(await hs({ exp: now_s + 9, symbols: [1] }))).toMatch(/must be "\*" or a list/);
  });

  it('refuses forged, tampered, malformed and old-format tokens with a reason', async () => {
    const good = await mint(['X']);
    expect(await reason(await mint_hs256({ sub: 'a', exp_s: now_s + 10, iat_s: now_s, symbols: '*', issuer: '', audience: '', claim: 'symbols' }, 'x'.repeat(32)))).toBe('bad token signature');
    const [h, , sig] = good.split('.');
    const widened = Buffer.from(JSON.stringify({ sub: 'alice', exp: now_s + 60, symbols: '*' })).toString('base64url');
    expect(await reason(`${h}.${widened}.${sig}`)).toBe('bad token signature');
    expect(await reason('')).toBe('token required');
    expect(await reason('nodot')).toMatch(/^malformed token/);
    expect(await reason('a.b.c')).toMatch(/^malformed token/);
    expect(await reason(`${good}!`)).toMatch(/^malformed token/);
    expect(await reason('x'.repeat(token_chars_max + 1))).toMatch(/longer than/);
    // 0.1's payload.signature tokens: refused, saying what to do instead.
    const old = `${Buffer.from(JSON.stringify({ sub: 'a', exp: now_s + 9, symbols: '*' })).toString('base64url')}.c2lnbmF0dXJl`;
    expect(await reason(old)).toBe('old token format no longer accepted: mint a JWT (depthcast token)');
  });

  it('never throws on arbitrary input, and every reason fits a close frame (seeded)', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => p.join('.').replace(/[+/=]/g, 'A'))), async (t) => {
      const c = await verifier.verify(t, now_ms);
      return c.ok === false && c.reason.length > 0 && Buffer.byteLength(c.reason) <= 123;
    }), { seed: 7, numRuns: 1000 });
  });

  it('the CLI helper mints JWTs the server accepts, and explains bad arguments', async () => {
    const token = await token_from_args(['--symbols', 'BTC-USD,ETH-USD', '--ttl-s=30', '--sub', 'carol'], { DEPTHCAST_AUTH_SECRET: secret }, now_s);
    expect(token.split('.')).toHaveLength(3);
    const check = await verifier.verify(token, now_ms);
    expect(check.ok && check.grant).toMatchObject({ sub: 'carol', exp_ms: (now_s + 30) * 1000, symbols: ['BTC-USD', 'ETH-USD'] });
    await expect(token_from_args(['--symbols', '*'], {}, now_s)).rejects.toThrow(/secret/);
    await expect(token_from_args(['--secret', secret], {}, now_s)).rejects.toThrow(/--symbols is required/);
    await expect(token_from_args(['--secret', secret, '--symbols', 'X', '--ttl-s', '-1'], {}, now_s)).rejects.toThrow(/--ttl-s/);
    await expect(token_from_args(['--bogus', '1'], {}, now_s)).rejects.toThrow(/unknown option/);
  });
});

describe('origin and subprotocols', () => {
  it('an empty allow-list allows any origin; otherwise exact matches only', () => {
    expect(origin_allowed('', [])).toBe(true);
    expect(origin_allowed('https://evil.example', [])).toBe(true);
    const list = ['https://trade.example.com', 'http://localhost:8080'];
    expect(origin_allowed('https://trade.example.com', list)).toBe(true);
    expect(origin_allowed('http://localhost:8080', list)).toBe(true);
    expect(origin_allowed('https://trade.example.com.evil.io', list)).toBe(false);
    expect(origin_allowed('', list)).toBe(false);
  });

  it('takes the token from a token.<TOKEN> subprotocol and answers with exactly one offered protocol', () => {
    expect(split_protocols('')).toEqual({ token: '', answer: '' });
    expect(split_protocols('depthcast')).toEqual({ token: '', answer: 'depthcast' });
    expect(split_protocols('depthcast, token.abc.def')).toEqual({ token: 'abc.def', answer: 'depthcast' });
    expect(split_protocols('token.abc.def')).toEqual({ token: 'abc.def', answer: 'token.abc.def' });
    expect(split_protocols('token.a.b,v2,depthcast')).toEqual({ token: 'a.b', answer: 'v2' });
  });
});

describe('connections per IP per second', () => {
  it('admits a second\'s worth at once, then refills at the rate, per address', () => {
    const l = new ConnectionRateLimiter(5);
    let t = 1000;
    for (let i = 0; i < 5; i++) expect(l.admit('10.0.0.1', t)).toBe(true);
    expect(l.admit('10.0.0.1', t)).toBe(false);
    expect(l.admit('10.0.0.2', t)).toBe(true); // another address has its own bucket
    t += 200; // one token back
    expect(l.admit('10.0.0.1', t)).toBe(true);
    expect(l.admit('10.0.0.1', t)).toBe(false);
    expect(new ConnectionRateLimiter(0).admit('x', t)).toBe(true);
  });

  it('stays bounded under a flood from many addresses', () => {
    const l = new ConnectionRateLimiter(1);
    for (let i = 0; i < ip_buckets_max + 10; i++) l.admit(`ip${i}`, 0);
    expect(l.size).toBeLessThanOrEqual(ip_buckets_max);
    l.sweep(5000);
    expect(l.size).toBe(0);
  });
});

describe('Gatekeeper', () => {
  const base = { remote_address: '127.0.0.1', origin: 'https://ok.example', query_token: '', protocols: '' };

  it('with nothing configured but the rate limit, admits everyone at once (no token check)', () => {
    const g = new Gatekeeper({ origin_allow_list: [], new_connections_per_ip_per_s_max: 2 }, null);
    expect(g.admit(base, 0)).toEqual({ ok: true, protocol: '', grant: undefined });
    expect(g.admit(base, 0)).toMatchObject({ ok: true });
    expect(g.admit(base, 0)).toMatchObject({ ok: false, code: close_code.too_many_connections, kind: 'rate' });
  });

  it('refuses bad origins and missing/bad tokens with 4003 and a reason; accepts query or subprotocol tokens', async () => {
    const g = new Gatekeeper({ origin_allow_list: ['https://ok.example'], new_connections_per_ip_per_s_max: 0 }, new TokenVerifier({ ...policy, auth_clock_skew_s: 0 }, null));
    const token = await mint(['BTC-USD']);
    expect(await g.admit({ ...base, origin: 'https://bad.example', query_token: token }, now_ms)).toEqual({ ok: false, protocol: '', code: close_code.unauthorized, kind: 'origin', reason: 'origin not allowed' });
    expect(await g.admit(base, now_ms)).toMatchObject({ ok: false, code: close_code.unauthorized, kind: 'missing', reason: 'token required' });
    const q = await g.admit({ ...base, query_token: token }, now_ms);
    expect(q).toMatchObject({ ok: true, grant: { sub: 'alice', exp_ms: (now_s + 60) * 1000 } });
    expect(q.ok && q.grant?.entitled('BTC-USD')).toBe(true);
    expect(q.ok && q.grant?.entitled('ETH-USD')).toBe(false);
    const p = await g.admit({ ...base, protocols: `depthcast, token.${token}` }, now_ms);
    expect(p).toMatchObject({ ok: true, protocol: 'depthcast', grant: { sub: 'alice' } });
    expect(await g.admit({ ...base, query_token: token }, (now_s + 60) * 1000)).toMatchObject({ ok: false, kind: 'expired', reason: 'token expired' });
  });
});

describe('config of access control', () => {
  it('validates the secret length, origins and TLS pairs, off by default', () => {
    const { config } = parse_config('feed', [], {});
    expect(config.auth_secret).toBe('');
    expect(config.origin_allow_list).toEqual([]);
    expect(config.tls_cert_path).toBe('');
    expect(config.new_connections_per_ip_per_s_max).toBe(1000);
    expect(() => parse_config('feed', ['--auth-secret', 'short'], {})).toThrow(ConfigError);
    expect(parse_config('feed', [], { DEPTHCAST_AUTH_SECRET: secret }).config.auth_secret).toBe(secret);
    expect(() => parse_config('feed', ['--origin-allow-list', 'evil.com'], {})).toThrow(/scheme:\/\/host/);
    expect(parse_config('feed', ['--origin-allow-list', 'https://a.example,http://localhost:8080'], {}).config.origin_allow_list)
      .toEqual(['https://a.example', 'http://localhost:8080']);
    expect(() => parse_config('feed', ['--tls-cert-path', '/x.pem'], {})).toThrow(/go together/);
    expect(() => parse_config('engine', ['--auth-secret', secret], {})).toThrow(/does not apply/);
  });
});
