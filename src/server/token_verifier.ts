// Access tokens are JWTs (RFC 7519), verified with jose: HS256 with the
// shared secret (--auth-secret), or RS256/ES256/EdDSA with the identity
// provider's keys (--auth-jwks, src/server/jwks.ts). Standard claims: exp
// (required), nbf and iat with a clock skew, iss and aud required when
// configured. Entitlements come from one claim (default `symbols`): "*" or a
// list of symbols. Every failure is a short reason the client can read (it
// goes into a close frame, ≤ 123 bytes) and a kind for the refusal counter.
// Cost: one signature check per connection (HS256 ~5 µs, RS256 ~50 µs,
// ES256/EdDSA ~100 µs on this machine); nothing is kept for a refused token.
// The home-made `payload.signature` format of 0.1 is refused with a reason
// that says to mint a JWT (docs/OPERATIONS.md §4).
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { JwksSource, JwksUnavailable } from './jwks.js';
import {
  jwks_algorithms, token_chars_max, token_sub_chars_max, token_symbols_max, type RefusalKind, type TokenCheck, type TokenPolicy,
} from './token_types.js';

export { token_chars_max } from './token_types.js';
export type { TokenPolicy } from './token_types.js';

const refuse = (kind: RefusalKind, reason: string): TokenCheck => ({ ok: false, kind, reason });
const jwt_shape_re = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const old_format_re = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export class TokenVerifier {
  private readonly secret: Uint8Array | null;
  private readonly get_key: JWTVerifyGetKey;

  constructor(private readonly policy: TokenPolicy, readonly jwks: JwksSource | null) {
    this.secret = policy.auth_secret === '' ? null : new TextEncoder().encode(policy.auth_secret);
    this.get_key = (header, token) => {
      if (header.alg === 'HS256') {
        if (this.secret === null) throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
        return this.secret;
      }
      if (this.jwks === null) throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
      return this.jwks.key_for(header, token);
    };
  }

  get algorithms(): string[] {
    return [...(this.secret !== null ? ['HS256'] : []), ...(this.jwks !== null ? jwks_algorithms : [])];
  }

  /** Checks a token completely. Never rejects: every failure is a kind and a reason. */
  async verify(token: string, now_ms: number): Promise<TokenCheck> {
    if (token.length === 0) return refuse('missing', 'token required');
    if (token.length > token_chars_max) return refuse('oversize', `token longer than ${token_chars_max} characters`);
    if (old_format_re.test(token)) return refuse('old_format', 'old token format no longer accepted: mint a JWT (depthcast token)');
    if (!jwt_shape_re.test(token)) return refuse('malformed', 'malformed token: not a JWT (header.payload.signature)');
    let first = await this.verify_once(token, now_ms);
    // A key rotated in since the last fetch: fetch again (rate-limited) and try once more.
    if (!first.ok && first.kind === 'unknown_kid' && this.jwks !== null) {
      await this.jwks.refetch_for_unknown_kid(now_ms);
      first = await this.verify_once(token, now_ms);
    }
    return first;
  }

  private async verify_once(token: string, now_ms: number): Promise<TokenCheck> {
    const { policy } = this;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.get_key, {
        algorithms: this.algorithms,
        issuer: policy.auth_issuer === '' ? undefined : policy.auth_issuer,
        audience: policy.auth_audience === '' ? undefined : policy.auth_audience,
        clockTolerance: policy.auth_clock_skew_s,
        requiredClaims: ['exp'],
        currentDate: new Date(now_ms),
      }));
    } catch (err) {
      return refusal_of(err);
    }
    if (typeof payload.iat === 'number' && payload.iat * 1000 > now_ms + policy.auth_clock_skew_s * 1000) {
      return refuse('not_yet_valid', 'token issued in the future (iat)');
    }
    const sub = payload.sub ?? '';
    if (sub.length > token_sub_chars_max) return refuse('claims', `sub longer than ${token_sub_chars_max} characters`);
    const symbols = entitlements_of(payload[policy.auth_entitlements_claim]);
    if (symbols === undefined) {
      return refuse('entitlements', `claim '${policy.auth_entitlements_claim}' must be "*" or a list of ≤ ${token_symbols_max} symbols`.slice(0, 120));
    }
    const entitled = symbols === '*' ? entitled_all : set_membership(new Set(symbols));
    return { ok: true, grant: { sub, exp_ms: (payload.exp as number) * 1000, symbols, entitled } };
  }
}

function entitled_all(): boolean {
  return true;
}

function set_membership(set: ReadonlySet<string>): (symbol: string) => boolean {
  return (symbol) => set.has(symbol);
}

function entitlements_of(claim: unknown): '*' | string[] | undefined {
  if (claim === '*') return '*';
  if (!Array.isArray(claim) || claim.length > token_symbols_max || !claim.every((s) => typeof s === 'string')) return undefined;
  return claim as string[];
}

function refusal_of(err: unknown): TokenCheck {
  if (err instanceof JwksUnavailable) return refuse('keys_unavailable', 'signing keys not available yet: try again');
  if (err instanceof errors.JWTExpired) return refuse('expired', 'token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return refuse('not_yet_valid', 'token not yet valid (nbf)');
    if (err.claim === 'iss') return refuse('issuer', err.reason === 'missing' ? 'token has no iss' : 'wrong token issuer (iss)');
    if (err.claim === 'aud') return refuse('audience', err.reason === 'missing' ? 'token has no aud' : 'wrong token audience (aud)');
    if (err.claim === 'exp') return refuse('claims', 'token has no exp');
    return refuse('claims', `token claim '${err.claim.slice(0, 32)}' invalid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return refuse('algorithm', 'token algorithm not allowed');
  if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('signature', 'bad token signature');
  if (err instanceof errors.JWKSNoMatchingKey) return refuse('unknown_kid', 'no signing key matches the token (kid)');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return refuse('unknown_kid', 'several signing keys match the token: give it a kid');
  if (err instanceof errors.JOSEError) return refuse('malformed', `malformed token (${err.code})`);
  return refuse('malformed', 'malformed token');
}
