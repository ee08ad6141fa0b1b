// Subject names, built once per prefix (never per message).
//   <prefix>.events.<SYMBOL>     EventBatch, engine → feeds
//   <prefix>.snapshot.<SYMBOL>   request: empty body; reply: EngineReply(BookSnapshot | EngineError)
//   <prefix>.instruments         request: empty; reply: EngineReply(InstrumentList)
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
  private readonly events_by_symbol = new Map<string, string>();
  private readonly snapshot_by_symbol = new Map<string, string>();

  constructor(readonly prefix: string = subject_prefix_default) {
    if (!is_valid_subject_prefix(prefix)) {
      throw new Error(`invalid subject prefix '${prefix}': use letters, digits, '_', '-' and '.' between tokens`);
    }
    this.events_all = `${prefix}.events.*`;
    this.snapshot_all = `${prefix}.snapshot.*`;
    this.instruments = `${prefix}.instruments`;
  }

  events(symbol: string): string {
    let s = this.events_by_symbol.get(symbol);
    if (s === undefined) {
      s = `${this.prefix}.events.${symbol}`;
      this.events_by_symbol.set(symbol, s);
    }
    return s;
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
