// What an access token is, without the library that checks it (jose, loaded
// only when access control is on: src/server/token_verifier.ts): its limits,
// the reasons a token is refused, and what a valid one grants.
import { token_bytes_max } from '../wire/feed_types.js';

/** Longest token accepted; longer ones are refused before any parsing or crypto. */
export const token_chars_max = token_bytes_max;
/** Most symbols one token may list. */
export const token_symbols_max = 4096;
/** Longest `sub` kept (logged only). */
export const token_sub_chars_max = 256;
/** Algorithms of keys from a JWKS; HS256 only ever with the shared secret (no algorithm confusion). */
export const jwks_algorithms: readonly string[] = ['RS256', 'ES256', 'EdDSA'];

/** Why a token was refused, as a bounded label set (Prometheus `reason`). */
export const refusal_kinds = [
  'missing', 'oversize', 'malformed', 'old_format', 'algorithm', 'signature', 'unknown_kid', 'keys_unavailable',
  'expired', 'not_yet_valid', 'issuer', 'audience', 'claims', 'entitlements',
] as const;
export type RefusalKind = (typeof refusal_kinds)[number];

export interface TokenGrant {
  /** Who the token was issued to (logged, and a refresh must keep it). */
  sub: string;
  /** Expiry, ms since 1970. */
  exp_ms: number;
  /** '*' or the symbols the holder may subscribe to. */
  symbols: '*' | readonly string[];
  entitled: (symbol: string) => boolean;
}

export type TokenCheck = { ok: true; grant: TokenGrant } | { ok: false; kind: RefusalKind; reason: string };

export interface TokenPolicy {
  /** HS256 shared secret; '' = none. */
  auth_secret: string;
  /** JWKS file path or http(s) URL; '' = none. */
  auth_jwks: string;
  /** Required `iss` ('' = not checked). */
  auth_issuer: string;
  /** Required `aud` ('' = not checked). */
  auth_audience: string;
  /** Clock difference tolerated on exp, nbf and iat. */
  auth_clock_skew_s: number;
  /** The claim that lists the symbols a token entitles to. */
  auth_entitlements_claim: string;
}

