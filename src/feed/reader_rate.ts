// One connection's reader bandwidth: the second of ReaderFlow's two
// estimators (reader_flow.ts; the first, what was acknowledged and when,
// is reader_probes.ts). Pure: time and offsets are passed in, no I/O.
//
// From the acknowledged offsets over time: the reader's delivery rate (max
// over recent samples, as BBR's bottleneck bandwidth; samples taken while
// the reader had nothing to read only ever raise it); catch-up rounds (a
// round sent with nothing in flight, read in full: its size over its delay
// beyond the path's is a capacity sample); bursts (a stalled reader that read
// its whole backlog at once); and the window = rate × lag_target, between
// in_flight_bytes_min and in_flight_bytes_max (as BBR caps in flight at
// bandwidth × delay, and an HTTP/2 window caps what a stream may have
// unacknowledged), at most stream_cap_bytes.
//
// Owner of: the rate, the window and the cap, and whether the reader's
// capacity was ever measured. Not of what to do about them (flow_control.ts).
//
// Cost: O(1) per acknowledgement (a max over 16 samples when one is pushed),
// O(16) for the median when a conflating reader is judged; no allocation
// after construction except once at the first rate sample (V8 moves the
// array to unboxed doubles).

import type { ReaderFlowLimits } from './feed_types.js';

/** Delivery-rate samples the max filter keeps (about this many probe intervals). */
export const rate_samples_max = 16;
/** A rate sample spans at least this long: shorter ones would measure how a reader bursts (a read of its socket buffer), not how fast it drains. */
export const rate_sample_interval_ms_min = 50;
/** A catch-up round smaller than this gives no capacity sample. */
export const round_sample_bytes_min = 1024;
/**
 * A round read faster than this (beyond the path's delay) fitted in what the
 * reader absorbs at once (socket buffers, a read burst): its time shows
 * latency, not bandwidth, so its capacity sample is taken as if it had taken
 * this long (a lower bound), and it counts as an instant round.
 */
export const round_transfer_ms_min = 20;
/**
 * An instant round's transfer counts only beyond this (Date.now()'s
 * resolution): a round read within it is as fast as can be told, whatever its
 * size (a fast reader's rounds, one per round trip, carry a few changes each).
 */
export const instant_transfer_ms_resolution = 1;
/** The instant rounds' rate weighs each older round by this much less (about the last five count): a reader that sped up shows it within a few rounds. */
const instant_rate_decay = 0.8;
/** Acknowledgements this close together after a silence count as one burst (burst_bytes). */
export const burst_window_ms = 5;

export class ReaderRate {
  /**
   * Uncompressed ÷ wire bytes of what is in flight now (1 unless the
   * connection sends deflated catch-ups): rates are measured in uncompressed
   * bytes and divided by this, so they say what uncompressed stream the
   * reader could take.
   */
  wire_factor = 1;
  /** Consecutive catch-up rounds read at once (see round_transfer_ms_min): a reader that keeps up with them. */
  instant_rounds = 0;
  window_bytes: number;
  /**
   * Most the window may be whatever the reader's rate: set by flow control
   * from what the stream needs (Infinity until known), so a fast reader that
   * stalls holds at most about a lag target of the stream, not of its own
   * (possibly far higher) rate.
   */
  stream_cap_bytes = Infinity;
  /**
   * A sample showed what the reader can read rather than what it was sent (it
   * had a backlog the whole time): only then can it be judged too slow. A
   * reader of a quiet stream that stalls has only shown the stream's rate.
   */
  capacity_measured = false;
  /**
   * Wire bytes of the instant rounds over their transfer times, recent rounds
   * weighted most (instant_rate_decay): what they show of the reader's rate.
   * Small rounds come back "at once" from a slow reader too (400 bytes in
   * 12 ms at 33 KB/s), so a streak of them says the reader keeps up with
   * rounds, not that it could take the stream.
   */
  private instant_wire_bytes = 0;
  private instant_transfer_ms = 0;
  /** Doubles only (a plain array: kept in the V8 heap, no separate backing store). */
  private readonly rate_samples: number[] = new Array<number>(rate_samples_max).fill(0);
  private rate_next = 0;
  /** Samples in the ring so far (its zeros before that are not samples). */
  private rate_count = 0;
  private rate_max = 0;
  /** Scratch for rate_median (no allocation per call). */
  private readonly rate_sorted: number[] = new Array<number>(rate_samples_max).fill(0);
  private sample_offset = 0;
  /** The acknowledged offset as of the previous acknowledgement. */
  private sample_offset_acked = 0;
  private sample_ms = -1;
  /** in_flight when the current rate sample began: a sample that delivered more than this was app-limited. */
  private sample_in_flight = 0;
  private last_ack_ms = -Infinity;
  /** A round sent with nothing in flight (a conflating connection's catch-ups): its start offset and time; -1 when none. */
  private round_start_bytes = -1;
  private round_sent_ms = 0;
  private round_wire_factor = 1;
  /** Bytes acknowledged when the current burst of acknowledgements began (after a silence of lag_target or more). */
  private burst_from_bytes = 0;
  private burst_start_ms = -Infinity;

