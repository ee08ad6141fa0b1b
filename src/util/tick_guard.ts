// Whether a periodic deadline check may judge now, or this process was just
// held up. After a stall (a busy page, GC, a loaded machine) the event loop
// runs its due timers before it reads sockets, so a timer that asks "heard
// nothing for N ms?" would see everything that arrived meanwhile as silence
// (an SDK heartbeat watchdog, the feed's engine-silence check). A tick that
// comes more than two intervals after the previous one judges nothing; the
// next one, after the sockets were read, does. At most one tick is skipped in
// a row, so a timer that is always late (a throttled background tab) still
// judges every other tick.
//
// Cost: one subtraction and two comparisons per tick; no allocation.

export class TickGuard {
  private last_ms: number;
  private skipped = false;

  /** `interval_ms`: the timer's period; `now_ms`: the time it starts. */
  constructor(private readonly interval_ms: number, now_ms: number) {
    this.last_ms = now_ms;
  }

  /** Call once per tick: false when this tick came late after a stall and must not judge deadlines. */
  may_judge(now_ms: number): boolean {
    const late = now_ms - this.last_ms > 2 * this.interval_ms;
    this.last_ms = now_ms;
    if (late && !this.skipped) {
      this.skipped = true;
      return false;
    }
    this.skipped = false;
    return true;
  }
}
