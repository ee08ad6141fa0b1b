// A topic that is not a view's: frames someone other than the fan-out encodes
// once per update (the Binance gateway's JSON events, src/gateway/), published
// once to every member connection through uWS (its C++ writes them), and
// accounted exactly like a view's topic: each member Session counts its share
// (the growth of published_bytes since it last counted, SessionTopics.collect)
// as sent, so the feed's flow control (probes, the in-flight cap, 4008/4009/4010)
// judges these connections as it judges those of the binary views, and the
// published tick (feed_scheduler.ts) visits the members after a publish.
// Made by Feed.open_topic; a Session joins and leaves one (Session.join_topic).
//
// Cost per publish: one native publish and two additions, whatever the
// number of members; nothing per member in JS.

import type { SubscriptionOwner } from './subscription.js';
import type { TopicPublisher } from './transport.js';

/** One connection's membership of a PublishedTopic: what it had counted of it (SessionTopics.collect). */
export interface TopicMember {
  readonly owner: SubscriptionOwner;
  /** The topic whose published counts its share is read from (SessionTopics.collect). */
  readonly topic_counters: PublishedTopic;
  published_bytes_seen: number;
  published_frames_seen: number;
}

export class PublishedTopic {
  /** The members (the published tick visits their owners, as it does a view's published subscribers). */
  readonly published = new Set<TopicMember>();
  /** Bytes and frames published since the topic was made (a member's share is the growth since it counted). */
  published_bytes = 0;
  published_frames = 0;

  /** on_publish: the feed marks the topic for its published tick and counts the frame's bytes once per member (Outbound.topic_published). */
  constructor(readonly topic: string, private readonly publisher: TopicPublisher, private readonly on_publish: (t: PublishedTopic, frame_bytes: number) => void) {}

  /** Publishes one frame to every member (nothing when there is none). */
  publish(frame: Uint8Array): void {
    if (this.published.size === 0) return;
    this.publisher.publish(this.topic, frame);
    this.published_bytes += frame.byteLength;
    this.published_frames++;
    this.on_publish(this, frame.byteLength);
  }
}
