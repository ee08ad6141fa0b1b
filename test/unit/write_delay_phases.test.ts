// A write-delay class's phases (src/feed/write_delay.ts, "Phases"), on a fake
// clock: members spread over phases by connection id; each phase written
// every delay_ms, the phases in turn on a grid of delay_ms / phases (never
// two phases in one instant); every held frame published once to each
// phase's topic, in order, at most delay_ms after it was held; a member's
// probe goes right after its own phase's write.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Session } from '../../src/feed/session.js';
import type { Subscription, SubscriptionChannel } from '../../src/feed/subscription.js';
import { WriteDelayClass, write_delay_phases_max, type DelayedTopic } from '../../src/feed/write_delay.js';

interface Event { at_ms: number; topic: string; frame?: Uint8Array; probe?: number }

function rig(delay_ms: number) {
  const events: Event[] = [];
  const cls = new WriteDelayClass(delay_ms, {
    publisher: () => ({ publish: (topic: string, frame: Uint8Array) => { events.push({ at_ms: Date.now(), topic, frame }); } }),
    on_publish: () => {},
  });
  const ch = { topic: 'BTC-USD|10', delayed: [] as DelayedTopic[], delayed_members: 0 } as unknown as SubscriptionChannel;
  const join = (id: number): DelayedTopic => cls.join({ channel: ch, owner: { id } } as unknown as Subscription);
  const session = (id: number): Session => ({ id, send_waiting_probe: () => { events.push({ at_ms: Date.now(), topic: '', probe: id }); } }) as unknown as Session;
  return { cls, ch, events, join, session };
}

beforeEach(() => { vi.useFakeTimers({ now: 1_000_000 }); });
afterEach(() => { vi.useRealTimers(); });

describe('write delay phases', () => {
  it('spreads members over phases written in turn: each every delay_ms, every frame once per phase, in order, within delay_ms', () => {
    const delay_ms = 20;
    const { cls, ch, events, join } = rig(delay_ms);
    expect(cls.phases).toBe(write_delay_phases_max);
    for (let id = 1; id <= 8; id++) join(id);
    const delayed = (ch as unknown as { delayed: DelayedTopic[] }).delayed;
    expect(delayed.map((t) => t.topic).sort()).toEqual(['BTC-USD|10@20.0', 'BTC-USD|10@20.1', 'BTC-USD|10@20.2', 'BTC-USD|10@20.3']);
    // A Delta every 0.5 ms (as the fan-out holds one for every phase topic of the view) for 300 ms.
    const held_at = new Map<Uint8Array, number>();
    const frames: Uint8Array[] = [];
    for (let t = 0; t < 600; t++) {
      const frame = new Uint8Array([t & 255, t >> 8]);
      frames.push(frame);
      held_at.set(frame, Date.now());
      for (const d of delayed) d.hold(frame);
      vi.advanceTimersByTime(0.5);
    }
    vi.advanceTimersByTime(2 * delay_ms);
    for (const d of delayed) {
      const mine = events.filter((e) => e.topic === d.topic);
      expect(mine.map((e) => e.frame)).toEqual(frames); // every frame once, in order
      for (const e of mine) expect(e.at_ms - held_at.get(e.frame!)!).toBeLessThanOrEqual(delay_ms);
      // Its writes: one instant per delay_ms.
      const writes = [...new Set(mine.map((e) => e.at_ms))];
      for (let i = 1; i < writes.length; i++) expect(writes[i] - writes[i - 1]).toBe(delay_ms);
    }
    // Never two phases in one instant; the instants of the class's writes are delay_ms / phases apart.
    const instants = new Map<number, Set<string>>();
    for (const e of events) (instants.get(e.at_ms) ?? instants.set(e.at_ms, new Set()).get(e.at_ms)!).add(e.topic);
    for (const topics of instants.values()) expect(topics.size).toBe(1);
    const times = [...instants.keys()];
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(delay_ms / cls.phases);
    expect(cls.writes).toBe(events.length > 0 ? times.length : 0);
  });

  it('sends a member\'s probe right after its own phase\'s write, and within delay_ms when nothing is held', () => {
    const { cls, ch, events, join, session } = rig(20);
    for (let id = 1; id <= 4; id++) join(id);
    const delayed = (ch as unknown as { delayed: DelayedTopic[] }).delayed;
    const frame = new Uint8Array([1]);
    for (const d of delayed) d.hold(frame);
    cls.probe_with_write(session(3));
    const phase_topic = delayed.find((d) => d.phase === cls.phase_of({ id: 3 }))!.topic;
    vi.advanceTimersByTime(20);
    const probe = events.findIndex((e) => e.probe === 3);
    expect(probe).toBeGreaterThan(0);
    expect(events[probe - 1].topic).toBe(phase_topic); // right behind its phase's frames
    expect(events[probe - 1].at_ms).toBe(events[probe].at_ms);
    // Nothing held: the probe still goes, at its phase's next slot.
    const asked = Date.now();
    cls.probe_with_write(session(2));
    vi.advanceTimersByTime(20);
    const late = events.find((e) => e.probe === 2);
    expect(late).toBeDefined();
    expect(late!.at_ms - asked).toBeLessThanOrEqual(20);
  });

  it('has one phase when delay_ms is too short to split, and its topic is the plain <view>@<N>', () => {
    const { cls, join } = rig(6);
    expect(cls.phases).toBe(1);
    expect(join(7).topic).toBe('BTC-USD|10@6');
  });
});
