// The load generator against a real in-process depthcast (engine, embedded
// bus, uWS feed, real sockets), run programmatically with worker threads as
// the CLI runs it: books verified with zero digest mismatches through slow
// readers and a reconnect storm; a 1 s stall of the engine's output shows in
// p99.9; the report files parse (JSON, .hlog through HdrHistogram's own log
// reader, HTML with its SVG and data); the CLI's exit codes and compare.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HistogramLogReader, listTags } from 'hdr-histogram-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, start_feed_service, type AllInOne, type FeedService } from '../../src/app.js';
import { FaultBus } from '../helpers/fault_bus.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { series_hops, series_names } from '../../loadgen/messages.js';
import { cli_main } from '../../loadgen/cli.js';
import { summary_text } from '../../loadgen/report.js';
import { run_loadgen, type LoadgenResult } from '../../loadgen/run.js';
import { test_config, wait_for } from '../helpers/service.js';

const run_file = promisify(execFile);
const repo = new URL('../..', import.meta.url).pathname;
const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];

/**
 * The engine's side of the bus, able to hold everything the engine publishes
 * for a while and then deliver it in order: the engine keeps matching and
 * stamping events at their real time, as when its process or its link to NATS
 * stalls after matching. The stall's clock starts at the first message held,
 * so a busy test machine cannot shorten it.
 */
class StallingBus extends FaultBus {
  private held: [string, Uint8Array][] | null = null;
  private stall_ms = 0;
  private release_timer: ReturnType<typeof setTimeout> | null = null;
  held_messages = 0;

  stall(ms: number): void {
    this.held = [];
    this.stall_ms = ms;
  }

  override publish(subject: string, data: Uint8Array): void {
    if (this.held === null) {
      this.inner.publish(subject, data);
      return;
    }
    this.held.push([subject, data]);
    this.release_timer ??= setTimeout(() => {
      const held = this.held ?? [];
      this.held = null;
      this.release_timer = null;
      this.held_messages += held.length;
      for (const [s, d] of held) this.inner.publish(s, d);
    }, this.stall_ms);
  }

}

function read_hlog(path: string): { tags: string[]; counts: Record<string, number>; intervals: number } {
  const text = readFileSync(path, 'utf8');
  const reader = new HistogramLogReader(text);
  const counts: Record<string, number> = {};
  let intervals = 0;
  for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
    intervals++;
    counts[h.tag ?? ''] = (counts[h.tag ?? ''] ?? 0) + h.totalCount;
  }
  return { tags: listTags(text), counts, intervals };
}

