// Admission of a WebSocket connection: who may connect (a JWT with expiry
// and per-symbol entitlements, checked by src/server/token_verifier.ts; an
// origin allow-list) and how fast one IP may open connections. Decided once,
// at the upgrade (asynchronously only when a token must be checked); the feed
// only asks `entitled(symbol)` afterwards, until a Refresh replaces it.
// Everything here is off unless configured.
//
// A token is presented as the query parameter `?token=` or as a WebSocket
// subprotocol `token.<TOKEN>` (browsers cannot set headers; the server
// answers with the other offered subprotocol, e.g. `depthcast`).
import { SignJWT } from 'jose';
import { close_code } from '../wire/codes.js';
import { find_flag, scan_flags, type FlagSpec } from '../util/flags.js';
import type { Config } from '../config.js';
import { JwksSource } from './jwks.js';
import { refusal_kinds, token_symbols_max, TokenVerifier, type RefusalKind, type TokenGrant } from './token_verifier.js';

/** Subprotocol prefix that carries a token. */
export const token_protocol_prefix = 'token.';
/** Shortest secret accepted (bytes): HMAC-SHA256 wants a key of at least its output size. */
export const auth_secret_bytes_min = 32;
/** Per-IP buckets remembered; past it idle ones are swept at once (a flood from many addresses stays bounded). */
export const ip_buckets_max = 100_000;

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

/** Every reason a connection is refused, as Prometheus labels: the token's, plus origin and connection rate. */
export const admission_refusal_kinds: readonly string[] = [...refusal_kinds, 'origin', 'rate'];

/** Refusals (by close code, by reason kind) and token expiries while connected. */
export interface AdmissionStats {
  refused_total: Record<string, number>;
  refused_by_reason: Record<string, number>;
  token_expired_total: number;
}

/** The gatekeeper the configuration asks for: a token verifier when --auth-secret or --auth-jwks is set. */
export function admission_from_config(config: Readonly<Config>): Gatekeeper {
  const jwks = config.auth_jwks === '' ? null : new JwksSource(config.auth_jwks, config);
  const verifier = config.auth_secret === '' && jwks === null ? null : new TokenVerifier(config, jwks);
  return new Gatekeeper(config, verifier);
}

export interface AdmissionConfig {
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
  | { ok: true; protocol: string; grant: TokenGrant | undefined }
  | { ok: false; protocol: string; code: number; reason: string; kind: RefusalKind | 'origin' | 'rate' };

/** Decides, at the upgrade, whether a connection may open and what it may see. */
export class Gatekeeper {
  readonly limiter: ConnectionRateLimiter;

  /** verifier null = no access control. */
  constructor(private readonly config: AdmissionConfig, readonly verifier: TokenVerifier | null) {
    this.limiter = new ConnectionRateLimiter(config.new_connections_per_ip_per_s_max);
  }

  get auth_enabled(): boolean {
    return this.verifier !== null;
  }

  /**
   * /stats shows each book's best prices: with auth on, it needs a token for
   * every symbol ('*'), from `?token=` or `Authorization: Bearer`. Resolves to
   * why not, or undefined when allowed.
   */
  async check_operator(query_token: string, authorization: string, now_ms: number): Promise<string | undefined> {
    if (this.verifier === null) return undefined;
    const token = query_token !== '' ? query_token : (/^Bearer\s+(\S+)$/i.exec(authorization)?.[1] ?? '');
    const check = await this.verifier.verify(token, now_ms);
    if (!check.ok) return check.reason;
    return check.grant.symbols === '*' ? undefined : 'needs a token for all symbols ("*")';
  }

  /** Synchronous unless a token must be checked (then a promise; the caller must watch for an aborted upgrade). */
  admit(req: UpgradeRequest, now_ms: number): Admission | Promise<Admission> {
    const { token: protocol_token, answer: protocol } = split_protocols(req.protocols);
    if (!this.limiter.admit(req.remote_address, now_ms)) {
      return { ok: false, protocol, code: close_code.too_many_connections, kind: 'rate', reason: `more than ${this.config.new_connections_per_ip_per_s_max} new connections/s from this address` };
    }
    if (!origin_allowed(req.origin, this.config.origin_allow_list)) {
      return { ok: false, protocol, code: close_code.unauthorized, kind: 'origin', reason: 'origin not allowed' };
    }
    if (this.verifier === null) return { ok: true, protocol, grant: undefined };
    const token = req.query_token !== '' ? req.query_token : protocol_token;
    return this.verifier.verify(token, now_ms).then((check): Admission => check.ok
      ? { ok: true, protocol, grant: check.grant }
      : { ok: false, protocol, code: close_code.unauthorized, kind: check.kind, reason: check.reason });
  }
}

export const token_ttl_s_default = 3600;
export const token_help = [
  'Usage: depthcast token --symbols <SYM,SYM|*> [--sub <name>] [--ttl-s <seconds>] [--issuer <iss>] [--audience <aud>] [--secret <secret>]',
  '',
  'Prints a JWT signed HS256 with the feed\'s secret (--secret, else DEPTHCAST_AUTH_SECRET), for development',
  'and for feeds that share a secret with their token issuer (docs/OPERATIONS.md §4).',
  `  --symbols   symbols the holder may subscribe to, comma-separated, or '*' for all (required)`,
  `  --sub       who the token is for (default 'user')`,
  `  --ttl-s     seconds until it expires (default ${token_ttl_s_default})`,
  `  --issuer    iss claim (default DEPTHCAST_AUTH_ISSUER, else none)`,
  `  --audience  aud claim (default DEPTHCAST_AUTH_AUDIENCE, else none)`,
  `  --claim     the entitlements claim (default DEPTHCAST_AUTH_ENTITLEMENTS_CLAIM, else 'symbols')`,
].join('\n');

const token_flags: readonly FlagSpec[] = ['--secret', '--sub', '--symbols', '--ttl-s', '--issuer', '--audience', '--claim'].map((flag) => ({ flag, kind: 'string' }));

/** `depthcast token …`: resolves to the JWT, or rejects with an Error whose message says what is wrong. */
export async function token_from_args(argv: readonly string[], env: Record<string, string | undefined>, now_s: number): Promise<string> {
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
  return mint_hs256({
    sub: values['--sub'] ?? 'user', exp_s: now_s + ttl_s, iat_s: now_s, symbols,
    issuer: values['--issuer'] ?? env.DEPTHCAST_AUTH_ISSUER ?? '', audience: values['--audience'] ?? env.DEPTHCAST_AUTH_AUDIENCE ?? '',
    claim: values['--claim'] ?? env.DEPTHCAST_AUTH_ENTITLEMENTS_CLAIM ?? 'symbols',
  }, secret);
}

export interface MintRequest {
  sub: string;
  exp_s: number;
  iat_s: number;
  symbols: '*' | readonly string[];
  /** '' = no iss / aud claim. */
  issuer: string;
  audience: string;
  /** The entitlements claim. */
  claim: string;
}

/** An HS256 JWT (jose's SignJWT), as `depthcast token` prints and tests use. */
export function mint_hs256(req: MintRequest, secret: string): Promise<string> {
  const jwt = new SignJWT({ [req.claim]: req.symbols }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(req.sub).setIssuedAt(req.iat_s).setExpirationTime(req.exp_s);
  if (req.issuer !== '') jwt.setIssuer(req.issuer);
  if (req.audience !== '') jwt.setAudience(req.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
