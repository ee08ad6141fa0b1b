// One subscribed view (symbol, depth) as the client keeps it, and the handle
// users hold. The verified content is a ClientBook (src/client/book.ts), held
// by composition: the handle exposes the book's read API and the view's state
// and events, and nothing a user could use to change them.
//
//   ViewSlot    the client's record of a view (internal; not exported from
//               src/client/index.ts): the ClientBook, the state, what the view
//               waits for (awaiting_since_ns, confirmed), its event emitter
//   BookHandle  the read-only face of a slot, the object subscribe() returns and
//               every event carries
//
// Cost: one slot, one handle, one ClientBook and one UpdateInfo per view,
// allocated at subscribe; the handle's getters forward without allocating.
//
// Invariants: a slot's handle is created with it and never changes; state
// changes go through ViewSlot.set_state, which emits 'state' once per change;
// awaiting_since_ns != 0 exactly while the view waits for a snapshot.
import type { L2Level, Side } from '../book/types.js';
import type { SymbolStateName, TradeAggregateRec, TradeIdRange, TradeRec } from '../wire/feed_types.js';
import { ClientBook, type InstrumentInfo } from './book.js';
import { Emitter } from './emitter.js';

export type ViewState = 'connecting' | 'synced' | 'stale' | 'resyncing' | 'closed';

/** What an update was; one object per book, rewritten per frame: copy what you keep. */
export interface UpdateInfo {
  kind: 'snapshot' | 'delta';
  seq_first: number;
  seq: number;
  conflated: boolean;
  updates_merged: number;
  trades: number;
  /** Receive time minus engine time of the newest event covered (NaN when not stamped). */
  engine_to_receive_ns: number;
  receive_ns: number;
}

export type BookEvents = {
  update: (info: UpdateInfo) => void;
  trade: (trade: TradeRec) => void;
  trade_aggregate: (aggregate: TradeAggregateRec) => void;
  /** Trade ids the feed never had (a rebuild within the epoch, docs/PROTOCOL.md §5.5): never coming, neither as trades nor folded. */
  trades_missing: (range: TradeIdRange) => void;
  state: (state: ViewState, previous: ViewState) => void;
};

/** The client's record of one view. Internal to src/client. */
export class ViewSlot {
  readonly book: ClientBook;
  readonly handle: BookHandle;
  readonly events: Emitter<BookEvents>;
  readonly info: UpdateInfo = {
    kind: 'snapshot', seq_first: 0, seq: 0, conflated: false, updates_merged: 0, trades: 0, engine_to_receive_ns: Number.NaN, receive_ns: 0,
  };
  state: ViewState = 'connecting';
  /** The feed's own state of the symbol (from Status frames). */
  feed_state: SymbolStateName = 'unknown';
  /** The feed hears nothing from the engine: the book is exact but not moving (Status engine_silent). */
  engine_silent = false;
  /** Receive time (ns) of the last frame applied. */
  last_receive_ns = 0;
  /** When the snapshot this view waits for was asked (ns); 0 = not waiting. */
  awaiting_since_ns = 0;
  /** A snapshot arrived on the current socket (the server knows this view). */
  confirmed = false;

  constructor(readonly symbol: string, readonly depth: number, readonly interval_ms: number, on_listener_error: (err: unknown, event: string) => void,
    readonly group = 1) {
    this.book = new ClientBook(symbol, depth);
    this.events = new Emitter<BookEvents>(on_listener_error);
    this.handle = new BookHandle(this);
  }

  /** Returns the previous state; emits 'state' only on a change. */
  set_state(next: ViewState): ViewState {
    const previous = this.state;
    if (previous === next) return previous;
    this.state = next;
    this.events.emit('state', next, previous);
    return previous;
  }
}

/** One subscribed view (symbol, depth): the verified book plus its state and events. */
export class BookHandle {
  readonly #slot: ViewSlot;
  readonly #book: ClientBook;

  /** @internal Made by the client at subscribe; users do not construct handles. */
  constructor(slot: ViewSlot) {
    this.#slot = slot;
    this.#book = slot.book;
  }

  get symbol(): string { return this.#slot.symbol; }
  get depth(): number { return this.#slot.depth; }
  /** Price bucket in ticks (1 = ungrouped): the book's levels are buckets (docs/PROTOCOL.md §3). */
  get group(): number { return this.#slot.group; }
  get interval_ms(): number { return this.#slot.interval_ms; }
  get state(): ViewState { return this.#slot.state; }
  /** The feed's own state of the symbol (from Status frames). */
  get feed_state(): SymbolStateName { return this.#slot.feed_state; }
  /** The feed hears nothing from the engine: show the book as stale though it is exact (docs/PROTOCOL.md, Status). */
  get engine_silent(): boolean { return this.#slot.engine_silent; }
  /** Receive time (ns) of the last frame applied. */
  get last_receive_ns(): number { return this.#slot.last_receive_ns; }
  /** The last update; one object, rewritten per frame. */
  get info(): UpdateInfo { return this.#slot.info; }

  // ---- the verified book (ClientBook's read API) ----

  /** True once a snapshot was loaded and every frame since verified. */
  get has_snapshot(): boolean { return this.#book.has_snapshot; }
  get epoch(): number { return this.#book.epoch; }
  get seq(): number { return this.#book.seq; }
  /** Digest of the content as the client computed it (uint32). */
  get digest(): number { return this.#book.digest; }
  /** Increments on every content change; lets readers cache derived data. */
  get version(): number { return this.#book.version; }
  get instrument(): InstrumentInfo { return this.#book.instrument; }
  /** Removals (size 0) of levels this book did not hold; harmless, counted. */
  get unknown_level_removals(): number { return this.#book.unknown_level_removals; }
  /** Why the last failed check failed. */
  get last_problem(): string { return this.#book.last_problem; }
  /** Bids, best (highest) first. A new array per version; do not mutate. */
  get bids(): readonly L2Level[] { return this.#book.bids; }
  /** Asks, best (lowest) first. A new array per version; do not mutate. */
  get asks(): readonly L2Level[] { return this.#book.asks; }
  level_count(side: Side): number { return this.#book.level_count(side); }
  /** Level at rank (0 = best) written into out, or null past the end. No allocation. */
  level_at(side: Side, rank: number, out: L2Level): L2Level | null { return this.#book.level_at(side, rank, out); }
  best_bid_price(): number | undefined { return this.#book.best_bid_price(); }
  best_ask_price(): number | undefined { return this.#book.best_ask_price(); }
  best_bid(): L2Level | undefined { return this.#book.best_bid(); }
  best_ask(): L2Level | undefined { return this.#book.best_ask(); }
  mid(): number | undefined { return this.#book.mid(); }
  spread(): number | undefined { return this.#book.spread(); }
  format_price(ticks: number): string { return this.#book.format_price(ticks); }
  format_size(lots: number): string { return this.#book.format_size(lots); }
  is_crossed(): boolean { return this.#book.is_crossed(); }
  digest_from_scratch(): number { return this.#book.digest_from_scratch(); }

  // ---- events ----

  on<E extends keyof BookEvents>(event: E, listener: BookEvents[E]): this {
    this.#slot.events.on(event, listener);
    return this;
  }

  once<E extends keyof BookEvents>(event: E, listener: BookEvents[E]): this {
    this.#slot.events.once(event, listener);
    return this;
  }

  off<E extends keyof BookEvents>(event: E, listener: BookEvents[E]): this {
    this.#slot.events.off(event, listener);
    return this;
  }
}
