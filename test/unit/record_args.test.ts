// Small pure parts of record/replay: time arguments (ms or ISO-8601 with a
// zone, ms resolution) and what the page's replay badge says.
import { describe, expect, it } from 'vitest';
import { replay_badge_text } from '../../src/ui/replay_badge.js';
import { parse_time_ms } from '../../src/util/time_arg.js';

describe('time arguments', () => {
  it('reads ms since 1970 and ISO-8601 with a zone, to the ms; refuses the rest', () => {
    expect(parse_time_ms('1796157230804')).toBe(1796157230804);
    expect(parse_time_ms('2026-12-01T20:15:03.250Z')).toBe(Date.UTC(2026, 11, 1, 20, 15, 3, 250));
    expect(parse_time_ms('2026-12-01T21:15:03.250+01:00')).toBe(Date.UTC(2026, 11, 1, 20, 15, 3, 250));
    expect(parse_time_ms('2026-12-01T20:15Z')).toBe(Date.UTC(2026, 11, 1, 20, 15));
    for (const bad of ['yesterday', '2026-12-01T20:15:03', '2026-12-01', '-5', '1.5', '', '2026-13-45T99:99:99Z']) expect(parse_time_ms(bad), bad).toBeUndefined();
  });
});

describe('replay badge', () => {
  it('hidden when live; speed, replayed time moving at that speed, pass and state when replaying', () => {
    expect(replay_badge_text(null, 0)).toBeNull();
    const t = Date.UTC(2026, 11, 1, 20, 15, 3, 250);
    expect(replay_badge_text({ state: 'playing', speed: 10, replayed_time_ms: t, pass: 0 }, 100)).toBe('REPLAY 10× · 2026-12-01 20:15:04.250 UTC');
    expect(replay_badge_text({ state: 'ended', speed: 10, replayed_time_ms: t, pass: 2 }, 5000)).toBe('REPLAY 10× · 2026-12-01 20:15:03.250 UTC · pass 3 · ended');
    expect(replay_badge_text({ state: 'playing', speed: 'max', replayed_time_ms: t, pass: 0 }, 5000)).toBe('REPLAY max · 2026-12-01 20:15:03.250 UTC');
    expect(replay_badge_text({ state: 'ready', speed: 1, replayed_time_ms: 0, pass: 0 }, 0)).toBe('REPLAY 1× · — · ready');
  });
});
