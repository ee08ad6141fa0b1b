// The header's replay badge: "REPLAY 10× · 2026-12-01 20:15:03.250 UTC" while
// the feed's bus carries a replay (docs/RECORDING.md, Status), hidden
// otherwise. The feed's /stats says so in `replay`; the page reads it every
// few seconds and moves the replayed time on by the speed in between, so the
// clock ticks smoothly without a request per tick.
// Cost: one GET /stats per poll_ms while the tab is visible (none hidden), a
// text update per second.

const poll_ms = 3000;
const tick_ms = 250;

interface ReplayInfo {
  state: string;
  speed: number | 'max';
  replayed_time_ms: number;
  pass: number;
}

/** What the badge says: null = no replay (badge hidden). Pure, for tests. */
export function replay_badge_text(info: ReplayInfo | null, ms_since_fetch: number): string | null {
  if (info === null) return null;
  const moving = info.state === 'playing' && typeof info.speed === 'number';
  const t = info.replayed_time_ms + (moving ? ms_since_fetch * (info.speed as number) : 0);
  const speed = info.speed === 'max' ? 'max' : `${info.speed}×`;
  const when = info.replayed_time_ms > 0 ? new Date(t).toISOString().replace('T', ' ').replace('Z', ' UTC') : '—';
  const state = info.state === 'playing' ? '' : ` · ${info.state}`;
  return `REPLAY ${speed} · ${when}${info.pass > 0 ? ` · pass ${info.pass + 1}` : ''}${state}`;
}

export class ReplayBadge {
  private info: ReplayInfo | null = null;
  private fetched_ms = 0;

  constructor(private readonly badge: HTMLElement, private readonly tag: HTMLElement | null) {
    void this.poll();
    setInterval(() => { if (!document.hidden) void this.poll(); }, poll_ms);
    setInterval(() => this.show(), tick_ms);
  }

  /** The last status read (the end-to-end test reads it). */
  get status(): ReplayInfo | null {
    return this.info;
  }

  private async poll(): Promise<void> {
    try {
      const res = await fetch('/stats', { cache: 'no-store' });
      if (!res.ok) return;
      const stats = (await res.json()) as { replay?: ReplayInfo | null };
      this.info = stats.replay ?? null;
      this.fetched_ms = Date.now();
      this.show();
    } catch {
      // the feed is away: the connection state on the canvas says so; keep the last badge
    }
  }

  private show(): void {
    if (document.hidden) return;
    const text = replay_badge_text(this.info, Date.now() - this.fetched_ms);
    this.badge.hidden = text === null;
    if (text !== null) this.badge.textContent = text;
    if (this.tag !== null) this.tag.textContent = text === null ? 'live L2' : 'replay';
  }
}
