// One connection's acknowledgement books: what was sent, what the reader says
// it has read, and how long that took. The first of ReaderFlow's two
// estimators (reader_flow.ts; the other, the reader's bandwidth, is
// reader_rate.ts). Pure: time is passed in, no I/O.
//
// Why: uWS's own buffer fills only after every buffer below it is full (the
// kernel's send buffer autotunes to megabytes, a proxy adds more), so a
// client that reads slowly but steadily used to drift seconds behind without
// the server ever seeing backpressure. Here the reader itself tells us what
// it has read:
//   - probes: a WebSocket ping whose payload is the byte offset sent so far.
//     Standard clients answer pings in order, behind everything queued before
//     them, so a pong with offset X proves the reader has read X bytes, and
//     the pong's delay is the backlog in every buffer on the way (kernel,
//     proxy, the client's network stack). Any client, no protocol change.
//   - acknowledgements (optional Ack frames): the bytes the client application
//     has processed, which also covers a browser whose network thread reads
//     promptly while its main thread is seconds behind. Once a client has
//     sent one, the lower of the two offsets counts.
//   - path probes: a ping sent while nothing is in flight (payload: a negative
//     sequence number) measures the round trip alone, without a queue; the
//     smallest is the path's delay (path_delay_ms, its one definition; a data
//     probe always waits behind data).
// A reader is `lagging` when its oldest unacknowledged probe is older than
// the path's delay by more than lag_gate_ms, and `prompt` when its latest
// answered probe was within lag_gate_ms of the path's delay.
//
// Owner of: what counts as acknowledged (bytes_acked), the probes and when
// one is due (probe_due: adaptive, so a reader keeping up comfortably is
// probed quiet_probe_interval_factor times less often, one with a backlog or a
// late answer every interval). Not of what to do about it (flow_control.ts).
//
// Cost: O(1) per send, probe and acknowledgement; no allocation after
// construction except when the probe ring grows (doubling, at most 4 times:
// a reader with more than probes_initial unanswered probes, i.e. a slow one).
// The probe ring starts at probes_initial entries, small enough to live in
// the V8 heap (a typed array over 64 bytes gets a separate malloc'd backing
// store, a few hundred bytes of bookkeeping each,
// bench/micro/session_memory.bench.ts); the payload buffer is one for all.

import type { ReaderFlowLimits } from './feed_types.js';

/** Probes outstanding at once; past it no new probe is sent until one is answered. */
export const probes_outstanding_max = 64;
/** The probe ring's first size (it doubles up to probes_outstanding_max): a prompt reader has one or two outstanding. */
export const probes_initial = 4;
/**
 * A reader keeping up comfortably (its latest answer prompt, at most 1/quiet_cap_divisor of its cap probed and
 * not yet answered, at most 1/unprobed_cap_divisor sent since its last probe) is probed
 * quiet_probe_interval_factor times less often.
 */
export const quiet_cap_divisor = 4;
export const unprobed_cap_divisor = 2;
export const quiet_probe_interval_factor = 4;
/** Eager probes (near the window, or conflating) go at most this many times per probe interval. */
export const eager_probes_per_interval_max = 4;
/** A path probe (nothing in flight, so the round trip alone) goes at most this often. */
export const path_probe_interval_ms = 1000;
/** Bytes of a probe's payload: the offset as a little-endian float64 (exact below 2^53). */
export const probe_payload_bytes = 8;

/** Every flow's probe payload is written here and sent at once (uWS copies it): one buffer, not one per connection. */
const payload = new Uint8Array(probe_payload_bytes);
const payload_view = new DataView(payload.buffer);

function payload_of(offset: number): Uint8Array {
  payload_view.setFloat64(0, offset, true);
  return payload;
}

/** A pong's offset, read through the shared buffer (no DataView made per pong). */
function offset_of(pong: Uint8Array): number {
  payload.set(pong);
  return payload_view.getFloat64(0, true);
}

export class ReaderProbes {
  /** Payload bytes of binary frames the socket accepted. */
  bytes_sent = 0;
  /** Bytes the reader has read (highest offset answered by a pong). */
  bytes_read = 0;
  /** Bytes the client application says it processed (Ack frames); meaningful once acks_seen. */
  bytes_processed = 0;
  acks_seen = false;
  /** Latest measured delay: a probe's send to its acknowledgement. */
  lag_ms = 0;
  /** Smallest delay seen: the path's round trip without queueing (Infinity until one is seen; read path_delay_ms). */
  min_delay_ms = Infinity;
  /** Delay samples taken (one per acknowledgement that answered a probe). */
  lag_samples = 0;
  readonly lag_gate_ms: number;
  /** Probes sent (data and path probes) and pongs that carried a probe's payload: what probing costs (benches read them). */
  probes_sent = 0;
  pongs_seen = 0;

