// Which of one connection's subscriptions get their view's Deltas through the
// view's topic (uWS publish: one call per update for all its subscribers,
// written to each socket by uWS's C++), and this connection's share of what
// was published to them. Session (session.ts) decides when a subscription
// streams, and keeps the order (it sends what it queued before joining a
// topic, and sends at once while on one); this only joins, leaves and counts.
//
// Every socket that takes topics also holds anchor_topic, which nothing is
// published to: uWS frees a socket's subscriber state, with the messages
// published to it and not yet written, when it leaves its LAST topic
// (test/integration/uws_topics.test.ts shows it), and a conflating
// connection leaves all its views' topics at once.
//
// Cost: a topic subscribe or unsubscribe (native) per mode change; collect()
// is one pass over the connection's subscriptions, no allocation.

import type { Subscription } from './subscription.js';
import type { ClientTransport } from './transport.js';

/** A topic every topic-taking socket holds and nothing is published to (see above). */
export const anchor_topic = '#anchor';

export class SessionTopics {
  /** The transport takes topics (uWS with --fanout-topics). */
  readonly enabled: boolean;
  /** Subscriptions on their view's topic now. */
  count = 0;
  /** Frames the last collect() counted. */
  collected_frames = 0;
  private anchored = false;

  constructor(private readonly transport: ClientTransport) {
    this.enabled = transport.subscribe !== undefined;
  }

  /** Puts a published subscription on its view's topic (its position is the view's: everything before was sent). */
  join(sub: Subscription): void {
    if (!this.anchored) {
      this.anchored = true;
      this.transport.subscribe!(anchor_topic);
    }
    this.transport.subscribe!(sub.channel.topic);
    this.count++;
  }

  /** Takes a subscription off its view's topic (its Session moves it out of the view's published set). */
  leave(sub: Subscription): void {
    this.transport.unsubscribe!(sub.channel.topic);
    this.count--;
  }

  /** Bytes published to these subscriptions' topics since the last call (collected_frames: frames); each remembers what it counted. */
  collect(subs: Iterable<Subscription>): number {
    let bytes = 0;
    let frames = 0;
    for (const sub of subs) {
      if (sub.mode !== 'published') continue;
      const ch = sub.channel;
      bytes += ch.published_bytes - sub.published_bytes_seen;
      frames += ch.published_frames - sub.published_frames_seen;
      sub.published_bytes_seen = ch.published_bytes;
      sub.published_frames_seen = ch.published_frames;
    }
    this.collected_frames = frames;
    return bytes;
  }
}
