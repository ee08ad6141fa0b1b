// When a conflating connection may stream again: one decision, one owner
// (Session asks; this answers). Pure: time passed in.
//
// It remembers what the stream needed when the connection last streamed
// (bytes/s, measured over at least stream_rate_window_ms of streaming time,
// short stretches added up), and how long to wait after a failed try: a lag
// episode that follows less than stream_stable_ms of streaming doubles the
// wait (stream_retry_ms_min … stream_retry_ms_max), so a reader just below the
// stream's rate does not flap between the two modes; a long stable stretch
// resets it. Buffer episodes (uWS's own buffer) do not back off: their
// enter/exit hysteresis already keeps them from flapping.
//
// The reader can take the stream again when no probe is overdue and either
// its measured capacity (ReaderFlow: catch-up rounds read, bytes over time)
// exceeds what the stream needed with stream_capacity_headroom, or it read
// instant_rounds_min rounds in a row at once (too fast to measure each) at a
// rate, over the streak, above that same need (small rounds come back within
// the instant bound from a reader at a fifth of the stream's rate too: without
// this, such a reader went back to the stream every retry and fell behind
// again, 7 times in 15 s), or it has
// just read a lag target's worth of the stream at once (a paused reader that
// resumed). Before the stream's rate is known: its latest probe came back
// about as fast as the path allows.
//
// Cost: a few additions per flush while streaming; O(1) per decision.

import type { ConflationCause } from './feed_types.js';
import type { ReaderFlow } from './reader_flow.js';

/** First wait before a conflating connection may try streaming again. */
export const stream_retry_ms_min = 250;
/** Longest wait between tries, reached by doubling while tries keep failing. */
export const stream_retry_ms_max = 8000;
/** Streaming this long without falling behind resets the wait. */
export const stream_stable_ms = 10_000;
/** The stream's byte rate is measured over at least this much streaming time (short stretches add up). */
export const stream_rate_window_ms = 250;
/** A conflating reader streams again only with this much more capacity than the stream needs. */
export const stream_capacity_headroom = 1.25;
/** Or after this many catch-up rounds in a row read at once (ReaderFlow.instant_rounds), answering within the gate, fast enough over the streak. */
export const instant_rounds_min = 5;

export type { ConflationCause } from './feed_types.js';

export class StreamGate {
  /** Bytes/s the connection was sent while it streamed (kept while it conflates; 0 until measured). */
  stream_bytes_per_s = 0;
  private window_bytes = 0;
  /** Streaming time in the current measurement before the current stretch. */
  private window_ms = 0;
  private window_start_ms: number;
  private streaming_since_ms: number;
  /** 0 at first; doubled from stream_retry_ms_min while lag episodes follow short stretches of streaming. */
  private retry_ms = 0;
  private retry_at_ms = 0;
  private episodes = 0;

  constructor(now_ms: number, private readonly lag_target_ms: number) {
    this.window_start_ms = now_ms;
    this.streaming_since_ms = now_ms;
  }

  /** Bytes went out while streaming; true when that updated stream_bytes_per_s. */
  streamed(bytes: number, now_ms: number): boolean {
    this.window_bytes += bytes;
    const elapsed_ms = this.window_ms + now_ms - this.window_start_ms;
    if (elapsed_ms < stream_rate_window_ms) return false;
    const rate = (this.window_bytes * 1000) / elapsed_ms;
    this.stream_bytes_per_s = this.stream_bytes_per_s === 0 ? rate : (this.stream_bytes_per_s + rate) / 2;
    this.window_bytes = 0;
    this.window_ms = 0;
    this.window_start_ms = now_ms;
    return true;
  }

  /** The connection starts conflating: the stream's clock pauses, and a lag episode sets the wait before the next try. */
  conflating(cause: ConflationCause, now_ms: number): void {
    this.window_ms += now_ms - this.window_start_ms;
    if (cause === 'lag') {
      this.retry_ms = this.episodes === 0 || now_ms - this.streaming_since_ms >= stream_stable_ms
        ? 0 : Math.min(stream_retry_ms_max, Math.max(stream_retry_ms_min, this.retry_ms * 2));
    }
    this.retry_at_ms = cause === 'lag' ? now_ms + this.retry_ms : now_ms;
    this.episodes++;
  }

  /** The connection streams again. */
  streaming(now_ms: number): void {
    this.streaming_since_ms = now_ms;
    this.window_start_ms = now_ms;
  }

  /** May a conflating connection whose reader is `flow` (null: not probed) stream now? */
  may_stream(flow: ReaderFlow | null, now_ms: number): boolean {
    if (now_ms < this.retry_at_ms) return false;
    if (flow === null) return true;
    if (flow.lagging(now_ms)) return false;
    const stream = this.stream_bytes_per_s;
    const prompt = flow.prompt;
    if (stream === 0) return prompt;
    return flow.rate_bytes_per_s >= stream_capacity_headroom * stream
      || (prompt && flow.instant_rounds >= instant_rounds_min && flow.instant_rate_bytes_per_s >= stream_capacity_headroom * stream)
      || flow.burst_bytes(now_ms) >= (stream * this.lag_target_ms) / 1000;
  }
}
