// Test code: a fault-injecting Bus for tests and benches, beside the real ones
// (src/bus holds only production buses).
import type { Bus, BusHandler, BusResponder, BusStatus, BusSubscription } from '../../src/bus/bus.js';
import type { EventStream } from '../../src/bus/event_stream.js';
import type { Subjects } from '../../src/bus/subjects.js';
import { event_execute, new_book_event } from '../../src/book/types.js';
import { EventBatchReader } from '../../src/wire/engine_codec.js';

export type FaultDecision = 'deliver' | 'drop' | 'duplicate';

/**
 * Wraps a real bus and injects faults deterministically on the receiving side:
 * a test decides per (subject, message index) whether a message is delivered,
 * dropped or duplicated. Used beside the real bus, never instead of it.
 * Other fault buses extend it and override what they disturb (publish, ...).
 */
export class FaultBus implements Bus {
  private received = 0;
  decide: (subject: string, index: number, data: Uint8Array) => FaultDecision = () => 'deliver';

  constructor(readonly inner: Bus) {}

  /** The wrapped bus's kind: the feed and engine log what they really run on. */
  get kind(): Bus['kind'] {
    return this.inner.kind;
  }

  publish(subject: string, data: Uint8Array): void { this.inner.publish(subject, data); }

  subscribe(subject: string, handler: BusHandler): BusSubscription {
    return this.inner.subscribe(subject, (data, s) => {
      const decision = this.decide(s, this.received++, data);
      if (decision === 'drop') return;
      handler(data, s);
      if (decision === 'duplicate') handler(data, s);
    });
  }

  request(subject: string, data: Uint8Array, timeout_ms: number): Promise<Uint8Array> {
    return this.inner.request(subject, data, timeout_ms);
  }

  serve(subject: string, responder: BusResponder): BusSubscription { return this.inner.serve(subject, responder); }
  flush(): Promise<void> { return this.inner.flush(); }
  is_connected(): boolean { return this.inner.is_connected(); }
  on_status(listener: (s: BusStatus) => void): () => void { return this.inner.on_status(listener); }
  close(): Promise<void> { return this.inner.close(); }
  /** The wrapped bus's durable stream, undisturbed: faults are injected on the live path only. */
  event_stream(subjects: Subjects): EventStream | null { return this.inner.event_stream?.(subjects) ?? null; }
}

/**
 * From now on, `fault` drops the next batch on `events_subject` that carries a trade (an Execute event), and only
 * that one: its trades never reach the feed (missing, not merely late). Returns the lost trade ids, filled when
 * the batch is dropped (empty until then).
 */
export function lose_next_trades(fault: FaultBus, events_subject: string): number[] {
  const reader = new EventBatchReader();
  const event = new_book_event();
  const lost_trade_ids: number[] = [];
  fault.decide = (subject, _i, data) => {
    if (lost_trade_ids.length > 0 || subject !== events_subject) return 'deliver';
    reader.read(data);
    for (let k = 0; k < reader.count; k++) if (reader.event(k, event).kind === event_execute) lost_trade_ids.push(event.trade_id);
    return lost_trade_ids.length > 0 ? 'drop' : 'deliver';
  };
  return lost_trade_ids;
}