  constructor(private readonly limits: ReaderFlowLimits) {
    this.window_bytes = limits.in_flight_bytes_min;
  }

  /** Wire bytes/s the current streak of instant rounds shows, its latest rounds weighted most: Infinity when all were read within instant_transfer_ms_resolution, 0 without a streak. */
  get instant_rate_bytes_per_s(): number {
    if (this.instant_rounds === 0) return 0;
    return this.instant_transfer_ms > 0 ? (this.instant_wire_bytes * 1000) / this.instant_transfer_ms : Infinity;
  }

  /** The reader's delivery rate estimate (0 until measured). */
  get rate_bytes_per_s(): number {
    return this.rate_max;
  }

  /** The in-flight cap in force: the window, at most stream_cap_bytes, at least in_flight_bytes_min. */
  get cap_bytes(): number {
    return Math.max(this.limits.in_flight_bytes_min, Math.min(this.window_bytes, this.stream_cap_bytes));
  }

  /** The next bytes sent (from offset `bytes_sent`, nothing in flight) are a round: read in full, a capacity sample. */
  start_round(bytes_sent: number, now_ms: number): void {
    this.round_start_bytes = bytes_sent;
    this.round_sent_ms = now_ms;
    this.round_wire_factor = this.wire_factor;
  }

  /**
   * Bytes the reader acknowledged at once, within burst_window_ms, after a
   * silence of at least the lag target: a stalled reader (a paused process, a
   * blocked page) that has just read its whole backlog in one go shows it is
   * fast again, though its last probe's delay was the stall's length.
   */
  burst_bytes(acked: number, now_ms: number): number {
    return now_ms - this.burst_start_ms <= burst_window_ms ? acked - this.burst_from_bytes : 0;
  }

  /**
   * The reader acknowledged up to `acked` of `bytes_sent`. `path_delay_ms`:
   * the path's delay as known before this answer (the answer itself includes
   * the round's transfer). Takes a rate sample, a round's capacity sample,
   * and resizes the window.
   */
  on_acknowledged(acked: number, bytes_sent: number, path_delay_ms: number, now_ms: number): void {
    if (now_ms - this.last_ack_ms >= this.limits.reader_lag_target_ms) {
      this.burst_from_bytes = this.sample_offset_acked;
      this.burst_start_ms = now_ms;
    }
    this.last_ack_ms = now_ms;
    this.sample_offset_acked = acked;
    this.sample_rate(acked, bytes_sent, now_ms);
    if (this.round_start_bytes >= 0 && acked === bytes_sent) this.end_round(acked, path_delay_ms, now_ms);
  }

