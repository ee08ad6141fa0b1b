// Which prices of one view changed, and at which seq they last changed: the
// memory behind conflation, SHARED by every subscriber of the view that is
// accumulating (slow connections, interval subscriptions). Each of them only
// remembers the seq it was last sent; its catch-up lists the prices changed
// after that seq. So a slow client costs O(1) here, and the view O(levels
// changed), whatever the number of slow clients, the time or the updates.
//
// It keeps at most `levels_max` distinct prices: past that the oldest change
// is dropped and `horizon_seq` moves up to its seq. A reader positioned
// before the horizon has missed more than `levels_max` changed prices, which
// is exactly when its catch-up must be a Snapshot instead.
//
// Layout: an append-only log ordered by seq (parallel arrays) plus, per side,
// price → position of that price's live entry. A price that changes again is
// appended anew and its old entry marked dead; the log is compacted when
// dead entries outnumber live ones. Readers find their start by binary search,
// so a catch-up costs O(changes since the reader's seq), not O(log).

import { side_ask, type Side } from '../book/types.js';

const flag_ask = 1;
const flag_dead = 2;

export class ChangeLog {
  /** A reader at a seq below this has lost changes (more than levels_max prices changed since). */
  horizon_seq = 0;
  private prices: number[] = [];
  private seqs: number[] = [];
  private flags: number[] = [];
  /** First position still in the log. */
  private start = 0;
  private live_count = 0;
  private readonly position: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];

  constructor(readonly levels_max: number) {}

  /** Distinct prices held (never above levels_max). */
  get live(): number {
    return this.live_count;
  }

  /** Entries in the arrays, dead ones included (at most about twice live, plus what is below start). */
  get entries(): number {
    return this.prices.length - this.start;
  }

  /** The price changed at seq (seqs are recorded in non-decreasing order). */
  record(side: Side, price: number, seq: number): void {
    const index = this.position[side];
    const old = index.get(price);
    if (old !== undefined) {
      this.flags[old] |= flag_dead;
      this.live_count--;
    }
    index.set(price, this.prices.length);
    this.prices.push(price);
    this.seqs.push(seq);
    this.flags.push(side === side_ask ? flag_ask : 0);
    this.live_count++;
    while (this.live_count > this.levels_max) this.drop_first(true);
    this.maybe_compact();
  }

  /** Changes at or below seq are needed by no reader: forget them (the horizon stays). */
  drop_through(seq: number): void {
    while (this.start < this.prices.length && this.seqs[this.start] <= seq) this.drop_first(false);
    this.maybe_compact();
  }

  /** Forget everything; readers below `seq` must start over. */
  clear(seq: number): void {
    this.prices.length = 0;
    this.seqs.length = 0;
    this.flags.length = 0;
    this.start = 0;
    this.live_count = 0;
    this.position[0].clear();
    this.position[1].clear();
    this.horizon_seq = seq;
  }

  /** True when every price changed after seq is in the log. */
  complete_since(seq: number): boolean {
    return seq >= this.horizon_seq;
  }

  /** Visits each price changed after seq, once, with its side (resumes; a catch-up walks cursor() instead). */
  changed_since(seq: number, visit: (side: Side, price: number) => void): void {
    for (let i = this.first_after(seq); i < this.prices.length; i++) {
      const f = this.flags[i];
      if ((f & flag_dead) === 0) visit((f & flag_ask) as Side, this.prices[i]);
    }
  }

  /**
   * Each price changed after seq, once, with its side: positions
   * cursor(seq) .. end, of which those with live_at(i) hold one (no callback,
   * so a catch-up makes no closure).
   */
  cursor(seq: number): number {
    return this.first_after(seq);
  }

  get end(): number {
    return this.prices.length;
  }

  live_at(i: number): boolean {
    return (this.flags[i] & flag_dead) === 0;
  }

  side_at(i: number): Side {
    return (this.flags[i] & flag_ask) as Side;
  }

  price_at(i: number): number {
    return this.prices[i];
  }

  /** How many distinct prices changed after seq (as far as the log knows). */
  count_since(seq: number): number {
    let n = 0;
    for (let i = this.first_after(seq); i < this.prices.length; i++) if ((this.flags[i] & flag_dead) === 0) n++;
    return n;
  }

  /** First position whose seq is above `seq` (binary search; the log is ordered by seq). */
  private first_after(seq: number): number {
    let lo = this.start;
    let hi = this.prices.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid] <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private drop_first(raise_horizon: boolean): void {
    const i = this.start++;
    const f = this.flags[i];
    if ((f & flag_dead) !== 0) return;
    this.position[f & flag_ask].delete(this.prices[i]);
    this.live_count--;
    if (raise_horizon && this.seqs[i] > this.horizon_seq) this.horizon_seq = this.seqs[i];
  }

  /** Rebuilds the arrays from the live entries once dead or dropped ones are the majority: amortized O(1) per record. */
  private maybe_compact(): void {
    const total = this.prices.length;
    if (total < 64 || (total - this.start <= 2 * this.live_count && this.start < total / 2)) return;
    let w = 0;
    for (let r = this.start; r < total; r++) {
      const f = this.flags[r];
      if ((f & flag_dead) !== 0) continue;
      const price = this.prices[r];
      this.prices[w] = price;
      this.seqs[w] = this.seqs[r];
      this.flags[w] = f;
      this.position[f & flag_ask].set(price, w);
      w++;
    }
    this.prices.length = w;
    this.seqs.length = w;
    this.flags.length = w;
    this.start = 0;
  }
}