describe('loadgen against the real feed', () => {
  let all: AllInOne;
  const out_root = mkdtempSync(join(tmpdir(), 'depthcast-loadgen-'));
  let paused_run: LoadgenResult;

  beforeAll(async () => {
    all = await start_all(test_config({ symbols, rate_orders_per_s: 1500 }));
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    await all?.stop();
    rmSync(out_root, { recursive: true, force: true });
  });

  it('verifies every book through paused readers and a reconnect storm: zero digest mismatches', async () => {
    const lines: string[] = [];
    const out_dir = join(out_root, 'paused');
    paused_run = await run_loadgen({
      urls: [all.feed_service.url], clients: 20, workers: 1, duration_s: 5, symbols_per_client: 2,
      slow_fraction: 0.2, slow_mode: 'paused', reconnect_storms: [{ percent: 50, at_s: 2 }], seed: 5, out_dir,
      // This run is about verification; on a busy 2-core box the worker may lag, which must not turn exit 0 into 3.
      allow_saturated: true,
    }, { on_progress: (line) => lines.push(line) });
    const s = paused_run.summary;
    // On failure, the run's own summary says what happened.
    const said = summary_text(s);
    expect(s.checks, said).toEqual({ passed: true, problems: [] });
    expect(paused_run.exit_code).toBe(0);
    const c = s.counters;
    expect(c.digest_mismatches).toBe(0);
    expect(c.crossed_books).toBe(0);
    expect(c.invalid_frames).toBe(0);
    expect(c.decode_errors).toBe(0);
    expect(c.deltas).toBeGreaterThan(100);
    expect(c.snapshots).toBeGreaterThanOrEqual(40);
    expect(s.plan.slow_clients).toBe(4);
    expect(s.connections.slow_pauses, said).toBeGreaterThanOrEqual(1);
    // After the run the paused readers read again, through their backlog, verifying every frame.
    expect(s.connections.drain_released, said).toBe(4);
    expect(s.connections.drain_caught_up, said).toBe(4);
    // Half of the clients were dropped (TCP reset) and came back by themselves.
    expect(s.plan.storms).toEqual([{ at_s: 2, percent: 50, clients: 10 }]);
    expect(s.connections.storm_drops, said).toBeGreaterThanOrEqual(1);
    expect(c.reconnects, said).toBeGreaterThanOrEqual(s.connections.storm_drops);
    expect(s.connections.closes_by_code['1006'], said).toBeGreaterThanOrEqual(1);
    expect(s.connections.connected_at_end, said).toBe(20);
    expect(s.latency_us.fast!.engine_to_receive!.count).toBeGreaterThan(0);
    expect(s.latency_us.fast_events!.engine_to_receive!.count).toBeGreaterThan(0);
    expect(s.timeline.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/connected \d+\/20 \| [\d,]+ frames\/s .* p99 [\d.]+ ms .* per trade p99 [\d.]+/);

    // The files: summary.json is the summary; the .hlog reads back with HdrHistogram's
    // reader and holds exactly the samples of the totals, per series and hop; the HTML is self-contained.
    expect(JSON.parse(readFileSync(join(out_dir, 'summary.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(s)));
    const hlog = read_hlog(s.files.hlog);
    const tags = series_names.flatMap((name) => series_hops[name].map((hop) => `${name}.${hop}`));
    expect(hlog.tags.sort()).toEqual([...tags].sort());
    expect(hlog.intervals).toBeGreaterThanOrEqual(tags.length * s.timeline.length);
    for (const name of series_names) {
      for (const hop of series_hops[name]) expect(hlog.counts[`${name}.${hop}`], `${name}.${hop}`).toBe(s.latency_us[name]![hop]!.count);
    }
    const html = readFileSync(join(out_dir, 'report.html'), 'utf8');
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(4);
    expect(html).toContain('nines');
    expect(html).not.toMatch(/<script(?! type="application\/json")|<link |src="http/);
    const embedded = /<script type="application\/json" id="loadgen-summary">([\s\S]*?)<\/script>/.exec(html)![1];
    expect(JSON.parse(embedded).counters).toEqual(c);
  });

  let throttled_run: LoadgenResult;

  it('throttled readers with Zipf symbols over two workers: still zero mismatches', async () => {
    throttled_run = await run_loadgen({
      urls: [all.feed_service.url], clients: 12, workers: 2, duration_s: 3, symbols_per_client: 2, symbol_dist: 'zipf', depth: 0,
      slow_fraction: 0.25, slow_mode: 'throttled', slow_read_bytes_per_s: 2048, out_dir: join(out_root, 'throttled'),
    }, { on_progress: () => {} });
    const s = throttled_run.summary;
    expect(s.checks, summary_text(s)).toEqual({ passed: true, problems: [] });
    expect(s.counters.digest_mismatches).toBe(0);
    expect(s.plan.workers).toBe(2);
    expect(s.connections.slow_pauses).toBeGreaterThanOrEqual(1);
    expect(s.counters.deltas).toBeGreaterThan(0);
  });

  it('CLI: a bad value exits 2 naming the flag; --help lists the options; compare prints ratios', async () => {
    // One real process for the exit status; the rest in-process through the same entry.
    const spawned = run_file('npx', ['tsx', 'loadgen/cli.ts', '--clients', 'abc'], { cwd: repo })
      .then(() => ({ code: 0, stderr: '' }), (err: { code: number; stderr: string }) => err);
    const cli = async (...args: string[]) => {
      const out = { stdout: '', stderr: '' };
      const code = await cli_main(args, { stdout: (t) => { out.stdout += t; }, stderr: (t) => { out.stderr += t; } });
      return { code, ...out };
    };
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const flag of ['--url', '--clients', '--symbols-per-client', '--symbol-dist', '--slow-mode', '--reconnect-storm', '--workers', '--source-addresses', '--out']) {
      expect(help.stdout).toContain(flag);
    }
    const compare = await cli('compare', paused_run.summary.files.summary, throttled_run.summary.files.summary);
    expect(compare.code).toBe(0);
    expect(compare.stdout).toMatch(/^frames\/s .*\d\.\d{3}$/m);
    expect(compare.stdout).toMatch(/^per trade engine→receive p99 \(ms\)/m);
    const missing = await cli('compare', join(out_root, 'nope.json'), throttled_run.summary.files.summary);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('cannot read (ENOENT)') });
    expect((await cli('--slow-fraction', '2')).stderr).toContain('--slow-fraction: must be at most 1, got 2');
    const bad = await spawned;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--clients: expected an integer, got 'abc'");
  });
});

describe('a 1 s stall after the engine stamps its events', () => {
  let bus: MemoryBus;
  let engine_bus: StallingBus;
  let engine: EngineHandle;
  let feed: FeedService;
  const out_dir = mkdtempSync(join(tmpdir(), 'depthcast-loadgen-stall-'));

  beforeAll(async () => {
    const config = test_config({ symbols: ['BTC-USD', 'ETH-USD'], rate_orders_per_s: 1000 });
    bus = new MemoryBus();
    engine_bus = new StallingBus(bus);
    engine = await start_engine(config, engine_bus);
    feed = await start_feed_service(config, bus);
    await wait_for('feed live', () => feed.feed.health().ready);
  });

  afterAll(async () => {
    await feed?.stop();
    await engine?.stop();
    await bus?.close();
    rmSync(out_dir, { recursive: true, force: true });
  });

  it('shows up in p99.9: stalled frames carry their engine time, so nothing is omitted', async () => {
    let stalled = false;
    // allow_saturated: the stall is the point here, whatever the worker's own lag.
    const run = await run_loadgen({ urls: [feed.url], clients: 20, workers: 1, duration_s: 4, out_dir, allow_saturated: true }, {
      on_progress: () => {},
      on_interval: () => {
        if (stalled) return;
        stalled = true;
        engine_bus.stall(1000);
      },
    });
    expect(stalled).toBe(true);
    expect(engine_bus.held_messages).toBeGreaterThan(0);
    // Per trade, every engine event held in the stall is a sample of up to 1 s.
    const per_trade = run.summary.latency_us.fast_events!.engine_to_receive!;
    expect(run.summary.counters.digest_mismatches).toBe(0);
    expect(per_trade.p99_9, summary_text(run.summary)).toBeGreaterThanOrEqual(900_000);
    expect(per_trade.negative_samples).toBe(0);
  });
});