  private end_round(acked: number, path_delay_ms: number, now_ms: number): void {
    const round_bytes = acked - this.round_start_bytes;
    this.round_start_bytes = -1;
    // A round of a few bytes (a Heartbeat) measures the path's delay, not the reader's bandwidth.
    const transfer_ms = now_ms - this.round_sent_ms - path_delay_ms;
    if (transfer_ms < round_transfer_ms_min) {
      this.instant_rounds++;
      this.instant_wire_bytes = this.instant_wire_bytes * instant_rate_decay + round_bytes / this.round_wire_factor;
      this.instant_transfer_ms = this.instant_transfer_ms * instant_rate_decay + Math.max(0, transfer_ms - instant_transfer_ms_resolution);
    } else {
      this.instant_rounds = 0;
      this.instant_wire_bytes = 0;
      this.instant_transfer_ms = 0;
    }
    if (round_bytes >= round_sample_bytes_min) {
      // Read at once, it only shows a lower bound: as if it took round_transfer_ms_min.
      this.push_rate((round_bytes * 1000) / Math.max(round_transfer_ms_min, transfer_ms) / this.round_wire_factor);
      if (transfer_ms >= round_transfer_ms_min) this.capacity_measured = true;
      this.resize_window();
    }
  }

  /**
   * The median of the rate samples held. The window follows their max (it
   * must not starve a reader that showed it can read more), but judging a
   * reader too slow by the max let one sample veto it for the whole ring: a
   * catch-up round that looked quick because the path delay subtracted from
   * it was itself learnt behind a backlog. At 300 B/s (a pong every few
   * seconds) that kept a 4010 from coming for over 40 s (one CI run in the
   * slow_readers test); the median needs half the ring to say otherwise.
   */
  rate_median(): number {
    const n = this.rate_count;
    if (n === 0) return 0;
    const s = this.rate_sorted;
    for (let i = 0; i < n; i++) s[i] = this.rate_samples[i];
    for (let i = 1; i < n; i++) { // insertion sort: at most 16 numbers
      const v = s[i];
      let j = i - 1;
      for (; j >= 0 && s[j] > v; j--) s[j + 1] = s[j];
      s[j + 1] = v;
    }
    return n % 2 === 1 ? s[n >> 1] : (s[(n >> 1) - 1] + s[n >> 1]) / 2;
  }

  private sample_rate(acked: number, bytes_sent: number, now_ms: number): void {
    if (this.sample_ms < 0) {
      this.start_sample(acked, bytes_sent, now_ms);
      return;
    }
    const interval_ms = now_ms - this.sample_ms;
    if (interval_ms < rate_sample_interval_ms_min) return;
    const delivered = acked - this.sample_offset;
    const rate = (delivered * 1000) / interval_ms / this.wire_factor;
    // The reader had less to read than it read: the sample shows our sending, not its capacity.
    const app_limited = delivered > this.sample_in_flight;
    if (!app_limited || rate > this.rate_max) this.push_rate(rate);
    // Its capacity shows only while it had a backlog the whole sample: what it read fell short of what it had at the start.
    // (One that read exactly that, a quiet stream's reader keeping up, showed the stream's rate, not its own.)
    if (delivered > 0 && delivered < this.sample_in_flight) this.capacity_measured = true;
    this.start_sample(acked, bytes_sent, now_ms);
    this.resize_window();
  }

  private resize_window(): void {
    const l = this.limits;
    const w = (this.rate_max * l.reader_lag_target_ms) / 1000;
    this.window_bytes = Math.min(l.in_flight_bytes_max, Math.max(l.in_flight_bytes_min, Math.round(w)));
  }

  private start_sample(acked: number, bytes_sent: number, now_ms: number): void {
    this.sample_offset = acked;
    this.sample_ms = now_ms;
    this.sample_in_flight = bytes_sent - acked;
  }

  private push_rate(rate: number): void {
    this.rate_samples[this.rate_next] = rate;
    this.rate_next = (this.rate_next + 1) % rate_samples_max;
    if (this.rate_count < rate_samples_max) this.rate_count++;
    let max = 0;
    for (let i = 0; i < rate_samples_max; i++) if (this.rate_samples[i] > max) max = this.rate_samples[i];
    this.rate_max = max;
  }
}
