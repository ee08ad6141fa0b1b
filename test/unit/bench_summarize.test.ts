// bench/summarize.ts turns bench/results/*.json into bench/README.md's results
// section: the README's numbers must come from the files, and a broken file
// must be reported by name rather than silently skipped.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fmt, load_results, render_results, replace_results, results_begin, results_end, summarize, SummarizeError } from '../../bench/summarize.js';

const dirs: string[] = [];
function temp_dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'depthcast-summarize-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const machine = { cpu_model: 'Test CPU', cores: 2, memory_bytes: 1, memory_free_bytes: 1, load_average_1m: 0.5, node: 'v20.0.0', os: 'Linux' };

const fanout = {
  name: 'fanout', timestamp: '2026-01-02T03:04:05.678Z', machine, what: 'fan-out at saturation', cores: 'core 0 / core 1',
  workload: { clients: 500, views_per_client: 4, frames_per_tick: 1.6, bytes_per_frame: 310, rounds: 3, measure_s: 4 },
  results: {
    depthcast: { delivered_frames_per_s: 123456, server_cpu_us_per_frame: 4.321, frames_per_server_cpu_s: 231000, server_cpu_cores: 0.53, server_runqueue_wait_cores: 0.1, client_cpu_cores: 0.9, bottleneck: 'clients', latency_us: { p50: 1500, p99: 9000, p99_9: 12000, max: 15000 }, gaps: 0 },
    uws: { delivered_frames_per_s: 150000, server_cpu_us_per_frame: 3.1, frames_per_server_cpu_s: 322000, server_cpu_cores: 0.48, server_runqueue_wait_cores: 0.05, client_cpu_cores: 0.95, bottleneck: 'clients', latency_us: { p50: 900, p99: 5000, p99_9: 7000, max: 8000 }, gaps: 0 },
  },
  ratios: {
    depthcast_to_uws_frames_per_server_cpu_s: { median: 0.717, rounds: [0.7, 0.717, 0.73] },
    depthcast_to_ws_frames_per_server_cpu_s: { median: 6.5, rounds: [6.1, 6.5, 7] },
  },
  goals: { at_least_0_9_of_uws: { ratio: 0.717, met: false }, at_least_10x_ws: { ratio: 6.5, met: false } },
  load_average_1m_start: 3.25,
};

const other = {
  name: 'matcher', timestamp: '2026-01-02T03:04:05.678Z', machine, what: 'matcher ops/s',
  matcher: { ops_per_s: 5_200_000, ops_per_s_best: 5_800_000, runs_ops_per_s: [1, 2] },
  ratio_matcher_to_map: 0.388, meets_goal: true, orders: 1_000_000,
};

const sweep_kind = (p50: number, p99: number, loop_lag_p99: number, ingest_p99: number | null) => ({
  achieved_ticks_per_s: 30, kept_up: true, delivered_frames_per_s: 94000, server_cpu_cores: 0.4, server_runqueue_wait_cores: 0.01, bottleneck: 'none',
  latency_us: { p50, p99, p99_9: p99 * 2, max: p99 * 3 }, co_latency_us: { p99: p99 + 100 }, schedule_lag_us: { p99: 12 },
  client_loop_lag_us: { p99: loop_lag_p99, max: loop_lag_p99 * 2 },
  hops_us: ingest_p99 === null ? null : { ingest_to_receive: { p50: 700, p99: ingest_p99, p99_9: ingest_p99 + 1 } },
});