  /** Outstanding probes, a ring of (offset, sent ms) pairs: entry i at [2i, 2i + 1]; grows by doubling. */
  private probes = new Float64Array(2 * probes_initial);
  private probe_capacity = probes_initial;
  private probe_head = 0;
  private probe_count = 0;
  private last_probe_ms = -Infinity;
  private last_probe_offset = 0;
  private path_probe_seq = 0;
  /** When the outstanding path probe was sent; -1 when none is. */
  private path_probe_sent_ms = -1;
  private last_path_probe_ms = -Infinity;

  constructor(private readonly limits: ReaderFlowLimits) {
    // A tenth of the target: above scheduling noise, and what streams past it before the
    // connection conflates is what a slow reader must read first (the overshoot).
    this.lag_gate_ms = Math.max(20, limits.reader_lag_target_ms / 10);
  }

  /** Bytes acknowledged: by pongs, and by the application too once it sends Acks. */
  get bytes_acked(): number {
    return this.acks_seen ? Math.min(this.bytes_read, this.bytes_processed) : this.bytes_read;
  }

  get in_flight(): number {
    return this.bytes_sent - this.bytes_acked;
  }

  /** The path's delay without a queue, as known now (0 until a probe measured it). The one definition of the baseline. */
  get path_delay_ms(): number {
    return this.min_delay_ms === Infinity ? 0 : this.min_delay_ms;
  }

  on_sent(bytes: number): void {
    this.bytes_sent += bytes;
  }

  /** How far behind the reader is now: the age of its oldest unanswered probe, else the last measured delay. */
  lag_now_ms(now_ms: number): number {
    if (this.probe_count === 0) return this.lag_ms;
    return Math.max(this.lag_ms, now_ms - this.probes[2 * this.probe_head + 1]);
  }

  /** The reader is queueing: its oldest unanswered probe waits longer than the path alone explains. */
  lagging(now_ms: number): boolean {
    if (this.probe_count === 0) return false;
    return now_ms - this.probes[2 * this.probe_head + 1] - this.path_delay_ms > this.lag_gate_ms;
  }

  /** Its latest answered probe came back about as fast as the path allows. */
  get prompt(): boolean {
    return this.lag_ms - this.path_delay_ms <= this.lag_gate_ms;
  }

  /**
   * Bytes the reader has been asked about and has not answered: sent before
   * the newest probe and not acknowledged (0 when every probe was answered).
   * Unlike in_flight it leaves out the bytes sent since the last probe, which
   * say nothing about the reader until a probe follows them: judged on
   * in_flight, a sparser cadence made a prompt reader look busy by its own
   * unprobed bytes, and the cadence fell back to every interval.
   */
  get backlog_bytes(): number {
    return Math.max(0, this.last_probe_offset - this.bytes_acked);
  }

  /**
   * The reader keeps up comfortably, so a probe carries little news: its
   * latest answered probe was prompt, what it was asked about and has not
   * answered is at most a quarter of the cap, and what went out since its last
   * probe at most half (so in flight stays well under the cap between probes,
   * where over_window and the hard cap look at all of it).
   */
  keeping_up(cap_bytes: number): boolean {
    return this.prompt && this.backlog_bytes * quiet_cap_divisor <= cap_bytes && (this.bytes_sent - this.last_probe_offset) * unprobed_cap_divisor <= cap_bytes;
  }

  /**
   * A probe is due when something was sent since the last one and either the
   * interval passed (quiet_probe_interval_factor intervals while the reader
   * keeps up comfortably), or the caller needs to hear back soon (`eager`:
   * the connection is conflating and waits for room), or in flight is near
   * the window. The one place the cadence is decided (adaptive probing: a
   * probe goes when it carries information).
   */
  probe_due(now_ms: number, eager: boolean, cap_bytes: number, window_bytes: number): boolean {
    // Bytes in flight with no probe outstanding: only a probe can ever show them read.
    if (eager && this.probe_count === 0 && this.in_flight > 0) return true;
    if (this.bytes_sent === this.last_probe_offset || this.probe_count === probes_outstanding_max) return false;
    const since_ms = now_ms - this.last_probe_ms;
    // A reader keeping up with room to spare: a probe per frame of a quiet stream would cost a ping and a pong
    // each, and one every interval on a busy stream half the fan-out's extra CPU (bench/e2e/fanout_profile.ts).
    if (since_ms >= (this.keeping_up(cap_bytes) ? quiet_probe_interval_factor : 1) * this.limits.reader_probe_interval_ms) return true;
    // Near the window a probe tells sooner when room opens; never one per flush (a burst would fill the ring).
    return (eager || this.in_flight * 2 > window_bytes) && since_ms * eager_probes_per_interval_max >= this.limits.reader_probe_interval_ms;
  }

