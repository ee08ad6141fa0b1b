// Loadgen options, the run plan and compare: flags parse, bad values name
// their flag, and the plan (symbols, slow clients, storm victims) depends on
// the seed alone, not on the number of workers.
import { describe, expect, it } from 'vitest';
import { seeded_random } from '../../src/util/random.js';
import { LoadgenOptionError, check_options, default_options, write_delay_ms_default, parse_loadgen_args, parse_source_addresses, type LoadgenOptions } from '../../loadgen/options.js';
import { clients_of_worker, pick_symbols, plan_run, stats_url, zipf_cumulative } from '../../loadgen/plan.js';
import { compare_text, parse_summary, progress_line, summary_format, summary_text, summary_warnings, type LoadgenSummary } from '../../loadgen/report.js';
import { nines_x, render_html } from '../../loadgen/report_html.js';
import { judge_saturation, saturation_share_max_default } from '../../loadgen/saturation.js';

function run_options(argv: string[]): LoadgenOptions {
  const parsed = parse_loadgen_args(argv);
  if (parsed.command !== 'run') throw new Error(`expected run, got ${parsed.command}`);
  return parsed.options;
}

function flag_of(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof LoadgenOptionError) return err.flag;
    throw err;
  }
  throw new Error('expected a LoadgenOptionError');
}

