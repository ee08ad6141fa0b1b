// A gap on one of a feed's two NATS paths (bus/nats_paths.ts), held briefly
// for the other path to bring the missing batches: the batches behind the gap
// wait in the symbol's recovery buffer and are applied, in seq order, as soon
// as the missing ones arrive. Only if they do not within path_hold_ms_max
// does SymbolFeed (which decides) fill the book from the stream, then reset.
// Clients see nothing of a hold but a frame that comes a little later.
// A gap seen on both paths at once is held too, as long as one is connected:
// the engine's own node was lost, and the engine sends the batches in flight
// on it again once it has reconnected (engine/resend_ring.ts).
//
// Cost: nothing while no gap is held; a held batch is copied once (the
// recovery buffer), and one timer runs per hold.
import type { SymbolFeedStats } from './counters.js';
import type { BatchOutcome, ResetReason } from './feed_types.js';

export interface PathHoldHooks {
  apply_batch(bytes: Uint8Array, ts_ingest_ns: number): BatchOutcome;
  /** Keep a live batch (the recovery buffer copies it). */
  hold(bytes: Uint8Array, ts_ingest_ns: number): void;
  /** Apply what is held that continues the book; 'gap' when something is still missing. */
  apply_held(): BatchOutcome;
  /** Continuity broke otherwise (new epoch, bad event): a reset. */
  broken(reason: ResetReason): void;
  /** The other path did not fill the gap in time. */
  expired(): void;
}

export class PathHold {
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly hold_ms_max: number,
    /** A two-path bus with a path connected (the other path, or the engine's resend, may bring what is missing). */
    private readonly fill_possible: () => boolean,
    private readonly stats: SymbolFeedStats,
    private readonly hooks: PathHoldHooks,
  ) {}

  get active(): boolean {
    return this.timer !== null;
  }

  /** `bytes` revealed a gap: held (true) when another path or the engine's resend may bring what is missing; false: fill now. */
  try_begin(bytes: Uint8Array, ts_ingest_ns: number): boolean {
    if (this.hold_ms_max <= 0 || !this.fill_possible()) return false;
    this.stats.path_holds++;
    this.hooks.hold(bytes, ts_ingest_ns);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.hooks.expired();
    }, this.hold_ms_max);
    return true;
  }

  /** A live batch while a gap is held. */
  on_message(bytes: Uint8Array, ts_ingest_ns: number): void {
    const outcome = this.hooks.apply_batch(bytes, ts_ingest_ns);
    if (outcome === 'skipped') return;
    if (outcome !== 'ok') {
      if (outcome !== 'gap') this.cancel_and(() => this.hooks.broken(outcome));
      this.hooks.hold(bytes, ts_ingest_ns);
      return;
    }
    // The missing batch came: apply what waited behind it; 'gap': more is missing, still held.
    const rest = this.hooks.apply_held();
    if (rest === 'gap' || rest === 'skipped') return;
    this.cancel();
    if (rest === 'ok') this.stats.path_hold_fills++;
    else this.hooks.broken(rest);
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private cancel_and(then: () => void): void {
    this.cancel();
    then();
  }
}