  /** Records a probe at the current offset; returns its payload (valid until the next probe or path probe of any flow: send it at once). */
  probe(now_ms: number): Uint8Array {
    if (this.probe_count === this.probe_capacity && this.probe_capacity < probes_outstanding_max) this.grow_probes();
    const i = 2 * ((this.probe_head + this.probe_count) % this.probe_capacity);
    this.probes[i] = this.bytes_sent;
    this.probes[i + 1] = now_ms;
    this.probe_count++;
    this.probes_sent++;
    this.last_probe_ms = now_ms;
    this.last_probe_offset = this.bytes_sent;
    return payload_of(this.bytes_sent);
  }

  /** Twice the ring, the outstanding probes first in order. */
  private grow_probes(): void {
    const from = this.probes;
    const capacity = Math.min(probes_outstanding_max, 2 * this.probe_capacity);
    const to = new Float64Array(2 * capacity);
    for (let k = 0; k < this.probe_count; k++) {
      const i = 2 * ((this.probe_head + k) % this.probe_capacity);
      to[2 * k] = from[i];
      to[2 * k + 1] = from[i + 1];
    }
    this.probes = to;
    this.probe_capacity = capacity;
    this.probe_head = 0;
  }

  /** A path probe is due: nothing in flight (so no queue to wait behind), none outstanding, none for a while. */
  path_probe_due(now_ms: number): boolean {
    return this.in_flight === 0 && this.path_probe_sent_ms < 0 && now_ms - this.last_path_probe_ms >= path_probe_interval_ms;
  }

  /** Records a path probe; returns its payload (valid until the next probe or path probe of any flow: send it at once). */
  path_probe(now_ms: number): Uint8Array {
    this.path_probe_seq++;
    this.probes_sent++;
    this.path_probe_sent_ms = now_ms;
    this.last_path_probe_ms = now_ms;
    return payload_of(-this.path_probe_seq);
  }

  /**
   * A pong. Returns true when it answered a data probe (the reader moved on:
   * the caller then retires the answered probes). Changes nothing unless it
   * carries a payload this flow sent and has not seen answered: a client can
   * only ever report on itself, and a forged payload is ignored.
   */
  on_pong(payload: Uint8Array, now_ms: number): boolean {
    if (payload.byteLength !== probe_payload_bytes) return false; // uWS's own keep-alive pings carry none
    const offset = offset_of(payload);
    this.pongs_seen++;
    if (offset < 0) {
      if (-offset === this.path_probe_seq && this.path_probe_sent_ms >= 0) {
        this.min_delay_ms = Math.min(this.min_delay_ms, Math.max(0, now_ms - this.path_probe_sent_ms));
        this.path_probe_sent_ms = -1;
      }
      return false;
    }
    if (!this.outstanding(offset) || offset <= this.bytes_read) return false;
    this.bytes_read = offset;
    return true;
  }

  /** An Ack frame: returns true when it moved what the application processed (clamped to what was sent). */
  on_ack(bytes_processed: number): boolean {
    this.acks_seen = true;
    const bytes = Math.min(bytes_processed, this.bytes_sent);
    if (bytes <= this.bytes_processed) return false;
    this.bytes_processed = bytes;
    return true;
  }

  private outstanding(offset: number): boolean {
    for (let k = 0; k < this.probe_count; k++) {
      if (this.probes[2 * ((this.probe_head + k) % this.probe_capacity)] === offset) return true;
    }
    return false;
  }

  /** Retires the probes the acknowledged bytes cover; the newest of them is one delay sample. */
  retire(now_ms: number): void {
    const acked = this.bytes_acked;
    let newest_sent_ms = -1;
    while (this.probe_count > 0 && this.probes[2 * this.probe_head] <= acked) {
      newest_sent_ms = this.probes[2 * this.probe_head + 1];
      this.probe_head = (this.probe_head + 1) % this.probe_capacity;
      this.probe_count--;
    }
    if (newest_sent_ms < 0) return;
    const delay = Math.max(0, now_ms - newest_sent_ms);
    this.lag_ms = delay;
    this.lag_samples++;
    if (delay < this.min_delay_ms) this.min_delay_ms = delay;
  }
}
