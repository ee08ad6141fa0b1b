// How far behind one connection's reader is, end to end, and how many bytes
// the server may have in flight to it. Pure: time is passed in, no I/O.
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
//     smallest is the path's delay (a data probe always waits behind data).
// From these: in_flight = bytes sent − bytes acknowledged; the reader's
// delivery rate (max over recent samples, as BBR's bottleneck bandwidth;
// samples taken while the reader had nothing to read only ever raise it); and
// the window = rate × lag_target, between in_flight_bytes_min and
// in_flight_bytes_max (as BBR caps in flight at bandwidth × delay, and an
// HTTP/2 window caps what a stream may have unacknowledged). A reader is
// `lagging` when its oldest unacknowledged probe is older than the path's
// smallest delay by more than lag_gate_ms: a fast reader that briefly has
// more than the window in flight (a burst) is never held back for it.
//
// Cost: O(1) per send, probe and acknowledgement; no allocation after
// construction except when the probe ring grows (doubling, at most 4 times:
// a reader with more than probes_initial unanswered probes, i.e. a slow one)
// and once at the first rate sample (V8 moves the array to unboxed doubles).
//
// One estimator, kept whole on purpose (~500 lines): its probes, rate samples,
// rounds and window feed each other, and splitting them would spread one
// invariant (what counts as acknowledged) over several files.
// Memory per connection (it is one of the larger parts of an idle one,
// bench/micro/session_memory.bench.ts): the probe ring starts at
// probes_initial entries, small enough to live in the V8 heap (a typed array
// over 64 bytes gets a separate malloc'd backing store, a few hundred bytes
// of bookkeeping each); the rate samples are a plain array of doubles; the
// probe payload buffer is one for all flows.

/** Probes outstanding at once; past it no new probe is sent until one is answered. */
export const probes_outstanding_max = 64;
/** The probe ring's first size (it doubles up to probes_outstanding_max): a prompt reader has one or two outstanding. */
export const probes_initial = 4;
/** Delivery-rate samples the max filter keeps (about this many probe intervals). */
export const rate_samples_max = 16;
/** A rate sample spans at least this long: shorter ones would measure how a reader bursts (a read of its socket buffer), not how fast it drains. */
export const rate_sample_interval_ms_min = 50;
/** Delay samples a reader must have given before it can be judged too slow (a reader that answers nothing is left to the idle timeout). */
export const too_slow_samples_min = 3;
/** A connection with at most 1/quiet_cap_divisor of its cap in flight is probed quiet_probe_interval_factor times less often. */
export const quiet_cap_divisor = 4;
export const quiet_probe_interval_factor = 4;
/** Eager probes (near the window, or conflating) go at most this many times per probe interval. */
export const eager_probes_per_interval_max = 4;
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

export interface ReaderFlowLimits {
  /** Staleness the window aims at: a reader is sent at most what it drains in this time. */
  readonly reader_lag_target_ms: number;
  readonly in_flight_bytes_min: number;
  readonly in_flight_bytes_max: number;
  /** Pings go out this often while data flows (and after every send while conflating). */
  readonly reader_probe_interval_ms: number;
  /** A reader this far behind that also reads less than in_flight_bytes_min in this long is too slow. */
  readonly reader_lag_ms_max: number;
}

