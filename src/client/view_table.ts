// The client's subscribed views, by symbol, and how a set of them is asked for
// in as few Subscribe messages as the protocol allows.
//
// Cost: find() is one map lookup plus a scan of the symbol's views (one per
// depth, so at most a handful), with no closure and no allocation: the client
// runs it per received frame. The view found last is tried first (a client's
// frames mostly come for one view in a row; symbols are interned by the
// DeltaReader, so the comparison is by pointer). add/remove are O(views of the symbol).
//
// Invariants: at most one view per (symbol, depth, group); a symbol with no views has
// no entry; removing a view the table does not hold changes nothing.
import type { ResumePoint, SubscribeMsg } from '../wire/feed_types.js';
import { symbols_per_message_max } from '../wire/feed_types.js';
import type { ViewSlot } from './book_handle.js';

export class ViewTable {
  private readonly by_symbol = new Map<string, ViewSlot[]>();
  /** What find() returned last; null after a remove or clear (it may be gone). */
  private last: ViewSlot | null = null;

  find(symbol: string, depth: number, group = 1): ViewSlot | undefined {
    const last = this.last;
    if (last !== null && last.symbol === symbol && last.depth === depth && last.group === group) return last;
    const list = this.by_symbol.get(symbol);
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      const view = list[i];
      if (view.depth === depth && view.group === group) return (this.last = view);
    }
    return undefined;
  }

  /** The views of one symbol (every depth); undefined when there are none. */
  of_symbol(symbol: string): readonly ViewSlot[] | undefined {
    return this.by_symbol.get(symbol);
  }

  /** The caller checked find() first: a second view of a (symbol, depth) is a bug. */
  add(view: ViewSlot): void {
    const list = this.by_symbol.get(view.symbol);
    if (list) list.push(view);
    else this.by_symbol.set(view.symbol, [view]);
  }

  /** False if the view was not in the table. */
  remove(view: ViewSlot): boolean {
    const list = this.by_symbol.get(view.symbol);
    const i = list ? list.indexOf(view) : -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    this.last = null;
    if (list.length === 0) this.by_symbol.delete(view.symbol);
    return true;
  }

  /** Lists per symbol, for loops that must not allocate (the watchdog's). */
  lists(): IterableIterator<ViewSlot[]> {
    return this.by_symbol.values();
  }

  for_each(fn: (view: ViewSlot) => void): void {
    for (const list of this.by_symbol.values()) for (const view of list) fn(view);
  }

  clear(): void {
    this.by_symbol.clear();
    this.last = null;
  }
}

/** The (epoch, seq) a view holds verified, to offer on a resubscribe (docs/PROTOCOL.md §5.8); null if it holds none. */
export function resume_point(view: ViewSlot): ResumePoint | null {
  return view.book.has_snapshot ? { epoch: view.book.epoch, seq: view.book.seq } : null;
}

/**
 * One Subscribe per (depth, interval) group rather than one per view: after a
 * reconnect or a wave of timeouts, hundreds of views must not trip the
 * server's inbound message rate limit. Each view that holds a verified book
 * offers its (epoch, seq), so the feed can continue it without a Snapshot.
 */
export function subscribe_messages(views: readonly ViewSlot[]): SubscribeMsg[] {
  const groups = new Map<string, { depth: number; interval_ms: number; price_group: number; symbols: string[]; resume: (ResumePoint | null)[] }>();
  for (const view of views) {
    const key = `${view.depth}/${view.interval_ms}/${view.group}`;
    const point = resume_point(view);
    const group = groups.get(key);
    if (group) {
      group.symbols.push(view.symbol);
      group.resume.push(point);
    } else {
      groups.set(key, { depth: view.depth, interval_ms: view.interval_ms, price_group: view.group, symbols: [view.symbol], resume: [point] });
    }
  }
  const out: SubscribeMsg[] = [];
  for (const g of groups.values()) {
    for (let i = 0; i < g.symbols.length; i += symbols_per_message_max) {
      const msg: SubscribeMsg = { type: 'subscribe', symbols: g.symbols.slice(i, i + symbols_per_message_max), depth: g.depth, interval_ms: g.interval_ms };
      const resume = g.resume.slice(i, i + symbols_per_message_max);
      if (resume.some((p) => p !== null)) msg.resume = resume;
      if (g.price_group > 1) msg.group = g.price_group;
      out.push(msg);
    }
  }
  return out;
}
