// The engine's book snapshots in the durable stream: every symbol's full L2
// book at an exact (epoch, seq), stored on its last-value subject at start,
// every --stream-snapshot-interval-ms and at stop. A feed that recovers takes
// the latest one and replays the batches stored after it, so the interval
// bounds its replay.
//
// Cost: one snapshot encode per symbol per interval (a few KB to tens of KB
// each) and one acknowledged JetStream publish; a round still in flight when
// the next is due is skipped rather than queued, so a slow or leaderless
// stream never builds a backlog inside the engine.
import type { EventStream, StreamLimits } from '../bus/event_stream.js';
import type { L2Snapshot } from '../book/types.js';
import { logger_for } from '../util/log.js';
import { encode_snapshot_reply } from '../wire/engine_codec.js';

const log = logger_for('engine.stream');

/** Creating the stream on a cluster that is still electing its metadata leader: tries, a pause apart. */
const open_attempts_max = 20;
const open_retry_pause_ms = 500;

export interface StreamSnapshotStats {
  stored: number;
  failures: number;
  skipped_busy: number;
}

export class StreamSnapshots {
  readonly stats: StreamSnapshotStats = { stored: 0, failures: 0, skipped_busy: 0 };
  private in_flight: Promise<void> | undefined;

  /** `take` flushes the symbol's staged events, then returns its book: every event up to the snapshot's seq is published before it. */
  constructor(private readonly stream: EventStream, private readonly symbols: readonly string[],
    private readonly take: (symbol: string) => L2Snapshot) {}

  /** Creates or updates the stream; false (logged) when there is none to be had (no JetStream on the server). */
  static async open(stream: EventStream, limits: Readonly<StreamLimits>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await stream.ensure(limits);
        return true;
      } catch (err) {
        const message = (err as Error).message;
        // No responders: the server has no JetStream at all. Anything else (a cluster still electing its
        // metadata leader, a timeout) is worth a few more tries.
        if (/no responders|not enabled|503/i.test(message) || attempt >= open_attempts_max) {
          log.warn({ stream: stream.name, attempts: attempt, err: message },
            'no JetStream stream (is the server started with -js?); feeds will recover from the engine alone');
          return false;
        }
        await new Promise((r) => setTimeout(r, open_retry_pause_ms));
      }
    }
  }

  /**
   * At stop: after any round in flight, the final books, tried until stored
   * or `wait_ms` passed (a cluster may be electing a stream leader): a feed
   * started while the engine is down replays nothing after them.
   */
  async last_round(wait_ms: number): Promise<boolean> {
    const deadline = Date.now() + wait_ms;
    await this.in_flight;
    for (;;) {
      const failures = this.stats.failures;
      await this.round();
      if (this.stats.failures === failures) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, open_retry_pause_ms));
    }
  }

  /** Stores one snapshot of every symbol, unless the previous round is still going. */
  round(): Promise<void> {
    if (this.in_flight !== undefined) {
      this.stats.skipped_busy++;
      return this.in_flight;
    }
    // Taken synchronously, all at one instant of the engine; stored in the background.
    const taken = this.symbols.map((symbol) => ({ symbol, bytes: encode_snapshot_reply(this.take(symbol)) }));
    this.in_flight = Promise.all(taken.map(({ symbol, bytes }) => this.stream.put_snapshot(symbol, bytes).then(
      () => { this.stats.stored++; },
      (err: unknown) => {
        this.stats.failures++;
        if (this.stats.failures === 1 || this.stats.failures % 100 === 0) {
          log.warn({ symbol, failures: this.stats.failures, err: (err as Error).message }, 'storing a book snapshot in the stream failed; the next round retries');
        }
      },
    ))).then(() => { this.in_flight = undefined; });
    return this.in_flight;
  }
}
