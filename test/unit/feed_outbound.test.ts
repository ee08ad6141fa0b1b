// The feed's outbound counts have one owner (src/feed/outbound.ts): what each
// of its calls counts, and that no other file under src/ writes an outbound
// field of FeedCounters (a second writer is how the counts drifted apart:
// issue 23).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { new_feed_counters } from '../../src/feed/counters.js';
import { Outbound } from '../../src/feed/outbound.js';

const repo = new URL('../..', import.meta.url).pathname;
const outbound_fields = [
  'snapshots_out_total', 'deltas_out_total', 'heartbeats_out_total', 'other_frames_out_total', 'bytes_out_total',
  'conflated_frames_total', 'catch_up_snapshots_total', 'conflated_updates_merged_total',
];
/** A write to one of them: `++`, `+=`, `-=` or `=` (not `==`). */
const writes = new RegExp(`\\.(${outbound_fields.join('|')})\\s*(\\+\\+|\\+=|-=|=(?!=))`);

function source_files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'dist' || e.name === 'generated' ? [] : source_files(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('Outbound: the one owner of the outbound counts', () => {
  it('counts each kind of frame and its bytes once', () => {
    const c = new_feed_counters();
    const out = new Outbound(c);
    out.snapshot();
    out.view_delta(100, 3, 2); // 5 Deltas; the 2 published counted now, the 3 queued when the socket takes them
    out.bytes_sent(300);
    out.resumed_delta();
    out.catch_up(true, 7);
    out.catch_up(false, 4);
    out.heartbeat();
    out.other();
    out.topic_published(50, 4);
    expect(c.snapshots_out_total).toBe(2);
    expect(c.catch_up_snapshots_total).toBe(1);
    expect(c.deltas_out_total).toBe(5 + 1 + 1);
    expect(c.conflated_frames_total).toBe(1);
    expect(c.conflated_updates_merged_total).toBe(11);
    expect(c.heartbeats_out_total).toBe(1);
    expect(c.other_frames_out_total).toBe(1);
    expect(c.bytes_out_total).toBe(200 + 300 + 200);
  });

  it('no other file under src/ writes an outbound counter', () => {
    const offenders: string[] = [];
    for (const file of source_files(join(repo, 'src'))) {
      const name = relative(repo, file);
      if (name === join('src', 'feed', 'outbound.ts')) continue;
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (writes.test(line)) offenders.push(`${name}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the scan would see a write (the check can fail)', () => {
    expect(writes.test('this.counters.deltas_out_total += n;')).toBe(true);
    expect(writes.test('counters.heartbeats_out_total++;')).toBe(true);
    expect(writes.test('if (c.bytes_out_total === 0) return;')).toBe(false);
  });
});