const latency_sweep = {
  name: 'latency_sweep', timestamp: '2026-01-02T03:04:05.678Z', machine, what: 'latency against throughput', cores: 'core 0 / core 1',
  latency_stamp: 'stamps', floor: 'uws', harness_share_max: 0.25,
  workload: { clients: 1000, depths: [10], views_per_client: 4, frames_per_tick: 3.1, bytes_per_frame: 245, rounds: 2, measure_s: 3 },
  saturation: { defined_by: 'depthcast', why: 'levels are fractions of depthcast\'s saturation', ticks_per_s: 61.5, uws_ticks_per_s: 70.2 },
  levels: [
    {
      load_pct: 50, offered_ticks_per_s: 30.8, results: { depthcast: sweep_kind(2100, 6400, 900, 5800), uws: sweep_kind(1900, 5000, 800, null) },
      p99_ratio: { median: 1.28, rounds: [1.2, 1.36] }, p50_ratio: { median: 1.1, rounds: [1.1] }, p99_9_ratio: { median: 1.3, rounds: [1.3] },
      ingest_to_client_p99_ratio: { median: 1.16, rounds: [1.16] }, ingest_to_client_us: { p50: 700, p99: 5800, p99_9: 5801 },
      goal: { ratio_max: 1.5, met: true },
      harness: { client_loop_lag_p99_us: { depthcast: 900, uws: 800 }, share_of_p99: { depthcast_p99: 0.14 }, harness_limited: false },
    },
    {
      load_pct: 90, offered_ticks_per_s: 55.4, results: { depthcast: sweep_kind(4000, 40000, 12000, 39000), uws: sweep_kind(2000, 9000, 3000, null) },
      p99_ratio: { median: 4.44, rounds: [4.44] }, p50_ratio: { median: 2, rounds: [2] }, p99_9_ratio: { median: 4, rounds: [4] },
      ingest_to_client_p99_ratio: { median: 4.33, rounds: [4.33] }, ingest_to_client_us: { p50: 3000, p99: 39000, p99_9: 39001 },
      goal: null,
      harness: { client_loop_lag_p99_us: { depthcast: 12000, uws: 3000 }, share_of_p99: { depthcast_p99: 0.3 }, harness_limited: true },
    },
  ],
  goals: {
    p99_within_1_5x_of_uws_up_to_75pct: { ratio_max: 1.5, load_pct_max: 75, met: true, ratios: { 50: 1.28 }, harness_limited_levels: [] },
    ingest_to_client_p99_at_50pct: { us: 5800, aim_us_max: 1000, met: false },
  },
  load_average_1m_start: 0.4,
};

