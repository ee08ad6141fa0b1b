// Admission of a WebSocket connection: who may connect (signed token with
// expiry and per-symbol entitlements, origin allow-list) and how fast one IP
// may open connections. Decided once, at the upgrade; the feed only asks
// `entitled(symbol)` afterwards. Everything here is off unless configured.
//
// Token (docs/OPERATIONS.md "Access control"):
//   token   = base64url(payload_json) "." base64url(HMAC-SHA256(secret, base64url(payload_json)))
//   payload = { "sub": string, "exp": unix seconds, "symbols": "*" | [symbol, ...] }   (other fields ignored)
// Presented as the query parameter `?token=` or as a WebSocket subprotocol
// `token.<TOKEN>` (browsers cannot set headers; the server answers with the
// other offered subprotocol, e.g. `depthcast`).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { close_code } from '../wire/codes.js';
import { find_flag, scan_flags, type FlagSpec } from '../util/flags.js';

/** Longest token accepted; longer ones are refused before any crypto. */
export const token_chars_max = 8192;
/** Most symbols one token may list. */
export const token_symbols_max = 4096;
/** Subprotocol prefix that carries a token. */
export const token_protocol_prefix = 'token.';
/** Shortest secret accepted (bytes): HMAC-SHA256 wants a key of at least its output size. */
export const auth_secret_bytes_min = 32;
/** Per-IP buckets remembered; past it idle ones are swept at once (a flood from many addresses stays bounded). */
export const ip_buckets_max = 100_000;

export interface TokenClaims {
  /** Who the token was issued to (logged, never trusted for anything else). */
  sub: string;
  /** Expiry, Unix seconds. */
  exp: number;
  /** Symbols the holder may subscribe to; '*' = all. */
  symbols: '*' | string[];
}

export type TokenCheck =
  | { ok: true; claims: TokenClaims; entitled: (symbol: string) => boolean }
  | { ok: false; reason: string };

function hmac(secret: string, data: string): Buffer {
  return createHmac('sha256', secret).update(data).digest();
}

/** Signs claims into a token. */
export function mint_token(claims: TokenClaims, secret: string): string {
  const payload = Buffer.from(JSON.stringify({ sub: claims.sub, exp: claims.exp, symbols: claims.symbols })).toString('base64url');
  return `${payload}.${hmac(secret, payload).toString('base64url')}`;
}

const base64url_re = /^[A-Za-z0-9_-]+$/;

/** Checks signature, shape and expiry. Never throws: every failure is a reason the client can read. */
export function verify_token(token: string, secret: string, now_s: number): TokenCheck {
  if (token.length === 0) return { ok: false, reason: 'token required' };
  if (token.length > token_chars_max) return { ok: false, reason: `token longer than ${token_chars_max} characters` };
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return { ok: false, reason: 'malformed token: expected payload.signature' };
  const payload = token.slice(0, dot);
  const signature = token.slice(dot + 1);
  if (!base64url_re.test(payload) || !base64url_re.test(signature)) return { ok: false, reason: 'malformed token: not base64url' };
  const given = Buffer.from(signature, 'base64url');
  const expected = hmac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad token signature' };
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed token payload: not JSON' };
  }
  const claims = check_claims(raw);
  if (typeof claims === 'string') return { ok: false, reason: `malformed token payload: ${claims}` };
  if (claims.exp <= now_s) return { ok: false, reason: 'token expired' };
  const entitled = claims.symbols === '*' ? () => true : set_membership(new Set(claims.symbols));
  return { ok: true, claims, entitled };
}

function set_membership(set: ReadonlySet<string>): (symbol: string) => boolean {
  return (symbol) => set.has(symbol);
}

