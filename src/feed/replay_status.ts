// What a feed knows of a replay playing onto its bus (src/record/replay.ts
// publishes its state on <prefix>.replay once a second): /stats shows it as
// `replay`, and the page shows "REPLAY 10× · replayed time" from there.
// null when no status arrived for stale_ms (no replay, or it stopped).
// Cost: one small JSON parse a second.

import type { Bus, BusSubscription } from '../bus/bus.js';
import type { Subjects } from '../bus/subjects.js';

/** A status older than this means no replay is playing. */
const stale_ms = 3500;
const text = new TextDecoder();

export interface ReplayStatusView {
  state: string;
  speed: number | 'max';
  replayed_time_ms: number;
  pass: number;
  loop: boolean;
  /** When the feed received this status (ms since 1970): the page extrapolates the replayed time from it. */
  received_ms: number;
}

export class ReplayStatusListener {
  private last: ReplayStatusView | null = null;
  private readonly subscription: BusSubscription;

  constructor(bus: Bus, subjects: Subjects) {
    this.subscription = bus.subscribe(subjects.replay, (data) => {
      try {
        const s = JSON.parse(text.decode(data)) as Partial<ReplayStatusView>;
        if (typeof s.replayed_time_ms !== 'number' || (typeof s.speed !== 'number' && s.speed !== 'max')) return;
        this.last = {
          state: String(s.state), speed: s.speed, replayed_time_ms: s.replayed_time_ms, pass: Number(s.pass) || 0,
          loop: s.loop === true, received_ms: Date.now(),
        };
      } catch {
        // not ours to fail on: a malformed status is ignored, the last good one ages out
      }
    });
  }

  now(): ReplayStatusView | null {
    return this.last !== null && Date.now() - this.last.received_ms <= stale_ms ? this.last : null;
  }

  close(): void {
    this.subscription.unsubscribe();
  }
}
