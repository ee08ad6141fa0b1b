// Subject names, built once per prefix (never per message).
//   <prefix>.events.<SYMBOL>     EventBatch, engine → feeds
//   <prefix>.resend.<SYMBOL>     EventBatch sent again by the engine after its NATS connection came back
//                                (engine/resend_ring.ts); feeds take it like events, the stream does not
//   <prefix>.snapshot.<SYMBOL>   request: empty body; reply: EngineReply(BookSnapshot | EngineError)
//   <prefix>.instruments         request: empty; reply: EngineReply(InstrumentList)
//   <prefix>.book.<SYMBOL>       EngineReply(BookSnapshot), engine → stream only: the last-value
//                                snapshot of a book (one kept per subject, Nats-Rollup: sub)
//   <prefix>.replay              JSON ReplayStatus, replay → feeds, once a second while a recording plays
// The JetStream stream `stream_name` (prefix with '.' → '_') holds events.* and book.*.
export const subject_prefix_default = 'depthcast';

const subject_prefix_pattern = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Dot-separated tokens of [A-Za-z0-9_-]: a prefix that cannot add wildcards or empty tokens to a subject. */
export function is_valid_subject_prefix(prefix: string): boolean {
  return subject_prefix_pattern.test(prefix);
}

export class Subjects {
  readonly events_all: string;
  readonly snapshot_all: string;
  readonly instruments: string;
  readonly book_all: string;
  readonly replay: string;
  /** Name of the JetStream stream of this prefix (stream names cannot hold '.'). */
  readonly stream_name: string;
  private readonly events_by_symbol = new Map<string, string>();
  private readonly snapshot_by_symbol = new Map<string, string>();

  constructor(readonly prefix: string = subject_prefix_default) {
    if (!is_valid_subject_prefix(prefix)) {
      throw new Error(`invalid subject prefix '${prefix}': use letters, digits, '_', '-' and '.' between tokens`);
    }
    this.events_all = `${prefix}.events.*`;
    this.snapshot_all = `${prefix}.snapshot.*`;
    this.instruments = `${prefix}.instruments`;
    this.book_all = `${prefix}.book.*`;
    this.replay = `${prefix}.replay`;
    this.stream_name = prefix.replace(/\./g, '_');
  }

  /** Last-value subject of the symbol's book snapshots in the stream (not cached: used once a snapshot interval). */
  book(symbol: string): string {
    return `${this.prefix}.book.${symbol}`;
  }

  events(symbol: string): string {
    let s = this.events_by_symbol.get(symbol);
    if (s === undefined) {
      s = `${this.prefix}.events.${symbol}`;
      this.events_by_symbol.set(symbol, s);
    }
    return s;
  }

  /** Where the engine sends its last batches again after reconnecting (not cached: used once per symbol at start). */
  resend(symbol: string): string {
    return `${this.prefix}.resend.${symbol}`;
  }

  snapshot(symbol: string): string {
    let s = this.snapshot_by_symbol.get(symbol);
    if (s === undefined) {
      s = `${this.prefix}.snapshot.${symbol}`;
      this.snapshot_by_symbol.set(symbol, s);
    }
    return s;
  }

  /** The last token of an events/snapshot subject. */
  symbol_of(subject: string): string {
    return subject.slice(subject.lastIndexOf('.') + 1);
  }
}