describe('bench/summarize', () => {
  it('renders the fan-out servers, ratios and goal verdicts from the result file', () => {
    const dir = temp_dir();
    writeFileSync(join(dir, 'fanout.json'), JSON.stringify(fanout));
    const text = render_results(load_results(dir));
    expect(text).toContain('### fanout (`bench/results/fanout.json`)');
    expect(text).toMatch(/\| depthcast \| 123\.5k \| 4\.321 \| 231\.0k \|/);
    expect(text).toMatch(/\| uws \| 150\.0k \| 3\.1 \| 322\.0k \|/);
    expect(text).toContain('| depthcast ÷ uws, frames per server CPU-s | 0.717 (rounds: 0.7, 0.717, 0.73) | ≥ 0.9: **not met** |');
    expect(text).toContain('| depthcast ÷ ws, frames per server CPU-s | 6.5 (rounds: 6.1, 6.5, 7) | ≥ 10: **not met** |');
    expect(text).toContain('load average (1 min) 3.25 at start, 0.5 at end');
  });

  it('renders the goal a fan-out result states for itself (goals.of_uws: its level, interval and rounds at or above it)', () => {
    const dir = temp_dir();
    const of_uws = { metric: 'frames_per_server_cpu_s', goal: 0.95, ratio: 0.717, interval: [0.7, 0.73], rounds_meeting_goal: 0, rounds: 3, met: false };
    writeFileSync(join(dir, 'fanout_depths_10_50_0.json'), JSON.stringify({ ...fanout, name: 'fanout_depths_10_50_0', goals: { of_uws, at_least_10x_ws: fanout.goals.at_least_10x_ws } }));
    const text = render_results(load_results(dir));
    expect(text).toContain('| depthcast ÷ uws, frames per server CPU-s | 0.717 (rounds: 0.7, 0.717, 0.73) | ≥ 0.95: **not met** (interval 0.7–0.73; 0 of 3 rounds at or above it) |');
  });

  it('renders the latency sweep: a ratio and a verdict per load, the ingest→client p99 and the harness-limited flag', () => {
    const dir = temp_dir();
    writeFileSync(join(dir, 'latency_sweep.json'), JSON.stringify(latency_sweep));
    const text = render_results(load_results(dir));
    expect(text).toContain('### latency_sweep (`bench/results/latency_sweep.json`)');
    expect(text).toContain('Saturation: **61.5 ticks/s**, depthcast\'s (uws: 70.2)');
    expect(text).toContain('| 50% | 30.8 | 1.28 (rounds: 1.2, 1.36) | ≤ 1.5: met | 5800 | 1.16 | 900 / 800 | no |');
    expect(text).toContain('| 90% | 55.4 | 4.44 (rounds: 4.44) | – (no goal above 75%) | 39.0k | 4.33 | 12.0k / 3000 | **yes** |');
    expect(text).toContain('Goal: depthcast\'s p99 ≤ 1.5× uws\'s at every load up to 75%: met.');
    expect(text).toContain('ingest→client p99 at 50%: 5800 µs (aim < 1000 µs: **not met**)');
    expect(text).toMatch(/\| depthcast \| 30 \| yes \| 94\.0k \| 0\.4 \(\+0\.01\) \| 2100 \| 6400 \| 12\.8k \| 19\.2k \| 6500 \| 700 \/ 5800 \/ 5801 \| 12 \| 900 \| none \|/);
    expect(text).toMatch(/\| uws \| 30 \| yes \| 94\.0k \| 0\.4 \(\+0\.01\) \| 1900 \| 5000 \| 10\.0k \| 15\.0k \| 5100 \| – \| 12 \| 800 \| none \|/);
  });

  it('shows headline numbers of benches it has no layout for, and skips their raw runs', () => {
    const dir = temp_dir();
    writeFileSync(join(dir, 'matcher.json'), JSON.stringify(other));
    const text = render_results(load_results(dir));
    expect(text).toContain('`matcher 5.20M/s`');
    expect(text).toContain('`ratio_matcher_to_map 0.388`');
    expect(text).toContain('`meets_goal yes`');
    expect(text).not.toContain('orders 1');
  });

  it('looks one level into nested objects for ratios and goals', () => {
    const dir = temp_dir();
    writeFileSync(join(dir, 'slow.json'), JSON.stringify({
      name: 'slow', timestamp: '2026-01-02T03:04:05.678Z', machine,
      latency: { clients: 50, p99_ratio: 1.05, goal_met: true, deeper: { p99_ratio: 9 } },
    }));
    const text = render_results(load_results(dir));
    expect(text).toContain('`latency.p99_ratio 1.05` · `latency.goal_met yes`');
    expect(text).not.toContain('deeper');
  });

  it('names a result file that does not parse', () => {
    const dir = temp_dir();
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(other));
    writeFileSync(join(dir, 'broken.json'), '{"name": "broken", ');
    expect(() => load_results(dir)).toThrow(SummarizeError);
    expect(() => load_results(dir)).toThrow(/broken\.json: not valid JSON/);
  });

  it('replaces only the section between the markers, and refuses a README without them', () => {
    const readme = `# Title\n\nintro\n\n${results_begin}\nold numbers\n${results_end}\n\nafter\n`;
    const out = replace_results(readme, 'new numbers');
    expect(out).toBe(`# Title\n\nintro\n\n${results_begin}\n\nnew numbers\n\n${results_end}\n\nafter\n`);
    expect(replace_results(out, 'new numbers')).toBe(out);
    expect(() => replace_results('# no markers\n', 'x')).toThrow(/no results markers/);
  });

  it('rewrites the README from the files and reports whether it changed', () => {
    const dir = temp_dir();
    writeFileSync(join(dir, 'fanout.json'), JSON.stringify(fanout));
    const readme = join(dir, 'README.md');
    writeFileSync(readme, `# B\n\n${results_begin}\n${results_end}\n`);
    expect(summarize(dir, readme)).toBe(true);
    expect(readFileSync(readme, 'utf8')).toContain('| depthcast | 123.5k |');
    expect(summarize(dir, readme)).toBe(false);
    writeFileSync(join(dir, 'fanout.json'), JSON.stringify({ ...fanout, results: { ...fanout.results, depthcast: { ...fanout.results.depthcast, delivered_frames_per_s: 99999 } } }));
    expect(summarize(dir, readme, false)).toBe(true); // --check: out of date, file left alone
    expect(readFileSync(readme, 'utf8')).toContain('| depthcast | 123.5k |');
  });

  it('formats numbers compactly', () => {
    expect(fmt(1_234_567)).toBe('1.23M');
    expect(fmt(12_345)).toBe('12.3k');
    expect(fmt(9_999)).toBe('9999');
    expect(fmt(4.32109)).toBe('4.321');
    expect(fmt(undefined)).toBe('–');
  });
});