function check_claims(raw: unknown): TokenClaims | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not an object';
  const o = raw as Record<string, unknown>;
  if (typeof o.sub !== 'string' || o.sub.length > 256) return 'sub must be a string of at most 256 characters';
  if (typeof o.exp !== 'number' || !Number.isSafeInteger(o.exp) || o.exp < 0) return 'exp must be Unix seconds (integer)';
  if (o.symbols === '*') return { sub: o.sub, exp: o.exp, symbols: '*' };
  if (!Array.isArray(o.symbols) || o.symbols.length > token_symbols_max || !o.symbols.every((s) => typeof s === 'string')) {
    return `symbols must be "*" or a list of at most ${token_symbols_max} strings`;
  }
  return { sub: o.sub, exp: o.exp, symbols: o.symbols as string[] };
}

/** Exact match of the Origin header (scheme://host[:port]); an empty list allows every origin. */
export function origin_allowed(origin: string, allow_list: readonly string[]): boolean {
  if (allow_list.length === 0) return true;
  return allow_list.includes(origin);
}

/**
 * The subprotocols a client offered, split into its token (if any) and the
 * one subprotocol the server must answer with (RFC 6455: exactly one of those
 * offered, or none).
 */
export function split_protocols(header: string): { token: string; answer: string } {
  let token = '';
  let answer = '';
  let token_entry = '';
  for (const part of header.split(',')) {
    const p = part.trim();
    if (p.length === 0) continue;
    if (p.startsWith(token_protocol_prefix)) {
      if (token === '') {
        token = p.slice(token_protocol_prefix.length);
        token_entry = p;
      }
    } else if (answer === '') {
      answer = p;
    }
  }
  return { token, answer: answer !== '' ? answer : token_entry };
}

/**
 * New connections per IP per second: a token bucket per address (burst = one
 * second's worth). Memory is bounded by sweeping buckets that have refilled.
 */
