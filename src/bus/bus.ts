// The boundary between the engine and the feed. Two implementations:
// nats_bus (a real nats-server) and memory_bus (in-process, the embedded
// default). Only src/bus/ may import NATS; everything else sees this interface.

import type { EventStream } from './event_stream.js';
import type { Subjects } from './subjects.js';

export type BusHandler = (data: Uint8Array, subject: string) => void;
export type BusResponder = (data: Uint8Array, subject: string) => Uint8Array | Promise<Uint8Array>;

export interface BusSubscription {
  unsubscribe(): void;
}

export type BusStatus = 'connected' | 'disconnected' | 'reconnected' | 'closed';

export interface Bus {
  readonly kind: 'memory' | 'nats';
  /**
   * Fire-and-forget. The bus takes ownership of `data`: nats.js queues the
   * buffer itself until its next flush, so a caller must hand over a fresh
   * buffer and never modify it afterwards (our encoders return copies).
   */
  publish(subject: string, data: Uint8Array): void;
  /** Subjects use NATS syntax: tokens split by '.', '*' one token, '>' the rest. */
  subscribe(subject: string, handler: BusHandler): BusSubscription;
  /** Request/reply; rejects with BusTimeoutError after timeout_ms or BusNoResponderError. */
  request(subject: string, data: Uint8Array, timeout_ms: number): Promise<Uint8Array>;
  /** Answer requests on `subject` (wildcards allowed). */
  serve(subject: string, responder: BusResponder): BusSubscription;
  /** Resolves once everything published so far has reached the server. */
  flush(): Promise<void>;
  is_connected(): boolean;
  /**
   * How many independent connections deliver each subscribed message now
   * (nats_paths.ts: a feed's two paths into a NATS cluster, so each message
   * may arrive twice and a gap on one may be filled by the other). Absent: 1.
   */
  paths_connected?(): number;
  on_status(listener: (status: BusStatus) => void): () => void;
  close(): Promise<void>;
  /**
   * The durable stream of these subjects (event_stream.ts), or null when this
   * bus has none (the in-process bus): the feed then recovers from the
   * engine's request/reply alone. Optional so that wrappers (test fault
   * buses) without one need not say so.
   */
  event_stream?(subjects: Subjects): EventStream | null;
}

export class BusTimeoutError extends Error {
  readonly code = 'BUS_TIMEOUT';
  constructor(subject: string, timeout_ms: number) {
    super(`bus request on '${subject}' timed out after ${timeout_ms} ms`);
  }
}

export class BusNoResponderError extends Error {
  readonly code = 'BUS_NO_RESPONDER';
  constructor(subject: string) {
    super(`no responder for bus request on '${subject}'`);
  }
}

/** NATS subject matching ('*' one token, '>' one or more trailing tokens). */
export function subject_matches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return s.length > i;
    if (i >= s.length) return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return p.length === s.length;
}