export class ReaderFlow {
  /** Payload bytes of binary frames the socket accepted. */
  bytes_sent = 0;
  /** Bytes the reader has read (highest offset answered by a pong). */
  bytes_read = 0;
  /** Bytes the client application says it processed (Ack frames); meaningful once acks_seen. */
  bytes_processed = 0;
  acks_seen = false;
  /** Latest measured delay: a probe's send to its acknowledgement. */
  lag_ms = 0;
  /** Smallest delay seen: the path's round trip without queueing. */
  min_delay_ms = Infinity;
  /**
   * Uncompressed ÷ wire bytes of what is in flight now (1 unless the
   * connection sends deflated catch-ups): rates are measured in uncompressed
   * bytes and divided by this, so they say what uncompressed stream the
   * reader could take.
   */
  wire_factor = 1;
  /** Consecutive catch-up rounds read at once (see round_transfer_ms_min): a reader that keeps up with them. */
  instant_rounds = 0;
  /**
   * Wire bytes of those rounds over their transfer times, recent rounds
   * weighted most (instant_rate_decay): what they show of the reader's rate.
   * Small rounds come back "at once" from a slow reader too (400 bytes in
   * 12 ms at 33 KB/s), so a streak of them says the reader keeps up with
   * rounds, not that it could take the stream.
   */
  private instant_wire_bytes = 0;
  private instant_transfer_ms = 0;
  /** Delay samples taken (one per acknowledgement that answered a probe). */
  lag_samples = 0;
  window_bytes: number;
  /**
   * Most the window may be whatever the reader's rate: set by the session
   * from what the stream needs (Infinity until known), so a fast reader that
   * stalls holds at most about a lag target of the stream, not of its own
   * (possibly far higher) rate.
   */
  stream_cap_bytes = Infinity;
  readonly lag_gate_ms: number;

  /** Outstanding probes, a ring of (offset, sent ms) pairs: entry i at [2i, 2i + 1]; grows by doubling. */
  private probes = new Float64Array(2 * probes_initial);
  private probe_capacity = probes_initial;
  private probe_head = 0;
  private probe_count = 0;
  private last_probe_ms = -Infinity;
  private last_probe_offset = 0;
  /** Doubles only (a plain array: kept in the V8 heap, no separate backing store). */
  private readonly rate_samples: number[] = new Array<number>(rate_samples_max).fill(0);
  private rate_next = 0;
  /** Samples in the ring so far (its zeros before that are not samples). */
  private rate_count = 0;
  private rate_max = 0;
  /** Scratch for rate_median (no allocation per call). */
  private readonly rate_sorted: number[] = new Array<number>(rate_samples_max).fill(0);
  /**
   * A sample showed what the reader can read rather than what it was sent (it
   * had a backlog the whole time): only then can it be judged too slow. A
   * reader of a quiet stream that stalls has only shown the stream's rate.
   */
  private capacity_measured = false;
  private sample_offset = 0;
  /** bytes_acked as of the previous acknowledgement. */
  private sample_offset_acked = 0;
  private sample_ms = -1;
  /** in_flight when the current rate sample began: a sample that delivered more than this was app-limited. */
  private sample_in_flight = 0;
  private path_probe_seq = 0;
  /** When the outstanding path probe was sent; -1 when none is. */
  private path_probe_sent_ms = -1;
  private last_path_probe_ms = -Infinity;
  private last_advance_ms = -Infinity;
  /** A round sent with nothing in flight (a conflating connection's catch-ups): its start offset and time; -1 when none. */
  private round_start_bytes = -1;
  private round_sent_ms = 0;
  private round_wire_factor = 1;
  /** Bytes acknowledged when the current burst of acknowledgements began (after a silence of lag_target or more). */
  private burst_from_bytes = 0;
  private burst_start_ms = -Infinity;