export class ConnectionRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; last_ms: number }>();

  constructor(private readonly per_s_max: number) {}

  /** True if `ip` may open a connection now (and counts it). per_s_max 0 = no limit. */
  admit(ip: string, now_ms: number): boolean {
    if (this.per_s_max === 0) return true;
    let b = this.buckets.get(ip);
    if (b === undefined) {
      if (this.buckets.size >= ip_buckets_max) this.sweep(now_ms);
      b = { tokens: this.per_s_max, last_ms: now_ms };
      this.buckets.set(ip, b);
    } else {
      const elapsed_ms = now_ms - b.last_ms;
      if (elapsed_ms > 0) {
        b.tokens = Math.min(this.per_s_max, b.tokens + (elapsed_ms * this.per_s_max) / 1000);
        b.last_ms = now_ms;
      }
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Forgets addresses whose bucket is full again (idle for a second or more). */
  sweep(now_ms: number): void {
    for (const [ip, b] of this.buckets) {
      if (now_ms - b.last_ms >= 1000) this.buckets.delete(ip);
    }
    // Still full (more than ip_buckets_max addresses active within a second): start over rather than grow.
    if (this.buckets.size >= ip_buckets_max) this.buckets.clear();
  }

  get size(): number {
    return this.buckets.size;
  }
}

export interface AdmissionConfig {
  auth_secret: string;
  origin_allow_list: readonly string[];
  new_connections_per_ip_per_s_max: number;
}

export interface UpgradeRequest {
  remote_address: string;
  origin: string;
  /** The `token` query parameter ('' if absent). */
  query_token: string;
  /** The Sec-WebSocket-Protocol header ('' if absent). */
  protocols: string;
}

export type Admission =
  | { ok: true; protocol: string; sub: string; exp_ms: number; entitled: ((symbol: string) => boolean) | undefined }
  | { ok: false; protocol: string; code: number; reason: string };

/** Decides, at the upgrade, whether a connection may open and what it may see. */
export class Gatekeeper {
  readonly limiter: ConnectionRateLimiter;

  constructor(private readonly config: AdmissionConfig) {
    this.limiter = new ConnectionRateLimiter(config.new_connections_per_ip_per_s_max);
  }

  get auth_enabled(): boolean {
    return this.config.auth_secret !== '';
  }

  /**
   * /stats shows each book's best prices: with auth on, it needs a token for
   * every symbol ('*'), from `?token=` or `Authorization: Bearer`. Returns why
   * not, or undefined when allowed.
   */
  check_operator(query_token: string, authorization: string, now_ms: number): string | undefined {
    if (!this.auth_enabled) return undefined;
    const token = query_token !== '' ? query_token : (/^Bearer\s+(\S+)$/i.exec(authorization)?.[1] ?? '');
    const check = verify_token(token, this.config.auth_secret, Math.floor(now_ms / 1000));
    if (!check.ok) return check.reason;
    return check.claims.symbols === '*' ? undefined : 'needs a token for all symbols ("*")';
  }

  admit(req: UpgradeRequest, now_ms: number): Admission {
    const { token: protocol_token, answer: protocol } = split_protocols(req.protocols);
    if (!this.limiter.admit(req.remote_address, now_ms)) {
      return { ok: false, protocol, code: close_code.too_many_connections, reason: `more than ${this.config.new_connections_per_ip_per_s_max} new connections/s from this address` };
    }
    if (!origin_allowed(req.origin, this.config.origin_allow_list)) {
      return { ok: false, protocol, code: close_code.unauthorized, reason: 'origin not allowed' };
    }
    if (!this.auth_enabled) return { ok: true, protocol, sub: '', exp_ms: 0, entitled: undefined };
    const token = req.query_token !== '' ? req.query_token : protocol_token;
    const check = verify_token(token, this.config.auth_secret, Math.floor(now_ms / 1000));
    if (!check.ok) return { ok: false, protocol, code: close_code.unauthorized, reason: check.reason };
    return { ok: true, protocol, sub: check.claims.sub, exp_ms: check.claims.exp * 1000, entitled: check.entitled };
  }
}

export const token_ttl_s_default = 3600;
export const token_help = [
  'Usage: depthcast token --symbols <SYM,SYM|*> [--sub <name>] [--ttl-s <seconds>] [--secret <secret>]',
  '',
  'Prints an access token signed with the feed\'s secret (--secret, else DEPTHCAST_AUTH_SECRET).',
  `  --symbols   symbols the holder may subscribe to, comma-separated, or '*' for all (required)`,
  `  --sub       who the token is for (default 'user')`,
  `  --ttl-s     seconds until it expires (default ${token_ttl_s_default})`,
].join('\n');

const token_flags: readonly FlagSpec[] = ['--secret', '--sub', '--symbols', '--ttl-s'].map((flag) => ({ flag, kind: 'string' }));

/** `depthcast token …`: returns the token, or throws an Error whose message says what is wrong. */
export function token_from_args(argv: readonly string[], env: Record<string, string | undefined>, now_s: number): string {
  const values: Record<string, string> = {};
  scan_flags(argv, (flag) => find_flag(token_flags, flag), {
    unknown: (flag) => { throw new Error(`unknown option '${flag}'\n${token_help}`); },
    needs_value: (flag) => { throw new Error(`option ${flag} needs a value`); },
    value: (spec, raw) => { values[spec.flag] = raw; },
  });
  const secret = values['--secret'] ?? env.DEPTHCAST_AUTH_SECRET ?? '';
  if (Buffer.byteLength(secret) < auth_secret_bytes_min) throw new Error(`a secret of at least ${auth_secret_bytes_min} bytes is required (--secret or DEPTHCAST_AUTH_SECRET)`);
  const symbols_arg = values['--symbols'];
  if (symbols_arg === undefined) throw new Error(`--symbols is required\n${token_help}`);
  const symbols = symbols_arg.trim() === '*' ? '*' : symbols_arg.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (symbols !== '*' && (symbols.length === 0 || symbols.length > token_symbols_max)) throw new Error(`--symbols: list 1..${token_symbols_max} symbols, or '*'`);
  const ttl_s = values['--ttl-s'] === undefined ? token_ttl_s_default : Number(values['--ttl-s']);
  if (!Number.isSafeInteger(ttl_s) || ttl_s <= 0) throw new Error(`--ttl-s: expected a positive integer, got '${values['--ttl-s']}'`);
  return mint_token({ sub: values['--sub'] ?? 'user', exp: now_s + ttl_s, symbols }, secret);
}
