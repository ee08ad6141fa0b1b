// Tokens, origin allow-list, subprotocol split and the per-IP connection
// limiter (src/server/auth.ts), with no sockets.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConnectionRateLimiter, Gatekeeper, ip_buckets_max, mint_token, origin_allowed, split_protocols, token_chars_max, token_from_args, verify_token,
} from '../../src/server/auth.js';
import { close_code } from '../../src/wire/codes.js';
import { parse_config, ConfigError } from '../../src/config.js';

const secret = 'k'.repeat(32);
const now_s = 1_700_000_000;

describe('tokens', () => {
  it('round-trip: a minted token verifies with its claims and entitlements', () => {
    const token = mint_token({ sub: 'alice', exp: now_s + 60, symbols: ['BTC-USD', 'ETH-USD'] }, secret);
    const check = verify_token(token, secret, now_s);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.claims).toEqual({ sub: 'alice', exp: now_s + 60, symbols: ['BTC-USD', 'ETH-USD'] });
    expect(check.entitled('BTC-USD')).toBe(true);
    expect(check.entitled('SOL-USD')).toBe(false);
    const all = verify_token(mint_token({ sub: 'ops', exp: now_s + 1, symbols: '*' }, secret), secret, now_s);
    expect(all.ok && all.entitled('ANYTHING')).toBe(true);
  });

  it('follows the documented format: base64url(JSON).base64url(HMAC-SHA256(secret, first part))', () => {
    const payload = Buffer.from(JSON.stringify({ sub: 'bob', exp: now_s + 5, symbols: ['X'], extra: 1 })).toString('base64url');
    const sig = createHmac('sha256', secret).update(payload).digest('base64url');
    const check = verify_token(`${payload}.${sig}`, secret, now_s);
    expect(check.ok && check.claims.sub).toBe('bob');
  });

  it('refuses expired, forged, tampered and malformed tokens with a reason', () => {
    const good = mint_token({ sub: 'a', exp: now_s + 10, symbols: ['X'] }, secret);
    const reason = (t: string, at = now_s) => { const c = verify_token(t, secret, at); return c.ok ? 'ok' : c.reason; };
    expect(reason(good, now_s + 10)).toBe('token expired');
    expect(reason(mint_token({ sub: 'a', exp: now_s + 10, symbols: '*' }, 'x'.repeat(32)))).toBe('bad token signature');
    const [payload, sig] = good.split('.');
    const widened = Buffer.from(JSON.stringify({ sub: 'a', exp: now_s + 10, symbols: '*' })).toString('base64url');
    expect(reason(`${widened}.${sig}`)).toBe('bad token signature');
    expect(reason(`${payload}.${sig.slice(0, -2)}`)).toBe('bad token signature');
    expect(reason('')).toBe('token required');
    expect(reason('nodot')).toMatch(/^malformed token/);
    expect(reason('a.b.c')).toMatch(/^malformed token/);
    expect(reason(`${payload}.${sig}!`)).toMatch(/^malformed token/);
    expect(reason('x'.repeat(token_chars_max + 1))).toMatch(/longer than/);
    const signed = (json: string) => {
      const p = Buffer.from(json).toString('base64url');
      return `${p}.${createHmac('sha256', secret).update(p).digest('base64url')}`;
    };
    expect(reason(signed('not json'))).toMatch(/not JSON/);
    expect(reason(signed('[1]'))).toMatch(/not an object/);
    expect(reason(signed(JSON.stringify({ sub: 'a', exp: 'soon', symbols: '*' })))).toMatch(/exp/);
    expect(reason(signed(JSON.stringify({ sub: 'a', exp: now_s + 9, symbols: 'BTC-USD' })))).toMatch(/symbols/);
    expect(reason(signed(JSON.stringify({ sub: 'a', exp: now_s + 9, symbols: [1] })))).toMatch(/symbols/);
    expect(reason(signed(JSON.stringify({ exp: now_s + 9, symbols: '*' })))).toMatch(/sub/);
  });

  it('never throws on arbitrary input (seeded)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (t) => {
      const c = verify_token(t, secret, now_s);
      return c.ok === false && c.reason.length > 0;
    }), { seed: 7, numRuns: 2000 });
  });

  it('the CLI helper mints tokens the server accepts, and explains bad arguments', () => {
    const token = token_from_args(['--symbols', 'BTC-USD,ETH-USD', '--ttl-s=30', '--sub', 'carol'], { DEPTHCAST_AUTH_SECRET: secret }, now_s);
    const check = verify_token(token, secret, now_s);
    expect(check.ok && check.claims).toEqual({ sub: 'carol', exp: now_s + 30, symbols: ['BTC-USD', 'ETH-USD'] });
    expect(() => token_from_args(['--symbols', '*'], {}, now_s)).toThrow(/secret/);
    expect(() => token_from_args(['--secret', secret], {}, now_s)).toThrow(/--symbols is required/);
    expect(() => token_from_args(['--secret', secret, '--symbols', 'X', '--ttl-s', '-1'], {}, now_s)).toThrow(/--ttl-s/);
    expect(() => token_from_args(['--bogus', '1'], {}, now_s)).toThrow(/unknown option/);
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

  it('with nothing configured but the rate limit, admits everyone', () => {
    const g = new Gatekeeper({ auth_secret: '', origin_allow_list: [], new_connections_per_ip_per_s_max: 2 });
    expect(g.admit(base, 0)).toMatchObject({ ok: true, entitled: undefined });
    expect(g.admit(base, 0).ok).toBe(true);
    expect(g.admit(base, 0)).toMatchObject({ ok: false, code: close_code.too_many_connections });
  });

  it('refuses bad origins and missing/bad tokens with 4003 and a reason; accepts query or subprotocol tokens', () => {
    const g = new Gatekeeper({ auth_secret: secret, origin_allow_list: ['https://ok.example'], new_connections_per_ip_per_s_max: 0 });
    const token = mint_token({ sub: 'u', exp: now_s + 60, symbols: ['BTC-USD'] }, secret);
    const at = now_s * 1000;
    expect(g.admit({ ...base, origin: 'https://bad.example', query_token: token }, at)).toEqual({ ok: false, protocol: '', code: close_code.unauthorized, reason: 'origin not allowed' });
    expect(g.admit(base, at)).toMatchObject({ ok: false, code: close_code.unauthorized, reason: 'token required' });
    const q = g.admit({ ...base, query_token: token }, at);
    expect(q).toMatchObject({ ok: true, sub: 'u', exp_ms: (now_s + 60) * 1000 });
    expect(q.ok && q.entitled?.('BTC-USD')).toBe(true);
    expect(q.ok && q.entitled?.('ETH-USD')).toBe(false);
    const p = g.admit({ ...base, protocols: `depthcast, token.${token}` }, at);
    expect(p).toMatchObject({ ok: true, protocol: 'depthcast', sub: 'u' });
    expect(g.admit({ ...base, query_token: token }, (now_s + 60) * 1000)).toMatchObject({ ok: false, reason: 'token expired' });
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
