// The client's access token (option `token`): a string, used as it is, or a
// function returning a promise of one, like centrifuge-js's getToken, called
// for the first connection, again before the token expires (the new one goes
// to the server in a Refresh frame: no reconnect, docs/PROTOCOL.md §5.9), and
// again after the server closed with 4003 (the client then reconnects with it
// and resumes its views, §5.8). The token travels as the subprotocol
// `token.<TOKEN>`, never in the URL.
//
// Refresh timing: at exp − lead × (1 + jitter), jitter uniform in [0, 0.5), so
// that many clients given tokens at the same moment do not all refresh at
// once; lead is refresh_lead_ms, or half the remaining lifetime if that is
// shorter. A failing function is retried with capped exponential backoff
// (full jitter) until it succeeds or the token expires. `exp` is read from the
// JWT's payload (not verified: the server does that), then from each
// Refreshed. Cost: one timer per client; nothing per frame.
import type { RandomSource } from '../util/random.js';
import { Backoff } from './backoff.js';

export type TokenOption = string | (() => Promise<string>);

/** Consecutive 4003 closes, each after a fresh token, before the client gives up. */
export const token_refusals_max = 3;
/** Subprotocol prefix that carries the token (src/server/auth.ts reads it). */
export const token_protocol_prefix = 'token.';

export interface TokenKeeperHooks {
  /** Send a Refresh with this token on the open connection, if any (false when none is open). */
  send_refresh(token: string): boolean;
  /** The function failed or returned something unusable. */
  failed(message: string): void;
}

export class TokenKeeper {
  private token = '';
  private exp_ms = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private refusals = 0;
  private stopped = false;
  private readonly retry: Backoff;

  constructor(private readonly source: TokenOption, private readonly refresh_lead_ms: number, private readonly random: RandomSource,
    private readonly hooks: TokenKeeperHooks, retry_initial_ms: number, retry_max_ms: number) {
    this.retry = new Backoff(retry_initial_ms, retry_max_ms, random);
    if (typeof source === 'string') this.token = source;
  }

  /** The function form: tokens can be renewed (a 4003 is then not final). */
  get renewable(): boolean {
    return typeof this.source === 'function';
  }

  /** A token is at hand for the next connection. */
  get ready(): boolean {
    return this.token !== '';
  }

  /** The subprotocols to offer: the user's (default `depthcast`), then the token's. */
  protocols(user: string | string[] | undefined): string[] {
    const base = user === undefined ? ['depthcast'] : typeof user === 'string' ? [user] : [...user];
    return this.token === '' ? base : [...base, `${token_protocol_prefix}${this.token}`];
  }

  /** Gets a token from the function (for a first or a renewed connection). Rejects with the function's error. */
  async fetch(): Promise<void> {
    if (typeof this.source === 'string') return;
    const token = await this.source();
    if (typeof token !== 'string' || token.length === 0) throw new Error('token function returned no token');
    this.adopt(token, exp_of(token));
  }

  /**
   * The server closed with 4003: forget the token so the next connection gets a new one.
   * False when that is pointless (a fixed string, or refused too many times in a row).
   */
  on_refused(): boolean {
    if (!this.renewable || ++this.refusals > token_refusals_max) return false;
    this.token = '';
    this.cancel();
    return true;
  }

  /** The server answered a Refresh (or a connection proved good): the count of refusals starts over. */
  on_refreshed(expires_at_ms: number): void {
    this.refusals = 0;
    this.retry.reset();
    this.exp_ms = expires_at_ms;
    this.schedule();
  }

  /** The server said the connection is good (frames flow): refusals start over. */
  on_accepted(): void {
    this.refusals = 0;
  }

  /** The server refused the refresh (Error 14): try again later, while the current token lasts. */
  on_refresh_refused(reason: string): void {
    this.hooks.failed(`token refresh refused: ${reason}`);
    this.retry_later();
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private adopt(token: string, exp_ms: number): void {
    this.token = token;
    this.exp_ms = exp_ms;
    this.retry.reset();
    this.schedule();
  }

  private schedule(): void {
    this.cancel();
    if (this.stopped || !this.renewable || this.exp_ms === 0) return;
    const remaining_ms = this.exp_ms - Date.now();
    const lead_ms = Math.min(this.refresh_lead_ms, remaining_ms / 2) * (1 + 0.5 * this.random());
    this.arm(Math.max(0, remaining_ms - lead_ms));
  }

  private arm(delay_ms: number): void {
    this.cancel();
    if (this.stopped) return;
    this.timer = setTimeout(() => { this.timer = null; void this.refresh_now(); }, delay_ms);
  }

  private async refresh_now(): Promise<void> {
    let token: string;
    try {
      if (typeof this.source === 'string') return;
      token = await this.source();
      if (typeof token !== 'string' || token.length === 0) throw new Error('token function returned no token');
    } catch (err) {
      if (this.stopped) return;
      this.hooks.failed(`token function failed: ${(err as Error)?.message ?? String(err)}`);
      this.retry_later();
      return;
    }
    if (this.stopped) return;
    this.token = token;
    // The server's Refreshed reschedules; without an open connection the next one simply uses this token.
    if (!this.hooks.send_refresh(token)) this.adopt(token, exp_of(token));
  }

  /** Backoff, but never past the token's expiry (the server's 4003 and a renewal take over then). */
  private retry_later(): void {
    const delay_ms = this.retry.next_delay_ms();
    if (this.exp_ms !== 0 && Date.now() + delay_ms >= this.exp_ms) return;
    this.arm(delay_ms);
  }

  private cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** `exp` of a JWT in ms (its payload read, not verified); 0 when there is none to read. */
export function exp_of(token: string): number {
  const payload = token.split('.')[1];
  if (payload === undefined) return 0;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : 0;
  } catch {
    return 0;
  }
}
