// Which of one connection's subscriptions get their view's Deltas through the
// view's topic (uWS publish: one call per update for all its subscribers,
// written to each socket by uWS's C++; or, for a connection with a write
// delay, its delay class's topic of the view: write_delay.ts), which topics that are not a view's it
// holds (published_topic.ts: the gateway's streams), and this connection's
// share of what was published to all of them. Session (session.ts) decides when a subscription
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
// is one pass over the published subscriptions (an array kept by join and
// leave, not the connection's Map of all of them: the published tick runs it
// for every connection 20 times a second), no allocation.

import type { PublishedTopic, TopicMember } from './published_topic.js';
import type { Subscription, SubscriptionOwner } from './subscription.js';
import type { ClientTransport } from './transport.js';
import { check } from './invariants.js';
import type { TopicCounters, WriteDelayClass } from './write_delay.js';

/** One share of what is published: whose counts it reads (a view's topic, a delay class's, another topic) and what it last counted. Subscription and TopicMember are ones. */
interface TopicShare {
  readonly topic_counters: TopicCounters;
  published_bytes_seen: number;
  published_frames_seen: number;
}

/** A topic every topic-taking socket holds and nothing is published to (see above). */
export const anchor_topic = '#anchor';

export class SessionTopics {
  /** The transport takes topics (uWS with --fanout-topics). */
  readonly enabled: boolean;
  /**
   * Every share of what is published that this connection holds now, subscriptions on their view's topic and
   * members of other topics alike (one array collect() walks; order does not matter).
   */
  private readonly shares: TopicShare[] = [];
  /** How many of the shares are subscriptions on their view's topic. */
  private published_subs = 0;
  /** Topics that are not a view's held now (PublishedTopic: the gateway's streams). */
  private readonly members = new Map<PublishedTopic, TopicMember>();
  /** Frames the last collect() counted. */
  collected_frames = 0;
  private anchored = false;

  /** `write_delay`: the connection's write-delay class (write_delay.ts); its views' Deltas come through the class's topics. */
  constructor(private readonly transport: ClientTransport, private readonly write_delay: WriteDelayClass | null) {
    this.enabled = transport.subscribe !== undefined;
  }

  /** Subscriptions on their view's topic now. */
  get count(): number {
    return this.published_subs;
  }

  /** Topics held now, views' and others'. */
  get held(): number {
    return this.shares.length;
  }

  private anchor(): void {
    if (this.anchored) return;
    this.anchored = true;
    this.transport.subscribe!(anchor_topic);
  }

  /** Joins a topic that is not a view's; its share is counted from now on. */
  join_topic(owner: SubscriptionOwner, topic: PublishedTopic): void {
    if (this.members.has(topic)) return;
    const member: TopicMember = { owner, topic_counters: topic, published_bytes_seen: topic.published_bytes, published_frames_seen: topic.published_frames };
    this.anchor();
    this.transport.subscribe!(topic.topic);
    this.members.set(topic, member);
    this.shares.push(member);
    topic.published.add(member);
  }

  /** Leaves a topic that is not a view's (its caller counted its share first). */
  leave_topic(topic: PublishedTopic): void {
    const member = this.members.get(topic);
    if (member === undefined) return;
    this.members.delete(topic);
    this.remove_share(member);
    topic.published.delete(member);
    this.transport.unsubscribe!(topic.topic);
  }

  /** Leaves every topic that is not a view's (the connection closed). */
  leave_all_topics(): void {
    for (const topic of [...this.members.keys()]) this.leave_topic(topic);
  }

  /**
   * Puts a published subscription on its view's topic, or its write-delay class's topic of the view (its
   * position is the view's: everything before was sent); its share is counted from here.
   */
  join(sub: Subscription): void {
    this.anchor();
    const counters = this.write_delay === null ? sub.channel : this.write_delay.join(sub);
    sub.topic_counters = counters;
    sub.published_bytes_seen = counters.published_bytes;
    sub.published_frames_seen = counters.published_frames;
    this.transport.subscribe!(counters.topic);
    this.shares.push(sub);
    this.published_subs++;
  }

  /** Before a published subscription's share is counted for the last time: its class's held frames of the view go out (write_delay.ts). */
  before_leave(sub: Subscription): void {
    this.write_delay?.before_leave(sub);
  }

  /** Takes a subscription off its view's topic (its Session moves it out of the view's published set). */
  leave(sub: Subscription): void {
    this.transport.unsubscribe!(sub.topic_counters.topic);
    this.write_delay?.leave(sub);
    sub.topic_counters = sub.channel;
    this.remove_share(sub);
    this.published_subs--;
  }

  private remove_share(share: TopicShare): void {
    const list = this.shares;
    const i = list.indexOf(share);
    check(i >= 0, 'a share leaves only a topic it holds');
    list[i] = list[list.length - 1]; // swap-remove: a connection holds a handful
    list.pop();
  }

  /** Bytes published to the published subscriptions' topics and the other topics held since the last call (collected_frames: frames); each remembers what it counted. */
  collect(): number {
    let bytes = 0;
    let frames = 0;
    const shares = this.shares;
    for (let i = 0; i < shares.length; i++) {
      const share = shares[i];
      const t = share.topic_counters;
      bytes += t.published_bytes - share.published_bytes_seen;
      frames += t.published_frames - share.published_frames_seen;
      share.published_bytes_seen = t.published_bytes;
      share.published_frames_seen = t.published_frames;
    }
    this.collected_frames = frames;
    return bytes;
  }
}
