// An in-process reader of views: the levels of each listed symbol's view,
// every interval_ms, as values, never as frames (the Binance gateway,
// src/gateway/book_source.ts, builds its JSON from them). It is the interval
// machinery of a client's interval subscription without the wire: one
// Subscription per view, accumulating in the view's shared ChangeLog, and at
// each interval the same catch-up a client would be sent — the levels changed
// since its last one, valued now (ViewChannel.changed_levels), or the whole
// view when the log lost track (more than conflation_levels_max prices
// changed) or the view restarted (new epoch, recovery) — handed to a listener
// instead of being encoded. So nothing is encoded for it and nothing decoded
// by it.
//
// It owns its subscriptions as a Session owns a client's: it writes their
// mode, which is only ever waiting, accumulating or snapshot_pending (it never
// streams). Fanout starts them (start_sub: only while the book is live) and
// restarts them (defer_restart), as for any subscriber; the Status frames it
// would be queued are dropped: it reads the book's state at each interval.
// Nothing it reads counts as a frame out (no Snapshot at a start, no catch-up):
// nothing is encoded or sent for it.
//
// Cost per interval and view: O(levels changed since the last interval) to
// value them, nothing when none changed; memory O(1) per view (its
// Subscription) beside the view's shared log.

import type { Instrument } from '../book/types.js';
import { ViewLevels } from '../book/view_levels.js';
import { Subscription, type SubscriptionChannel, type SubscriptionOwner } from './subscription.js';

/** What a ViewReader hands over, per view. Levels are valid only during the call. */
export interface ViewLevelsListener {
  /** The view's whole book at (epoch, seq): the first read, a restart, or a catch-up past the change log's bound. */
  on_book(symbol: string, instrument: Instrument, epoch: number, seq: number, book: ViewLevels): void;
  /** The levels that changed in seq_first..seq, valued at seq (size 0: gone). */
  on_changes(symbol: string, epoch: number, seq_first: number, seq: number, changes: ViewLevels): void;
  /** The symbol's book went live, or stopped being live (recovering): nothing is read from it meanwhile. */
  on_live(symbol: string, live: boolean): void;
}

/** How a reader's subscriptions are started: Fanout.start_sub (only while the book is live). */
export type StartSubscription = (owner: SubscriptionOwner, sub: Subscription) => void;

export class ViewReader implements SubscriptionOwner {
  /** In-process readers' ids are negative: never a connection's. */
  private static next_id = -1;
  readonly id = ViewReader.next_id--;
  /** It never conflates: its catch-ups are taken, not sent. */
  readonly slow = false;
  private readonly subs: Subscription[] = [];
  private readonly live: boolean[] = [];
  private readonly book = new ViewLevels();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(readonly interval_ms: number, private readonly listener: ViewLevelsListener, private readonly start_sub: StartSubscription) {}

  /** Reads this view from now on (its book first, once the symbol is live). */
  add(channel: SubscriptionChannel): void {
    const sub = new Subscription(this, channel, this.interval_ms);
    channel.subscribers.add(sub);
    this.subs.push(sub);
    this.live.push(false);
    this.start_sub(this, sub);
    this.report_live(this.subs.length - 1);
    if (this.timer === null) {
      this.timer = setInterval(this.read, this.interval_ms);
      this.timer.unref(); // the feed's own stop does not know of readers: one never holds the process
    }
  }

  /** Stops reading: every subscription leaves its view. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const sub of this.subs) {
      sub.channel.leave(sub, sub.mode);
      sub.channel.subscribers.delete(sub);
      sub.mode = 'waiting';
    }
    this.subs.length = 0;
    this.live.length = 0;
  }

  // ---- what the fan-out asks of a subscriber's owner ----

  /** Status frames (the book's state changed): not read; the state is read at each interval. */
  queue(): void {}

  /** The view restarted: the next read is its whole book, in the new epoch. */
  defer_restart(sub: Subscription): boolean {
    if (sub.mode === 'waiting') return false;
    sub.clear();
    sub.mode = 'snapshot_pending';
    return true;
  }

  /** The book is live and the view current: its whole book now, then its changes at each interval. */
  start_view(sub: Subscription): void {
    if (sub.mode === 'waiting') sub.channel.enter(sub, 'accumulating');
    this.send_book(sub);
  }

  /** Never on a topic. */
  tick_published(): void {}
  /** Never on a topic, so never listed by a published tick (SubscriptionOwner asks for it). */
  published_tick_mark = 0;

  // ---- the interval ----

  private readonly read = (): void => {
    for (let i = 0; i < this.subs.length; i++) {
      const sub = this.subs[i];
      if (!this.report_live(i) || sub.mode === 'waiting') continue;
      if (sub.overflowed) {
        this.send_book(sub);
        continue;
      }
      const ch = sub.channel;
      if (ch.seq === sub.seq_sent) {
        sub.clear(); // trades only: the gateway shows none
        continue;
      }
      const seq_first = sub.seq_sent + 1;
      const changes = ch.changed_levels(ch.changed, sub.seq_sent);
      sub.mark_sent();
      sub.clear();
      this.listener.on_changes(ch.symbol_feed.symbol, ch.epoch, seq_first, ch.seq, changes);
    }
  };

  private send_book(sub: Subscription): void {
    const ch = sub.channel;
    sub.mark_sent();
    sub.clear();
    sub.mode = 'accumulating';
    ch.view.snapshot(this.book);
    this.listener.on_book(ch.symbol_feed.symbol, ch.symbol_feed.instrument, ch.epoch, ch.seq, this.book);
  }

  /** Tells the listener when the i-th view's book went live or stopped being live; true while it is. */
  private report_live(i: number): boolean {
    const f = this.subs[i].channel.symbol_feed;
    const live = f.state === 'live';
    if (live !== this.live[i]) {
      this.live[i] = live;
      this.listener.on_live(f.symbol, live);
    }
    return live;
  }
}
