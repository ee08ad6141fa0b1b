// The identity provider's signing keys (a JWKS, RFC 7517) for verifying
// RS256/ES256/EdDSA tokens: from a file, or from an http(s) URL. Loaded at
// start, refreshed every jwks_refresh_interval_ms, and refetched at once when
// a token names a `kid` we do not hold (a key rotated in), at most once per
// jwks_unknown_kid_refetch_interval_ms however many such tokens arrive: a
// flood of made-up kids costs one fetch per interval, not one per token.
// A failed refresh keeps the last good keys (tokens keep working while the
// provider is briefly down) and is counted (`fetches`, alert in ops/).
// Bounded: response bytes, key count, fetch time. Cost: one small fetch per
// interval; selecting a key is jose's createLocalJWKSet (a scan of ≤ keys_max).
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput, type CryptoKey } from 'jose';
import { logger_for } from '../util/log.js';

const log = logger_for('jwks');

export interface JwksLimits {
  /** Largest JWKS document accepted (bytes); a longer one fails the fetch. */
  jwks_bytes_max: number;
  /** Most keys one JWKS may hold. */
  jwks_keys_max: number;
  /** Longest a fetch may take before it fails. */
  jwks_fetch_timeout_ms: number;
  /** How often the keys are fetched again on schedule. */
  jwks_refresh_interval_ms: number;
  /** Shortest time between two fetches caused by unknown kids. */
  jwks_unknown_kid_refetch_interval_ms: number;
}

export type JwksFetchResult = 'ok' | 'error';

/** What was fetched and why, for the Prometheus counter (src/metrics/registry.ts). */
export interface JwksCounters {
  /** Fetches by result: ok, error. */
  fetches: Record<JwksFetchResult, number>;
  /** Keys held now. */
  keys: number;
  /** When the keys were last fetched successfully (ms since 1970; 0 = never). */
  last_ok_ms: number;
}

type KeyLookup = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

export class JwksSource {
  readonly counters: JwksCounters = { fetches: { ok: 0, error: 0 }, keys: 0, last_ok_ms: 0 };
  private lookup: KeyLookup | null = null;
  private kids = new Set<string>();
  private in_flight: Promise<void> | null = null;
  private last_unknown_kid_fetch_ms = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Why the last fetch failed ('' after a success). */
  last_error = '';

  constructor(readonly location: string, private readonly limits: JwksLimits) {}

  /** First fetch, then the schedule. Resolves after the first attempt, whatever its result. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => { void this.refresh(); }, this.limits.jwks_refresh_interval_ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  get loaded(): boolean {
    return this.lookup !== null;
  }

  has_kid(kid: string): boolean {
    return this.kids.has(kid);
  }

  /** The key for a token's header; throws jose's errors (no matching key, several, no keys yet). */
  key_for(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    if (this.lookup === null) throw new JwksUnavailable(this.last_error);
    return this.lookup(header, token);
  }

  /**
   * A token named a kid we do not hold: fetch again if the last such fetch is
   * old enough (else do nothing), sharing a fetch already under way.
   */
  async refetch_for_unknown_kid(now_ms: number): Promise<void> {
    if (this.in_flight !== null) return this.in_flight;
    if (now_ms - this.last_unknown_kid_fetch_ms < this.limits.jwks_unknown_kid_refetch_interval_ms) return;
    this.last_unknown_kid_fetch_ms = now_ms;
    return this.refresh();
  }

  /** One fetch (shared by concurrent callers). Never rejects. */
  refresh(): Promise<void> {
    this.in_flight ??= this.fetch_once().finally(() => { this.in_flight = null; });
    return this.in_flight;
  }

  private async fetch_once(): Promise<void> {
    try {
      const text = await this.read_document();
      const jwks = parse_jwks(text, this.limits.jwks_keys_max);
      this.lookup = createLocalJWKSet(jwks);
      this.kids = new Set(jwks.keys.map((k) => k.kid).filter((k): k is string => typeof k === 'string'));
      this.counters.fetches.ok++;
      this.counters.keys = jwks.keys.length;
      this.counters.last_ok_ms = Date.now();
      if (this.last_error !== '') log.info({ location: this.location, keys: jwks.keys.length }, 'signing keys fetched again');
      this.last_error = '';
    } catch (err) {
      this.counters.fetches.error++;
      this.last_error = (err as Error).message;
      log.error({ location: this.location, err: this.last_error, keys_kept: this.counters.keys }, 'cannot fetch the signing keys (JWKS); keeping the last good ones');
    }
  }

  private async read_document(): Promise<string> {
    const { jwks_bytes_max, jwks_fetch_timeout_ms } = this.limits;
    if (!/^https?:\/\//.test(this.location)) {
      const bytes = await readFile(this.location);
      if (bytes.byteLength > jwks_bytes_max) throw new Error(`JWKS file larger than ${jwks_bytes_max} bytes`);
      return bytes.toString('utf8');
    }
    const res = await fetch(this.location, { signal: AbortSignal.timeout(jwks_fetch_timeout_ms), redirect: 'error', headers: { accept: 'application/json' } });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`JWKS URL answered ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > jwks_bytes_max) {
      await res.body?.cancel();
      throw new Error(`JWKS larger than ${jwks_bytes_max} bytes (content-length ${declared})`);
    }
    // Read with a cap: a missing or lying content-length must not let a document grow without bound.
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = res.body?.getReader();
    for (;;) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      total += chunk.value.byteLength;
      if (total > jwks_bytes_max) {
        await reader?.cancel();
        throw new Error(`JWKS larger than ${jwks_bytes_max} bytes`);
      }
      chunks.push(chunk.value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

/** The keys have never been fetched: no token can be checked yet. */
export class JwksUnavailable extends Error {
  constructor(why: string) {
    super(`signing keys not available${why === '' ? '' : `: ${why}`}`);
    this.name = 'JwksUnavailable';
  }
}

/** A JWKS document, checked for shape and bounds (jose checks each key when it is used). */
export function parse_jwks(text: string, keys_max: number): JSONWebKeySet {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('JWKS is not JSON');
  }
  const keys = (raw as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('JWKS has no "keys" list');
  if (keys.length > keys_max) throw new Error(`JWKS holds ${keys.length} keys, more than ${keys_max}`);
  if (!keys.every((k) => typeof k === 'object' && k !== null && typeof (k as { kty?: unknown }).kty === 'string')) {
    throw new Error('JWKS has a key without "kty"');
  }
  return raw as JSONWebKeySet;
}
