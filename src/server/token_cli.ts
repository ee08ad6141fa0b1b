// `depthcast token`: mints an HS256 JWT with jose, for development and for
// feeds that share a secret with their token issuer (docs/OPERATIONS.md §4).
// Also what the tests mint HS256 tokens with.
import { SignJWT } from 'jose';
import { find_flag, scan_flags, type FlagSpec } from '../util/flags.js';
import { auth_secret_bytes_min } from './auth.js';
import { token_symbols_max } from './token_types.js';

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
