// The one owner of the feed's outbound counts: every frame and byte the feed
// sends is counted through this class, and nothing else in src writes
// FeedCounters' outbound fields (snapshots_out_total, deltas_out_total,
// heartbeats_out_total, other_frames_out_total, bytes_out_total,
// conflated_frames_total, catch_up_snapshots_total,
// conflated_updates_merged_total). The callers only say what left:
//   - a view's Snapshot queued to start a subscriber (Session.start_view);
//   - a view's Delta, once per encode: queued to some subscribers and published
//     to the others' topic (Fanout.flush_symbol);
//   - a resumed subscription's catch-up Delta (requests.ts);
//   - a catch-up (conflation or interval: Session's on_catch_up);
//   - a Heartbeat (FeedScheduler), any other frame: Status, Error, Pong,
//     Refreshed (Fanout.queue_other);
//   - bytes a socket accepted from one flush of direct sends (FrameSender,
//     once per flush);
//   - bytes published to a topic that is not a view's (PublishedTopic: the
//     gateway's streams): `topic_published(frame_bytes, members)`.
// Bytes are counted once: direct sends when the socket accepted them, a
// published frame when it is published (uWS's C++ writes it to every member;
// maxBackpressure is 0 with topics, so it skips none).
//
// Cost: each call is a few additions to plain number fields (no allocation,
// no lookup); V8 inlines them on the fan-out path.

import type { FeedCounters } from './counters.js';

export class Outbound {
  constructor(private readonly counters: FeedCounters) {}

  /** A view's Snapshot queued to one subscriber (a catch-up Snapshot is `catch_up`). */
  snapshot(): void {
    this.counters.snapshots_out_total++;
  }

  /** One encoded Delta of a view: queued to `queued` subscribers (their bytes count when sent) and published to `published` (counted here). */
  view_delta(frame_bytes: number, queued: number, published: number): void {
    const c = this.counters;
    c.deltas_out_total += queued + published;
    c.bytes_out_total += frame_bytes * published;
  }

  /** A resumed subscription's catch-up Delta (from the client's seq to the view's). */
  resumed_delta(): void {
    this.counters.deltas_out_total++;
  }

  /** A catch-up queued to an accumulating subscription: a Snapshot or a conflated Delta, merging `merged` updates. */
  catch_up(snapshot: boolean, merged: number): void {
    const c = this.counters;
    if (snapshot) {
      c.snapshots_out_total++;
      c.catch_up_snapshots_total++;
    } else {
      c.deltas_out_total++;
      c.conflated_frames_total++;
    }
    c.conflated_updates_merged_total += merged;
  }

  heartbeat(): void {
    this.counters.heartbeats_out_total++;
  }

  /** A frame that is not a view's: Status, Error, Pong, Refreshed. */
  other(): void {
    this.counters.other_frames_out_total++;
  }

  /** Bytes a socket accepted from one flush of direct sends (counted once per flush, not per frame). */
  bytes_sent(bytes: number): void {
    this.counters.bytes_out_total += bytes;
  }

  /** One frame published to a topic that is not a view's (PublishedTopic), for `members` connections: its bytes, once per member. */
  topic_published(frame_bytes: number, members: number): void {
    this.counters.bytes_out_total += frame_bytes * members;
  }
}
