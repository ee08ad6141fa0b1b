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
import { close_code } from '../wire/codes.js';
import type { Config } from '../config.js';
import type { TokenVerifier } from './token_verifier.js';
import { refusal_kinds, type RefusalKind, type TokenGrant } from './token_types.js';

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
  /** Refresh frames (PROTOCOL §5.9) by result: ok, refused. */
  refreshes_total: { ok: number; refused: number };
}

/**
 * The gatekeeper the configuration asks for: a token verifier when --auth-secret or --auth-jwks is set.
 * jose is loaded only then (~70 ms and ~10 MB of a start-up without access control).
 */
export async function admission_from_config(config: Readonly<Config>): Promise<Gatekeeper> {
  if (config.auth_secret === '' && config.auth_jwks === '') return new Gatekeeper(config, null);
  const [{ JwksSource }, { TokenVerifier }] = await Promise.all([import('./jwks.js'), import('./token_verifier.js')]);
  const jwks = config.auth_jwks === '' ? null : new JwksSource(config.auth_jwks, config);
  return new Gatekeeper(config, new TokenVerifier(config, jwks));
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
