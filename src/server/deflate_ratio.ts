// How much permessage-deflate shrinks the catch-ups a lagging reader gets,
// sampled: the reader's measured rate is in uncompressed bytes, so a rate
// measured on deflated catch-ups must be divided by this before it is
// compared with what the (uncompressed) stream needs (src/feed/stream_gate.ts).
//
// Cost: one zlib deflate of one frame at most every sample_interval_ms for
// the whole process (about 50 µs for a 4 KB catch-up), whatever the number of
// connections; reading the ratio is a field read.
import { deflateRawSync } from 'node:zlib';

/** One frame is deflated at most this often, process-wide. */
export const deflate_sample_interval_ms = 200;
/** What a catch-up of price levels deflates by before anything is measured (measured here: 3.9). */
export const deflate_ratio_initial = 3;
/** Weight of a new sample in the moving average. */
const sample_weight = 0.2;

let ratio = deflate_ratio_initial;
let last_sample_ms = -Infinity;

/** Uncompressed ÷ deflated size of the frames sent compressed lately; samples `frame` when one is due. */
export function deflate_ratio(frame: Uint8Array, now_ms: number): number {
  if (now_ms - last_sample_ms >= deflate_sample_interval_ms && frame.byteLength > 0) {
    last_sample_ms = now_ms;
    const deflated = deflateRawSync(frame).byteLength; // zlib's default level, as uWS compresses
    ratio = ratio * (1 - sample_weight) + (frame.byteLength / Math.max(1, deflated)) * sample_weight;
  }
  return ratio;
}
