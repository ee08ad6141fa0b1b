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
    try {
      await stream.ensure(limits);
      return true;
    } catch (err) {
      log.warn({ stream: stream.name, err: (err as Error).message },
        'no JetStream stream (is the server started with -js?); feeds will recover from the engine alone');
      return false;
    }
  }

  /** At stop: after any round in flight, one more with the final books. */
  async last_round(): Promise<void> {
    await this.in_flight;
    await this.round();
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