  constructor(readonly limits: ReaderFlowLimits) {
    this.window_bytes = limits.in_flight_bytes_min;
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

  /** Wire bytes/s the current streak of instant rounds shows, its latest rounds weighted most: Infinity when all were read within instant_transfer_ms_resolution, 0 without a streak. */
  get instant_rate_bytes_per_s(): number {
    if (this.instant_rounds === 0) return 0;
    return this.instant_transfer_ms > 0 ? (this.instant_wire_bytes * 1000) / this.instant_transfer_ms : Infinity;
  }

  /** The reader's delivery rate estimate (0 until measured). */
  get rate_bytes_per_s(): number {
    return this.rate_max;
  }

  on_sent(bytes: number): void {
    this.bytes_sent += bytes;
  }

  /**
   * The next bytes sent are a round that starts with nothing in flight (a
   * conflating connection's catch-ups): when all of it is acknowledged, its
   * size over its delay beyond the path's is a capacity sample, the reader
   * having had exactly that to read.
   */
  start_round(now_ms: number): void {
    if (this.in_flight !== 0) return;
    this.round_start_bytes = this.bytes_sent;
    this.round_sent_ms = now_ms;
    this.round_wire_factor = this.wire_factor;
  }

  /** The in-flight cap in force: the window, at most stream_cap_bytes, at least in_flight_bytes_min. */
  get cap_bytes(): number {
    return Math.max(this.limits.in_flight_bytes_min, Math.min(this.window_bytes, this.stream_cap_bytes));
  }

  /** More in flight than the cap allows. */
  over_window(): boolean {
    return this.in_flight > this.cap_bytes;
  }

  /** More in flight than in_flight_bytes_max: the cap holds whatever the reader's lag. */
  over_cap(): boolean {
    return this.in_flight > this.limits.in_flight_bytes_max;
  }

  /** Room for more: less in flight than the window. */
  has_room(): boolean {
    return this.in_flight < this.window_bytes;
  }

  /** How far behind the reader is now: the age of its oldest unanswered probe, else the last measured delay. */
  lag_now_ms(now_ms: number): number {
    if (this.probe_count === 0) return this.lag_ms;
    return Math.max(this.lag_ms, now_ms - this.probes[2 * this.probe_head + 1]);
  }

  /** The reader is queueing: its oldest unanswered probe waits longer than the path alone explains. */
  lagging(now_ms: number): boolean {
    if (this.probe_count === 0) return false;
    const base = this.min_delay_ms === Infinity ? 0 : this.min_delay_ms;
    return now_ms - this.probes[2 * this.probe_head + 1] - base > this.lag_gate_ms;
  }

  /**
   * Bytes the reader acknowledged at once, within burst_window_ms, after a
   * silence of at least the lag target: a stalled reader (a paused process, a
   * blocked page) that has just read its whole backlog in one go shows it is
   * fast again, though its last probe's delay was the stall's length.
   */
  burst_bytes(now_ms: number): number {
    return now_ms - this.burst_start_ms <= burst_window_ms ? this.bytes_acked - this.burst_from_bytes : 0;
  }

  /**
   * Too slow even for catch-ups: more than reader_lag_ms_max behind now, AND
   * at its measured rate it needs longer than that to read in_flight_bytes_min
   * (about one catch-up round). A paused reader that was fast keeps its
   * measured rate, so a pause alone never makes it too slow; nor does one
   * whose samples all showed its stream's rate, not its own (a quiet stream);
   * one that never answered at all is the idle timeout's (it may be dead, not
   * slow).
   */
  too_slow(now_ms: number): boolean {
    const l = this.limits;
    return this.capacity_measured && this.lag_samples >= too_slow_samples_min && this.lag_now_ms(now_ms) > l.reader_lag_ms_max
      && (this.rate_median() * l.reader_lag_ms_max) / 1000 < l.in_flight_bytes_min;
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
  private rate_median(): number {
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

  /**
   * A probe is due when something was sent since the last one and either the
   * interval passed (four intervals while at most a quarter of the cap is in
   * flight), or the caller needs to hear back soon (`eager`: the connection
   * is conflating and waits for room, or is near its window).
   */
  probe_due(now_ms: number, eager: boolean): boolean {
    // Bytes in flight with no probe outstanding: only a probe can ever show them read.
    if (eager && this.probe_count === 0 && this.in_flight > 0) return true;
    if (this.bytes_sent === this.last_probe_offset || this.probe_count === probes_outstanding_max) return false;
    const since_ms = now_ms - this.last_probe_ms;
    // Little in flight against the cap: the reader has room to spare, and a probe per frame of a quiet
    // stream would cost a ping and a pong each. Past a quarter, probes come every interval again.
    const quiet = this.in_flight * quiet_cap_divisor <= this.cap_bytes;
    if (since_ms >= (quiet ? quiet_probe_interval_factor : 1) * this.limits.reader_probe_interval_ms) return true;
    // Near the window a probe tells sooner when room opens; never one per flush (a burst would fill the ring).
    return (eager || this.in_flight * 2 > this.window_bytes) && since_ms * eager_probes_per_interval_max >= this.limits.reader_probe_interval_ms;
  }

  /** Records a probe at the current offset; returns its payload (valid until the next probe or path probe of any flow: send it at once). */
  probe(now_ms: number): Uint8Array {
    if (this.probe_count === this.probe_capacity && this.probe_capacity < probes_outstanding_max) this.grow_probes();
    const i = 2 * ((this.probe_head + this.probe_count) % this.probe_capacity);
    this.probes[i] = this.bytes_sent;
    this.probes[i + 1] = now_ms;
    this.probe_count++;
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
    this.path_probe_sent_ms = now_ms;
    this.last_path_probe_ms = now_ms;
    return payload_of(-this.path_probe_seq);
  }

  /**
   * A pong. Returns true when it answered a data probe (the reader moved on).
   * Changes nothing unless it carries a payload this flow sent and has not
   * seen answered: a client can only ever report on itself, and a forged
   * payload is ignored.
   */
  on_pong(payload: Uint8Array, now_ms: number): boolean {
    if (payload.byteLength !== probe_payload_bytes) return false; // uWS's own keep-alive pings carry none
    const offset = new DataView(payload.buffer, payload.byteOffset, probe_payload_bytes).getFloat64(0, true);
    if (offset < 0) {
      if (-offset === this.path_probe_seq && this.path_probe_sent_ms >= 0) {
        this.min_delay_ms = Math.min(this.min_delay_ms, Math.max(0, now_ms - this.path_probe_sent_ms));
        this.path_probe_sent_ms = -1;
      }
      return false;
    }
    if (!this.outstanding(offset) || offset <= this.bytes_read) return false;
    this.bytes_read = offset;
    this.advance(now_ms);
    return true;
  }

  /** An Ack frame: bytes the client application processed (clamped to what was sent). */
  on_ack(bytes_processed: number, now_ms: number): void {
    this.acks_seen = true;
    const bytes = Math.min(bytes_processed, this.bytes_sent);
    if (bytes <= this.bytes_processed) return;
    this.bytes_processed = bytes;
    this.advance(now_ms);
  }

  private outstanding(offset: number): boolean {
    for (let k = 0; k < this.probe_count; k++) {
      if (this.probes[2 * ((this.probe_head + k) % this.probe_capacity)] === offset) return true;
    }
    return false;
  }

  /** Retires answered probes (one delay sample: the newest), takes a rate sample, resizes the window. */
  private advance(now_ms: number): void {
    if (now_ms - this.last_advance_ms >= this.limits.reader_lag_target_ms) {
      this.burst_from_bytes = this.sample_offset_acked;
      this.burst_start_ms = now_ms;
    }
    this.last_advance_ms = now_ms;
    // The path's delay as known before this answer: the answer itself includes the round's transfer.
    const path_delay_ms = this.min_delay_ms === Infinity ? 0 : this.min_delay_ms;
    const acked = this.bytes_acked;
    this.sample_offset_acked = acked;
    let newest_sent_ms = -1;
    while (this.probe_count > 0 && this.probes[2 * this.probe_head] <= acked) {
      newest_sent_ms = this.probes[2 * this.probe_head + 1];
      this.probe_head = (this.probe_head + 1) % this.probe_capacity;
      this.probe_count--;
    }
    if (newest_sent_ms >= 0) {
      const delay = Math.max(0, now_ms - newest_sent_ms);
      this.lag_ms = delay;
      this.lag_samples++;
      if (delay < this.min_delay_ms) this.min_delay_ms = delay;
    }
    this.sample_rate(acked, now_ms);
    if (this.round_start_bytes >= 0 && acked === this.bytes_sent) {
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
  }

  private sample_rate(acked: number, now_ms: number): void {
    if (this.sample_ms < 0) {
      this.start_sample(acked, now_ms);
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
    this.start_sample(acked, now_ms);
    this.resize_window();
  }

  private resize_window(): void {
    const l = this.limits;
    const w = (this.rate_max * l.reader_lag_target_ms) / 1000;
    this.window_bytes = Math.min(l.in_flight_bytes_max, Math.max(l.in_flight_bytes_min, Math.round(w)));
  }

  private start_sample(acked: number, now_ms: number): void {
    this.sample_offset = acked;
    this.sample_ms = now_ms;
    this.sample_in_flight = this.bytes_sent - acked;
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
