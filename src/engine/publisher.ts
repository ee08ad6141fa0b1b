// Batches one symbol's book events into EventBatch messages, bounded by
// events, bytes and time (config batch_events_max, batch_bytes_max,
// batch_interval_ms_max). A batch ends at an engine-event boundary (an event
// carrying the end marker), so a consumer never holds half of a sweep at the
// end of a message — unless one engine event alone is larger than a batch;
// then it is split and the marker is on its last event, in a later batch.
//
// Time comes in as arguments (the engine's clock), never read here, so a
// virtual clock gives byte-identical batches.
import { type BookEvent, flag_end_of_engine_event } from '../book/types.js';
import { logger_for } from '../util/log.js';
import { EventBatchEncoder, encode_heartbeat_batch, event_batch_bytes_max } from '../wire/engine_codec.js';
import { ResendRing } from './resend_ring.js';

const log = logger_for('engine.publisher');

export interface BatchLimits {
  batch_events_max: number;
  batch_bytes_max: number;
  batch_interval_ms_max: number;
}

export type PublishFn = (subject: string, bytes: Uint8Array) => void;

export class BatchPublisher {
  private readonly encoder: EventBatchEncoder;
  /** Most events one batch can hold under both the event and the byte bound. */
  readonly events_per_batch_max: number;
  private readonly interval_ns_max: number;
  /** Staged events up to the last end marker (a batch may be cut here). */
  private boundary = 0;
  private batch_started_ns = 0;

  events = 0;
  batches = 0;
  bytes = 0;
  publish_failures = 0;

  /** Batches sent again after the bus reconnected (resend_since). */
  resent = 0;

  /** Engine time of the last message sent (batch or heartbeat); 0 before the first. */
  last_send_ns = 0;

  /** The last batches sent, for resend_since (resend_ring.ts). */
  private readonly recent = new ResendRing();

  /** `resend_subject`: where resend_since sends (feeds listen on it; the durable stream does not capture it). */
  constructor(readonly symbol: string, private readonly epoch: number, private readonly subject: string, limits: Readonly<BatchLimits>,
    private readonly publish: PublishFn, private readonly resend_subject: string = subject) {
    const symbol_bytes = new TextEncoder().encode(symbol).byteLength;
    let by_bytes = 0;
    while (event_batch_bytes_max(symbol_bytes, by_bytes + 1) <= limits.batch_bytes_max) by_bytes++;
    this.events_per_batch_max = Math.min(limits.batch_events_max, by_bytes);
    if (this.events_per_batch_max < 1) throw new Error(`batch_bytes_max ${limits.batch_bytes_max} cannot hold one event`);
    this.interval_ns_max = limits.batch_interval_ms_max * 1e6;
    this.encoder = new EventBatchEncoder(this.events_per_batch_max);
    this.encoder.begin(symbol, epoch);
  }

  /** The matcher's sink: copies the event into the batch being built. */
  readonly on_event = (ev: Readonly<BookEvent>): void => {
    const encoder = this.encoder;
    if (encoder.count === this.events_per_batch_max) {
      // Full: cut at the last engine-event boundary, or split an engine event larger than a batch.
      this.send(this.boundary > 0 ? this.boundary : encoder.count, ev.ts_engine_ns);
    }
    if (encoder.count === 0) this.batch_started_ns = ev.ts_engine_ns;
    encoder.add(ev);
    this.events++;
    if ((ev.flags & flag_end_of_engine_event) !== 0) {
      this.boundary = encoder.count;
      if (encoder.count === this.events_per_batch_max) this.send(encoder.count, ev.ts_engine_ns);
    }
  };

  /** Sends the pending batch if its oldest event has waited batch_interval_ms_max. */
  flush_due(now_ns: number): void {
    if (this.boundary > 0 && now_ns - this.batch_started_ns >= this.interval_ns_max) this.send(this.boundary, now_ns);
  }

  /** Sends every complete engine event staged. */
  flush(now_ns: number): void {
    if (this.boundary > 0) this.send(this.boundary, now_ns);
  }

  /**
   * Sends an engine heartbeat (a batch with no events at next_seq) when
   * nothing is staged: consumers learn the engine is alive and where its
   * stream stands, so a lost last batch in a quiet market is seen at once.
   */
  heartbeat(next_seq: number, now_ns: number): void {
    if (this.encoder.count > 0) return;
    this.last_send_ns = now_ns;
    this.deliver(encode_heartbeat_batch(this.symbol, this.epoch, next_seq, now_ns));
  }

  private send(events: number, now_ns: number): void {
    const bytes = this.encoder.finish(now_ns, events);
    this.last_send_ns = now_ns;
    this.boundary = this.boundary > events ? this.boundary - events : 0;
    this.batch_started_ns = now_ns;
    this.batches++;
    this.bytes += bytes.byteLength;
    this.recent.push(bytes, now_ns);
    this.deliver(bytes);
  }

  /**
   * Sends again, oldest first, every batch kept that was sent at or after
   * `from_ns` (engine time): after the bus came back, the batches that may
   * have died with the node (feeds drop those they have). Returns how many.
   */
  resend_since(from_ns: number): number {
    const n = this.recent.since(from_ns, (bytes) => this.deliver(bytes, this.resend_subject));
    this.resent += n;
    return n;
  }

  private deliver(bytes: Uint8Array, subject: string = this.subject): void {
    try {
      this.publish(subject, bytes);
    } catch (err) {
      // Seq has advanced regardless: consumers see a gap and recover from a snapshot.
      this.publish_failures++;
      if (this.publish_failures === 1 || this.publish_failures % 1000 === 0) {
        log.error({ symbol: this.symbol, failures: this.publish_failures, err: (err as Error).message }, 'publishing an event batch failed');
      }
    }
  }
}
