// One client connection: its subscriptions, its outgoing frames for this
// event-loop turn (sent corked, in one syscall), its inbound rate limit, and
// its slow-consumer state with hysteresis (nats.js SlowNotifier): it switches
// streaming → conflating once when its buffered bytes cross slow_enter_bytes,
// and back once when they fall below slow_exit_bytes. While conflating nothing
// is queued per update: each view accumulates (Subscription) and, once the
// socket has drained, gets ONE catch-up frame. With slow_policy 'close' the
// connection is closed with 4008 instead, and nothing is queued or sent after
// that decision. Whatever the policy, more than send_buffer_bytes_max buffered
// closes with 4009, and so does a send the socket refuses (never a silent skip).

import { close_code } from '../wire/codes.js';
import { TokenBucket } from './rate_limiter.js';
import type { Subscription, SubscriptionOwner } from './subscription.js';
import { send_backpressure, send_dropped, send_ok, type ClientTransport } from './transport.js';

/** Frames queued for one connection within one event-loop turn; past it we flush early. */
export const session_pending_frames_max = 1024;

export type SlowPolicy = 'conflate' | 'close';

export interface SessionLimits {
  readonly slow_enter_bytes: number;
  readonly slow_exit_bytes: number;
  readonly send_buffer_bytes_max: number;
  readonly slow_policy: SlowPolicy;
  readonly inbound_messages_per_s_max: number;
}

export interface SessionEvents {
  on_frame_sent(bytes: number): void;
  on_slow_change(session: Session, slow: boolean): void;
  on_close_decision(session: Session, code: number): void;
  /** A catch-up frame was queued for an accumulating subscription (conflation or interval). */
  on_catch_up(session: Session, sub: Subscription): void;
  /** The socket refused a send (uWS returned 2); the connection is closed for it. */
  on_send_dropped(session: Session): void;
}

export class Session implements SubscriptionOwner {
  private static next_id = 1;
  readonly id = Session.next_id++;
  readonly subs = new Map<string, Subscription>();
  slow = false;
  /** Set when we decided to close: nothing is queued or sent after it. */
  closing = false;
  last_send_ms: number;
  readonly inbound: TokenBucket;
  inbound_refused = 0;
  slow_episodes = 0;
  /** Most bytes ever seen buffered for this connection (sampled after each flush, on drain and every slow tick). */
  buffered_bytes_max = 0;
  /** Frames and bytes the socket accepted (sent or buffered); nothing is added after the close decision. */
  frames_sent = 0;
  bytes_sent = 0;
  /** The close code we decided on, if we closed the connection. */
  close_decision: number | null = null;
  private pending: Uint8Array[] = [];
  private pending_queued = false;

  constructor(
    readonly transport: ClientTransport,
    readonly limits: SessionLimits,
    private readonly events: SessionEvents,
    private readonly schedule_flush: (s: Session) => void,
    now_ms: number,
  ) {
    this.last_send_ms = now_ms;
    // Bursts up to one second's worth: a client subscribing to many symbols at once is fine.
    this.inbound = new TokenBucket(limits.inbound_messages_per_s_max, limits.inbound_messages_per_s_max, now_ms);
  }

  /** Queues a frame for this turn's corked flush. */
  queue(frame: Uint8Array): void {
    if (this.closing) return;
    this.pending.push(frame);
    if (this.pending.length >= session_pending_frames_max) {
      this.flush();
      return;
    }
    if (!this.pending_queued) {
      this.pending_queued = true;
      this.schedule_flush(this);
    }
  }

  /**
   * Sends every queued frame, then re-evaluates slowness. The common case on
   * the fan-out path is one frame per session per turn: it goes out with a
   * plain send (uWS corks and uncorks it itself, so its result says whether
   * anything stayed buffered) and the buffered amount is read only when it
   * did. Several frames go out inside one cork, whose result only the
   * buffered amount tells.
   */
  flush(now_ms: number = Date.now()): void {
    this.pending_queued = false;
    if (this.closing) {
      this.pending.length = 0;
      return;
    }
    const frames = this.pending;
    const n = frames.length;
    if (n === 0) {
      this.check_backpressure();
      return;
    }
    let status: number;
    if (n === 1) {
      status = this.send_one(frames[0]);
    } else {
      this.cork_status = send_ok;
      this.transport.cork(this.send_pending);
      status = this.cork_status;
    }
    frames.length = 0;
    this.last_send_ms = now_ms;
    if (status === send_dropped) {
      // A frame the socket refused would break the client's book: close rather than skip.
      this.events.on_send_dropped(this);
      this.close(close_code.send_buffer_overflow, 'send buffer limit reached');
      return;
    }
    if (n > 1 || status === send_backpressure || this.slow) this.check_backpressure();
  }

  private cork_status = send_ok;

  /** The cork callback, made once per session (not a closure per flush). */
  private readonly send_pending = (): void => {
    const frames = this.pending;
    for (let i = 0; i < frames.length; i++) {
      if (this.send_one(frames[i]) === send_dropped) {
        this.cork_status = send_dropped;
        return;
      }
    }
  };

  private send_one(frame: Uint8Array): number {
    const status = this.transport.send(frame);
    if (status !== send_dropped) {
      this.frames_sent++;
      this.bytes_sent += frame.byteLength;
      this.events.on_frame_sent(frame.byteLength);
    }
    return status;
  }

  /** Called after sends and on drain: applies the hysteresis and the hard cap. */
  check_backpressure(): void {
    if (this.closing) return;
    const buffered = this.transport.buffered_bytes();
    if (buffered > this.buffered_bytes_max) this.buffered_bytes_max = buffered;
    if (buffered > this.limits.send_buffer_bytes_max) {
      this.close(close_code.send_buffer_overflow, 'send buffer limit reached');
      return;
    }
    if (!this.slow && buffered > this.limits.slow_enter_bytes) {
      if (this.limits.slow_policy === 'close') {
        this.close(close_code.slow_consumer, 'slow consumer');
        return;
      }
      this.slow = true;
      this.slow_episodes++;
      for (const sub of this.subs.values()) sub.channel.start_accumulating(sub);
      this.events.on_slow_change(this, true);
    } else if (this.slow && buffered <= this.limits.slow_exit_bytes) {
      this.slow = false;
      this.events.on_slow_change(this, false);
      // Catch up every view at once: one conflated frame each, then stream again.
      // Interval subscriptions stay accumulating: the interval timer serves them.
      for (const sub of this.subs.values()) {
        if (sub.mode !== 'accumulating' || sub.interval_ms > 0) continue;
        this.send_catch_up(sub);
        sub.channel.start_streaming(sub);
      }
    }
  }

  /** Queues the frame that brings an accumulating subscription to its view's current seq, if anything changed. */
  send_catch_up(sub: Subscription): void {
    if (this.closing) return;
    const frame = sub.catch_up();
    if (frame === null) return;
    this.queue(frame);
    this.events.on_catch_up(this, sub);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.close_decision = code;
    this.pending.length = 0;
    this.events.on_close_decision(this, code);
    this.transport.end(code, reason);
  }
}