describe('loadgen options', () => {
  it('parses every kind of flag', () => {
    const o = run_options([
      '--url', 'ws://127.0.0.1:9000/ws', '--url=ws://127.0.0.1:9001/ws', '--clients', '300', '--symbols', 'AAA,BBB,CCC',
      '--symbols-per-client', '2', '--symbol-dist', 'zipf', '--zipf-exponent', '1.2', '--depth', '0', '--interval-ms', '100',
      '--duration-s', '30', '--warmup-s', '2', '--slow-fraction', '0.1', '--slow-mode', 'throttled', '--slow-read-bytes-per-s', '4096',
      '--transport', 'ws', '--reconnect-storm', '20%@5', '--reconnect-storm', '50%@10s', '--seed', '9', '--workers', '3',
      '--source-addresses', '127.0.0.1-127.0.0.3', '--connect-rate', '500', '--out', '/tmp/x', '--no-progress',
    ]);
    expect(o.urls).toEqual(['ws://127.0.0.1:9000/ws', 'ws://127.0.0.1:9001/ws']);
    expect(o).toMatchObject({
      clients: 300, symbols: ['AAA', 'BBB', 'CCC'], symbols_per_client: 2, symbol_dist: 'zipf', zipf_exponent: 1.2, depth: 0,
      interval_ms: 100, duration_s: 30, warmup_s: 2, slow_fraction: 0.1, slow_mode: 'throttled', slow_read_bytes_per_s: 4096, transport: 'ws', seed: 9, workers: 3,
      source_addresses: ['127.0.0.1', '127.0.0.2', '127.0.0.3'], connect_rate_per_s: 500, out_dir: '/tmp/x', progress: false,
    });
    expect(o.reconnect_storms).toEqual([{ percent: 20, at_s: 5 }, { percent: 50, at_s: 10 }]);
    expect(parse_loadgen_args(['--help'])).toEqual({ command: 'help' });
    expect(parse_loadgen_args(['compare', 'a.json', 'b.json'])).toEqual({ command: 'compare', files: ['a.json', 'b.json'] });
  });

  it('refuses bad values, naming the flag', () => {
    expect(flag_of(() => run_options(['--clients', '0']))).toBe('--clients');
    expect(flag_of(() => run_options(['--clients', '1.5']))).toBe('--clients');
    expect(flag_of(() => run_options(['--depth', '20']))).toBe('--depth');
    expect(flag_of(() => run_options(['--symbol-dist', 'pareto']))).toBe('--symbol-dist');
    expect(flag_of(() => run_options(['--slow-mode', 'sleepy']))).toBe('--slow-mode');
    expect(flag_of(() => run_options(['--transport', 'uws']))).toBe('--transport');
    expect(flag_of(() => run_options(['--slow-fraction', '1.5']))).toBe('--slow-fraction');
    expect(flag_of(() => run_options(['--reconnect-storm', '20@5']))).toBe('--reconnect-storm');
    expect(flag_of(() => run_options(['--reconnect-storm', '150%@5']))).toBe('--reconnect-storm');
    expect(flag_of(() => run_options(['--reconnect-storm', '10%@60', '--duration-s', '10']))).toBe('--reconnect-storm');
    expect(flag_of(() => run_options(['--url', 'http://x/ws']))).toBe('--url');
    expect(flag_of(() => run_options(['--source-addresses', '127.0.0.5-127.0.0.1']))).toBe('--source-addresses');
    expect(flag_of(() => run_options(['--symbols', 'AAA', '--symbols-per-client', '2']))).toBe('--symbols-per-client');
    expect(flag_of(() => run_options(['--warmup-s', '10', '--duration-s', '10']))).toBe('--warmup-s');
    expect(flag_of(() => run_options(['--clients']))).toBe('--clients');
    expect(flag_of(() => run_options(['--bogus', '1']))).toBe('--bogus');
    expect(flag_of(() => parse_loadgen_args(['compare', 'only-one.json']))).toBe('compare');
    expect(() => run_options(['--clients', 'abc'])).toThrow("--clients: expected an integer, got 'abc'");
  });

  it('source addresses: lists, ranges, auto past 15k loopback clients', () => {
    expect(parse_source_addresses('10.0.0.1,10.0.0.2')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(() => parse_source_addresses('300.0.0.1')).toThrow(/IPv4/);
    const big = check_options({ ...default_options(), clients: 40_000, out_dir: '/tmp/x' });
    const plan = plan_run(big, ['AAA']);
    expect(plan.source_addresses).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    const per_address = new Map<string, number>();
    for (const c of plan.clients) per_address.set(c.local_address, (per_address.get(c.local_address) ?? 0) + 1);
    for (const n of per_address.values()) expect(n).toBeLessThanOrEqual(15_000);
    expect(plan_run({ ...big, clients: 100 }, ['AAA']).clients[0].local_address).toBe('');
    expect(flag_of(() => plan_run({ ...big, urls: ['ws://10.1.2.3:8080/ws'] }, ['AAA']))).toBe('--source-addresses');
  });
});

describe('run plan', () => {
  const symbols = Array.from({ length: 20 }, (_, i) => `S${i}`);
  const base = check_options({ ...default_options(), clients: 1000, symbols_per_client: 3, slow_fraction: 0.1, reconnect_storms: [{ percent: 25, at_s: 2 }], out_dir: '/tmp/x' });

  it('depends on the seed, not on the worker count', () => {
    const one = plan_run({ ...base, workers: 1 }, symbols);
    const four = plan_run({ ...base, workers: 4 }, symbols);
    expect(four.clients).toEqual(one.clients);
    expect(four.storms).toEqual(one.storms);
    const other_seed = plan_run({ ...base, seed: 2 }, symbols);
    expect(other_seed.clients.map((c) => c.symbols)).not.toEqual(one.clients.map((c) => c.symbols));
    // Every client runs in exactly one worker.
    const split = [0, 1, 2, 3].flatMap((w) => clients_of_worker(four, w).map((c) => c.index)).sort((a, b) => a - b);
    expect(split).toEqual(one.clients.map((c) => c.index));
  });

  it('has exactly the slow fraction and storm share asked for, and distinct symbols per client', () => {
    const plan = plan_run(base, symbols);
    expect(plan.clients.filter((c) => c.slow).length).toBe(100);
    expect(plan.storms[0].clients.length).toBe(250);
    expect(new Set(plan.storms[0].clients).size).toBe(250);
    for (const c of plan.clients) expect(new Set(c.symbols).size).toBe(3);
  });

  it('zipf favours the first symbols, uniform does not', () => {
    const counts = (dist: 'uniform' | 'zipf') => {
      const random = seeded_random(3);
      const cdf = zipf_cumulative(symbols.length, 1.2);
      const n = new Map<string, number>();
      for (let i = 0; i < 5000; i++) for (const s of pick_symbols(symbols, 1, dist, random, cdf)) n.set(s, (n.get(s) ?? 0) + 1);
      return n;
    };
    const zipf = counts('zipf');
    const uniform = counts('uniform');
    expect(zipf.get('S0')!).toBeGreaterThan(5 * (zipf.get('S19') ?? 0));
    expect(uniform.get('S0')!).toBeLessThan(2 * uniform.get('S19')!);
    // Asking for every symbol still terminates with every symbol once.
    expect(pick_symbols(symbols, 20, 'zipf', seeded_random(1), zipf_cumulative(20, 3)).sort()).toEqual([...symbols].sort());
  });

  it('derives the stats URL from the WebSocket URL', () => {
    expect(stats_url('ws://127.0.0.1:8080/ws')).toBe('http://127.0.0.1:8080/stats');
    expect(stats_url('wss://feed.example:443/ws?x=1')).toBe('https://feed.example/stats');
  });
});

function fake_summary(p99_us: number, frames_per_s: number): LoadgenSummary {
  const hop = { count: 10, mean: 1, p50: 100, p90: 200, p99: p99_us, p99_9: p99_us, p99_99: p99_us, max: p99_us, negative_samples: 0, overflow_samples: 0 };
  return {
    format: summary_format, started_at: '2026-01-01T00:00:00.000Z', duration_s: 10, command: 'test', options: default_options(),
    plan: { symbols: ['AAA'], clients: 10, slow_clients: 0, workers: 1, source_addresses: [], storms: [] },
    host: { cpus: 2, cpu_model: 'x', node: 'v20', platform: 'linux x64' },
    cpu: { loadgen_cpu_s: 1, loadgen_cores_used: 0.1, server_pid: 0, server_cpu_s: null, server_cores_used: null, server_cpu_us_per_frame: null },
    connections: { clients: 10, connected_max: 10, connected_at_end: 10, views_total: 10, views_synced_at_end: 10, closes_by_code: {}, storm_drops: 0, slow_pauses: 0,
      drain_released: 0, drain_caught_up: 0 },
    counters: { frames: frames_per_s * 10, bytes: 1000, deltas: 5 } as LoadgenSummary['counters'],
    errors_by_kind: {}, error_samples: [],
    rates: { frames_per_s, bytes_per_s: 1e6, deltas_per_s: 1, updates_per_s: 1 },
    latency_us: { fast: { engine_to_receive: hop, send_to_receive: hop }, fast_events: { engine_to_receive: hop }, slow: null, slow_events: null },
    percentile_distribution: {
      fast: { engine_to_receive: [{ percentile: 0, value_us: 100 }, { percentile: 99, value_us: p99_us }, { percentile: 100, value_us: p99_us }] },
      fast_events: { engine_to_receive: [{ percentile: 0, value_us: 100 }, { percentile: 100, value_us: p99_us }] }, slow: null, slow_events: null,
    },
    timeline: [], loop_delay_us: { p99_worst: 0, max: 0 },
    saturation: judge_saturation(10, p99_us, saturation_share_max_default), latency_withheld: null, checks: { passed: true, problems: [] }, warnings: [], server_stats_end: null,
    files: { summary: 's', hlog: 'h', html: 'r' },
  };
}

describe('compare and the HTML report', () => {
  it('prints B/A ratios of the main numbers', () => {
    const a = parse_summary(JSON.stringify(fake_summary(2000, 1000)), 'a');
    const b = parse_summary(JSON.stringify(fake_summary(3000, 1500)), 'b');
    const text = compare_text(a, b, 'a.json', 'b.json');
    expect(text).toMatch(/frames\/s.*\s1,000\s+1,500\s+1\.500/);
    expect(text).toMatch(/engine→receive p99 \(ms\).*\s2\s+3\s+1\.500/);
    expect(() => parse_summary('{"format":"other"}', 'x.json')).toThrow(/not a loadgen summary/);
    expect(() => parse_summary('nope', 'x.json')).toThrow(/not JSON/);
  });

  it('warns when the load generator lagged or clocks disagree, and not otherwise', () => {
    const s = fake_summary(2000, 1000);
    expect(summary_warnings(s)).toEqual([]);
    s.loop_delay_us.p99_worst = 120_000;
    s.counters.stale_connections = 3;
    s.latency_us.fast!.engine_to_receive = { ...s.latency_us.fast!.engine_to_receive!, negative_samples: 5 };
    const warnings = summary_warnings(s);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/load generator itself lagged .* 120 ms; 3 sockets/);
    expect(warnings[1]).toMatch(/^5 negative latencies/);
    expect(render_html({ ...s, warnings })).toContain('class="warn"');
  });

  it('prints the write delay the clients asked for beside every latency (summary, progress line, compare, HTML)', () => {
    expect(run_options([]).write_delay_ms).toBe(write_delay_ms_default);
    expect(run_options(['--write-delay-ms', '0']).write_delay_ms).toBe(0);
    expect(run_options(['--write-delay-ms', '50']).write_delay_ms).toBe(50);
    for (const bad of ['-1', 'x', '1.5', '60001']) expect(flag_of(() => run_options(['--write-delay-ms', bad]))).toBe('--write-delay-ms');
    const delayed = fake_summary(25_000, 1000);
    delayed.options = { ...delayed.options, write_delay_ms: 20 };
    const text = summary_text(delayed);
    expect(text).toMatch(/latency \(ms;.*WITH A WRITE DELAY OF 20 ms .*not the feed's latency at delay 0/);
    expect(text).toContain('load generator (write delay 20 ms):');
    const undelayed = fake_summary(2000, 1000);
    undelayed.options = { ...undelayed.options, write_delay_ms: 0 };
    expect(summary_text(undelayed)).toContain('write delay 0: every frame sent at once');
    expect(summary_text(undelayed)).toContain('load generator (write delay 0):');
    const hop = delayed.latency_us.fast!.engine_to_receive!;
    const point = { t_s: 1, connected: 10, frames_per_s: 1, bytes_per_s: 1, p99_us: 1, max_us: 1, resyncs: 0, digest_mismatches: 0, errors: 0, reconnects: 0, loop_delay_us_p99: 0 };
    expect(progress_line(point as Parameters<typeof progress_line>[0], 10, hop, hop, 20)).toContain('| write delay 20 ms: p99 25.0 ms');
    expect(compare_text(undelayed, delayed, 'a', 'b')).toMatch(/A = a .*write delay 0\)\nB = b .*write delay 20 ms\)/);
    expect(render_html(delayed)).toContain('WITH A WRITE DELAY OF 20 ms');
  });

  it('puts percentiles on a nines axis and embeds the data', () => {
    expect(nines_x(0)).toBe(0);
    expect(nines_x(90)).toBeCloseTo(1);
    expect(nines_x(99.9)).toBeCloseTo(3);
    const s = fake_summary(2000, 1000);
    s.error_samples = ['</script><b>x'];
    const html = render_html(s);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script(?! type="application\/json")/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const json = /<script type="application\/json" id="loadgen-summary">([\s\S]*?)<\/script>/.exec(html)![1];
    expect(JSON.parse(json)).toEqual(s);
  });
});
