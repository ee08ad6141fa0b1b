import {
  type Bus, type BusHandler, type BusResponder, type BusStatus, type BusSubscription,
  BusNoResponderError, BusTimeoutError, subject_matches,
} from './bus.js';
import type { EventStream } from './event_stream.js';

interface Entry<T> { pattern: string; fn: T; active: boolean }

/**
 * In-process bus: the embedded default (`depthcast all` with no NATS URL).
 * Delivery is asynchronous (a microtask per publish), like a network: a
 * publisher never re-enters a subscriber. Payloads are copied on publish.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private subscribers: Entry<BusHandler>[] = [];
  /** Subscribers matching each subject published so far; rebuilt when subscriptions change (rare), so a publish does no pattern matching. */
  private readonly matching = new Map<string, Entry<BusHandler>[]>();
  private responders: Entry<BusResponder>[] = [];
  private status_listeners = new Set<(s: BusStatus) => void>();
  private closed = false;

  publish(subject: string, data: Uint8Array): void {
    if (this.closed) return;
    let targets = this.matching.get(subject);
    if (targets === undefined) {
      targets = this.subscribers.filter((e) => subject_matches(e.pattern, subject));
      this.matching.set(subject, targets);
    }
    if (targets.length === 0) return;
    const copy = data.slice();
    const list = targets;
    queueMicrotask(() => {
      for (const entry of list) {
        if (entry.active) entry.fn(copy, subject);
      }
    });
  }

  subscribe(pattern: string, handler: BusHandler): BusSubscription {
    const entry: Entry<BusHandler> = { pattern, fn: handler, active: true };
    this.subscribers.push(entry);
    this.matching.clear();
    return {
      unsubscribe: () => {
        entry.active = false;
        this.subscribers = this.subscribers.filter((e) => e !== entry);
        this.matching.clear();
      },
    };
  }

  request(subject: string, data: Uint8Array, timeout_ms: number): Promise<Uint8Array> {
    const responder = this.responders.find((e) => e.active && subject_matches(e.pattern, subject));
    if (!responder || this.closed) return Promise.reject(new BusNoResponderError(subject));
    const copy = data.slice();
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BusTimeoutError(subject, timeout_ms)), timeout_ms);
      queueMicrotask(() => {
        Promise.resolve()
          .then(() => responder.fn(copy, subject))
          .then((reply) => { clearTimeout(timer); resolve(reply.slice()); },
                (err: unknown) => { clearTimeout(timer); reject(err); });
      });
    });
  }

  serve(pattern: string, responder: BusResponder): BusSubscription {
    const entry: Entry<BusResponder> = { pattern, fn: responder, active: true };
    this.responders.push(entry);
    return {
      unsubscribe: () => {
        entry.active = false;
        this.responders = this.responders.filter((e) => e !== entry);
      },
    };
  }

  flush(): Promise<void> {
    // Deliveries are microtasks queued before this one; a macrotask boundary passes them all.
    return new Promise((resolve) => setImmediate(resolve));
  }

  is_connected(): boolean {
    return !this.closed;
  }

  on_status(listener: (s: BusStatus) => void): () => void {
    this.status_listeners.add(listener);
    return () => this.status_listeners.delete(listener);
  }

  /** No durable stream in process: feeds recover from the engine (and `npm start` needs no NATS). */
  event_stream(): EventStream | null {
    return null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.status_listeners) l('closed');
  }
}
