// What it measures: how stale a slow reader's book gets, against how fast it
// reads, with the per-connection reader flow (pings carrying the byte offset;
// in-flight cap = measured rate x lag target) against the buffer-only
// detection it replaced (`--reader-probe-interval-ms 0`: slowness seen only in
// uWS's own buffer), in ONE run: same engine rate, same readers, one server
// process per mode, one after the other.
//
// 1. Staleness vs read rate. Readers subscribe to BTC-USD at full depth
//    through test/helpers/throttle_proxy.py (a small SO_RCVBUF toward the
//    feed, a fixed byte rate: 1/2, 1/5 and 1/20 of the subscription's rate,
//    measured first on a fast reader), plus one reader paused for --pause-s
//    then resumed. Staleness, sampled every 50 ms, is now minus ts_engine_ns of
//    the newest frame the reader has read, corrected for the clock offset
//    between the two processes (Ping/Pong with the smallest round trip).
//    Goal: p99 <= 1 s at every rate with the reader flow.
// 2. Cost to everybody else: fast readers' engine->receive p99 with 10% slow
//    readers (1/5 rate) against none, alternating windows in one server
//    process. Goal: ratio <= 1.1. Run again with buffer-only detection as the
//    control (slow readers present, no server work for them within a window):
//    that ratio is the harness's share. Each window also reports this
//    process's event-loop delay and the server's and proxies' CPU, and (with
//    tcpdump) the fast readers' latency at the wire: engine → the packet
//    that carried each frame to them (harness/wire_capture.ts), the server's
//    whole share with no client process in it; its ratio per round.
// 3. Memory per slow reader: (server RSS growth + the kernel's send queues of
//    their sockets) / readers, for --rss-readers readers at 1/20. Goal <= 512 KB.
//
// Cores (2 here): the server is pinned to core 0, this process (all readers)
// to core 1 when taskset exists; the proxies and tcpdump, started by it,
// inherit core 1. Results:
// bench/results/slow_readers.json and an SVG chart in slow_readers.html.
// The readers are in harness/reader_clients.ts, the chart in
// harness/slow_readers_chart.ts; this file holds the phases.
//
// Run: npx tsx bench/e2e/slow_readers.bench.ts [--quick] [--rate N] [--duration-s N] [--pause-s N]
//      [--rss-readers N] [--fast-readers N] [--window-s N] [--rounds N] [--depth 0|10|50] [--only-fast-cost] [--no-wire]
//      [--only staleness|fast-cost|memory] [--mode reader_flow|buffer_only]
// The whole run takes ~20 min; --only runs one phase (--mode: one mode of it), prints it and writes nothing, so
// the phases fit one at a time under a shared CPU lock (the results file always holds a whole run).
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernel_send_queues } from '../../src/server/kernel_queues.js';
import { has_flag } from '../../src/util/flags.js';
import { process_rss_bytes } from '../../src/util/host.js';
import { ThrottleProxy } from '../../test/helpers/throttle_proxy.js';
import { median, median_interval_95, quantiles_ms, results_dir, round, write_result } from '../lib.js';
import { arg, quick, string_arg } from './harness/args.js';
import { estimate_clock_offset } from './harness/clock_offset.js';
import { cpu_seconds } from './harness/orchestrate.js';
import { FastReader, Reader, subscription_bytes_per_s, type ReaderView } from './harness/reader_clients.js';
import { pin_self, slow_consumer_stats, start_depthcast, taskset_exists, type ServerProcess } from './harness/server_process.js';
import { staleness_chart_html } from './harness/slow_readers_chart.js';
import { depthcast_frame_stamps, tcpdump_exists, WireCapture, type WireSummary } from './harness/wire_capture.js';
import { new_bench_latency_histogram } from './harness/stats.js';
import { LoopLagMeter } from '../../loadgen/loop_lag.js';

const rate = arg('--rate', 2000);
const duration_s = arg('--duration-s', quick ? 12 : 30);
const pause_s = arg('--pause-s', quick ? 5 : 15);
const rss_readers = arg('--rss-readers', quick ? 10 : 100);
const rss_s = arg('--rss-s', quick ? 8 : 20);
const fast_readers = arg('--fast-readers', 18);
const window_s = arg('--window-s', quick ? 4 : 6);
/** Rounds of the fast-cost phase: a p99 of a few hundred µs moves by ±20% between windows here, so a 10% goal needs many (a 95% interval of the median needs at least 6). */
const rounds = arg('--rounds', quick ? 1 : 15);
const fractions = [2, 5, 20];
/** One phase alone (printed, not written): --only-fast-cost is --only fast-cost. */
const only_phase = has_flag(process.argv.slice(2), '--only-fast-cost') ? 'fast-cost' : string_arg('--only');
const only_mode = string_arg('--mode');
/** The readers' view depth (0 = full book, the heaviest stream); results go to slow_readers[_depthN].json. */
const depth = arg('--depth', 0);
const result_name = depth === 0 ? 'slow_readers' : `slow_readers_depth${depth}`;
const rcvbuf_bytes = 4096;
const sample_ms = 50;
const live_staleness_ms = 500;
const symbols = ['BTC-USD', 'ETH-USD'];
const pin = taskset_exists;
/** Also measure the fast readers at the wire (tcpdump; --no-wire skips it): no client harness in that number. */
const wire = tcpdump_exists && !has_flag(process.argv.slice(2), '--no-wire');
/** The readers' one view. */
const view: ReaderView = { symbol: 'BTC-USD', depth };

const modes = [
  { name: 'reader_flow', probe_interval_ms: 100, what: 'pings with the byte offset + Acks; cap = rate x 500 ms' },
  { name: 'buffer_only', probe_interval_ms: 0, what: "uWS's own buffer only (the previous detection)" },
] as const;
type ModeName = (typeof modes)[number]['name'];

if (pin) pin_self(1);

const start_server = (probe_interval_ms: number): Promise<ServerProcess> => start_depthcast(
  ['--rate', String(rate), '--symbols', symbols.join(','), '--reader-probe-interval-ms', String(probe_interval_ms)], pin ? 0 : null);

/** Server clock − ours (ns). */
async function clock_offset_ns(port: number): Promise<number> {
  return (await estimate_clock_offset(port)).offset_ns;
}

/** What the server's conflation did for the readers (its /stats). */
async function conflation_counters(port: number): Promise<Record<string, unknown>> {
  const s = await slow_consumer_stats(port);
  return { conflation_episodes_by_cause_total: s.conflation_episodes_by_cause_total, slow_closes_total: s.slow_closes_total, conflated_frames_total: s.conflated_frames_total };
}

// ---- 1. staleness vs read rate ----

async function staleness_run(mode: (typeof modes)[number]): Promise<Record<string, unknown>> {
  const server = await start_server(mode.probe_interval_ms);
  const proxies: ThrottleProxy[] = [];
  try {
    const offset = await clock_offset_ns(server.port);
    const sub_rate = await subscription_bytes_per_s(server.port, offset, view);
    const readers: { name: string; reader: Reader; proxy: ThrottleProxy }[] = [];
    for (const f of fractions) {
      const proxy = await ThrottleProxy.start(server.port, rcvbuf_bytes, sub_rate / f);
      proxies.push(proxy);
      readers.push({ name: `1/${f}`, reader: await Reader.open(proxy.url, offset, view), proxy });
    }
    const paused_proxy = await ThrottleProxy.start(server.port, rcvbuf_bytes, 50e6);
    proxies.push(paused_proxy);
    const paused = await Reader.open(paused_proxy.url, offset, view);
    await sleep(5000); // snapshots read, readers settled
    const samples = new Map(readers.map((r) => [r.name, [] as number[]]));
    const kernel_max = new Map<string, number>();
    const after_resume: number[] = [];
    let live_after_ms = -1;
    const pause_at_ms = 3000;
    const t0 = Date.now();
    let paused_now = false;
    let resumed_at = 0;
    let bytes_at_resume = 0;
    let kernel_during_pause_max = 0;
    while (Date.now() - t0 < duration_s * 1000) {
      await sleep(sample_ms);
      const t = Date.now() - t0;
      for (const r of readers) samples.get(r.name)!.push(r.reader.staleness_ms());
      const queues = kernel_send_queues(server.port).map((q) => q.send_queue_bytes);
      const kmax = Math.max(0, ...queues);
      kernel_max.set('all', Math.max(kernel_max.get('all') ?? 0, kmax));
      if (!paused_now && resumed_at === 0 && t >= pause_at_ms) {
        await paused_proxy.pause();
        paused_now = true;
      } else if (paused_now && t >= pause_at_ms + pause_s * 1000) {
        await paused_proxy.resume();
        paused_now = false;
        resumed_at = Date.now();
        bytes_at_resume = paused.bytes;
      } else if (paused_now) {
        kernel_during_pause_max = Math.max(kernel_during_pause_max, kmax);
      } else if (resumed_at > 0) {
        const s = paused.staleness_ms();
        if (live_after_ms < 0 && s < live_staleness_ms) live_after_ms = Date.now() - resumed_at;
        if (live_after_ms >= 0) after_resume.push(s); // once live again: does it stay live?
      }
    }
    const out: Record<string, unknown> = {
      mode: mode.name, what: mode.what, subscription_bytes_per_s: Math.round(sub_rate), clock_offset_us: round(offset / 1000, 1),
      readers: Object.fromEntries(readers.map((r) => [r.name, {
        read_bytes_per_s: Math.round(sub_rate / Number(r.name.slice(2))), ...quantiles_ms(samples.get(r.name)!),
        conflated_frames: r.reader.conflated, bytes: r.reader.bytes, closed_with: r.reader.closed_with,
      }])),
      paused: {
        pause_s, live_after_resume_ms: live_after_ms, staleness_after_resume: quantiles_ms(after_resume),
        bytes_after_resume_s: paused.bytes - bytes_at_resume, kernel_send_queue_during_pause_max_bytes: kernel_during_pause_max,
        closed_with: paused.closed_with,
      },
      kernel_send_queue_max_bytes: kernel_max.get('all') ?? 0,
      server: await conflation_counters(server.port),
    };
    for (const r of readers) r.reader.ws.terminate();
    paused.ws.terminate();
    return out;
  } finally {
    for (const p of proxies) p.close();
    await server.stop();
  }
}

// ---- 2. fast readers' p99 with 10% slow readers vs none ----

/**
 * What one kind of window (with slow readers, or without) cost: the fast
 * readers' latency, and beside it the harness's own share: this process's
 * event-loop delay (every reader is decoded here) and the CPU the proxies and
 * the server used, per second of window.
 */
class WindowCost {
  readonly latency = new_bench_latency_histogram();
  /** The server's engine→send of the same frames (FastReader.server_latency): no client harness in it. */
  readonly server_latency = new_bench_latency_histogram();
  /** The last window's server engine→send p99 (µs). */
  last_server_p99 = 0;
  /** The same frames at the wire (harness/wire_capture.ts), per window: engine → the packet that carried each to a fast reader. */
  readonly wire: WireSummary[] = [];
  /** This process's own lag over the measured windows only (stopped between them). */
  readonly loop_lag = new LoopLagMeter(1, false);
  seconds = 0;
  server_cpu_s = 0;
  proxies_cpu_s = 0;

  /** Measures one window; resolves to its own p99 (µs). */
  async measure_window(fast: FastReader[], window_ms: number, server: ServerProcess, proxy_pids: number[]): Promise<number> {
    const server_pid = server.pid;
    // Only what the server sends the fast readers: their latency at the wire, with no client process in it.
    const capture = wire ? await WireCapture.start(server.port, pin ? 1 : null, fast.map((f) => f.local_port)) : null;
    const server_0 = cpu_seconds(server_pid);
    const proxies_0 = proxy_pids.reduce((t, pid) => t + cpu_seconds(pid), 0);
    const window = new_bench_latency_histogram();
    const server_window = new_bench_latency_histogram();
    for (const f of fast) {
      f.latency = window;
      f.server_latency = server_window;
    }
    this.loop_lag.start();
    return sleep(window_ms).then(async () => {
      this.loop_lag.stop();
      if (capture !== null) this.wire.push(await capture.stop(depthcast_frame_stamps));
      for (const f of fast) {
        f.latency = null;
        f.server_latency = null;
      }
      this.latency.add(window);
      this.server_latency.add(server_window);
      this.last_server_p99 = server_window.getValueAtPercentile(99);
      this.seconds += window_ms / 1000;
      this.server_cpu_s += cpu_seconds(server_pid) - server_0;
      this.proxies_cpu_s += proxy_pids.reduce((t, pid) => t + cpu_seconds(pid), 0) - proxies_0;
      return window.getValueAtPercentile(99);
    });
  }

  summary(): Record<string, number> {
    const h = this.latency;
    return {
      samples: h.totalCount, p50_us: h.getValueAtPercentile(50), p99_us: h.getValueAtPercentile(99), max_us: h.maxValue,
      server_engine_to_send_p50_us: this.server_latency.getValueAtPercentile(50), server_engine_to_send_p99_us: this.server_latency.getValueAtPercentile(99),
      harness_loop_delay_p50_us: this.loop_lag.percentile_us(50),
      harness_loop_delay_p99_us: this.loop_lag.percentile_us(99),
      server_cpu_share: round(this.server_cpu_s / this.seconds, 3), proxies_cpu_share: round(this.proxies_cpu_s / this.seconds, 3),
      ...(this.wire.length === 0 ? {} : {
        wire_p99_us_median_of_windows: median(this.wire.map((w) => w.latency_us.p99)),
        wire_p50_us_median_of_windows: median(this.wire.map((w) => w.latency_us.p50)),
        wire_frames: this.wire.reduce((n, w) => n + w.frames, 0),
        wire_capture_lost: this.wire.reduce((n, w) => n + w.capture_dropped + w.truncated_packets + w.resyncs, 0),
      }),
    };
  }
}

/**
 * Fast readers beside 10% slow ones (1/5 rate, through proxies) against none,
 * alternating windows in one server process. With the reader flow (the cost
 * of the server's work for them: probes, catch-up rounds) and with buffer-only
 * detection (the slow readers are there, the server just sends to them as to
 * anyone until their buffers fill, which takes longer than a window): the
 * second ratio is the harness's own share (proxies, decoding, sends).
 */
async function fast_cost_run(mode: (typeof modes)[number]): Promise<Record<string, unknown>> {
  const server = await start_server(mode.probe_interval_ms);
  const proxies: ThrottleProxy[] = [];
  try {
    const offset = await clock_offset_ns(server.port);
    const sub_rate = await subscription_bytes_per_s(server.port, offset, view);
    const fast: FastReader[] = [];
    for (let i = 0; i < fast_readers; i++) fast.push(await FastReader.open(server.port, offset, view));
    await sleep(2000);
    const slow_count = Math.max(1, Math.round(fast_readers / 9)); // 10% of all readers
    const with_slow = new WindowCost();
    const without = new WindowCost();
    const round_ratios: number[] = [];
    const server_round_ratios: number[] = [];
    const wire_round_ratios: number[] = [];
    for (let round_i = 0; round_i < rounds; round_i++) {
      const round_p99 = { with: 0, without: 0 };
      const server_round_p99 = { with: 0, without: 0 };
      const wire_round_p99 = { with: 0, without: 0 };
      for (const slow_first of [round_i % 2 === 0, round_i % 2 !== 0]) {
        const slow: Reader[] = [];
        const window_proxies: ThrottleProxy[] = [];
        if (slow_first) {
          for (let i = 0; i < slow_count; i++) {
            const proxy = await ThrottleProxy.start(server.port, rcvbuf_bytes, sub_rate / 5);
            proxies.push(proxy);
            window_proxies.push(proxy);
            slow.push(await Reader.open(proxy.url, offset, view));
          }
          await sleep(3000); // their snapshots read, their conflation settled
        } else {
          await sleep(1000);
        }
        const cost = slow_first ? with_slow : without;
        round_p99[slow_first ? 'with' : 'without'] = await cost.measure_window(fast, window_s * 1000, server, window_proxies.map((p) => p.pid));
        server_round_p99[slow_first ? 'with' : 'without'] = cost.last_server_p99;
        if (wire) wire_round_p99[slow_first ? 'with' : 'without'] = cost.wire[cost.wire.length - 1].latency_us.p99;
        for (const s of slow) s.ws.terminate();
        for (const p of window_proxies) p.close(); // not left running (idle) for the rest of the run
      }
      round_ratios.push(round(round_p99.with / round_p99.without, 3));
      server_round_ratios.push(round(server_round_p99.with / server_round_p99.without, 3));
      if (wire && wire_round_p99.without > 0) wire_round_ratios.push(round(wire_round_p99.with / wire_round_p99.without, 3));
    }
    for (const f of fast) f.close();
    const p99 = (w: WindowCost) => w.latency.getValueAtPercentile(99);
    return {
      mode: mode.name, fast_readers, slow_readers: slow_count, window_s, rounds,
      without_slow: without.summary(), with_slow: with_slow.summary(),
      p99_ratio: round(p99(with_slow) / p99(without), 3),
      // Per round (a window with and one without, side by side): one noisy window moves the pooled ratio, not the median.
      p99_ratio_per_round: round_ratios, p99_ratio_median_of_rounds: round(median(round_ratios), 3),
      // The same frames' engine→send as the server stamped them: the server's share, free of this process's loop delay.
      server_p99_ratio: round(with_slow.server_latency.getValueAtPercentile(99) / without.server_latency.getValueAtPercentile(99), 3),
      server_p99_ratio_per_round: server_round_ratios, server_p99_ratio_median_of_rounds: round(median(server_round_ratios), 3),
      // At the wire: the fast readers' frames at the packets that carried them (the server's whole share, its writes included).
      ...(wire ? {
        wire_p99_ratio_per_round: wire_round_ratios, wire_p99_ratio_median_of_rounds: round(median(wire_round_ratios), 3),
        wire_p99_ratio_median_interval_95: median_interval_95(wire_round_ratios),
      } : {}),
    };
  } finally {
    for (const p of proxies) p.close();
    await server.stop();
  }
}

async function fast_cost_both(): Promise<Record<ModeName, Record<string, unknown>>> {
  const out = {} as Record<ModeName, Record<string, unknown>>;
  for (const mode of modes) {
    process.stderr.write(`fast readers beside slow ones: ${mode.name}…\n`);
    out[mode.name] = await fast_cost_run(mode);
  }
  return out;
}

// ---- 3. memory per slow reader ----

async function memory_run(mode: (typeof modes)[number]): Promise<Record<string, unknown>> {
  const server = await start_server(mode.probe_interval_ms);
  let proxy: ThrottleProxy | null = null;
  try {
    const offset = await clock_offset_ns(server.port);
    const sub_rate = await subscription_bytes_per_s(server.port, offset, view);
    // The server's own drift over the same time, without the readers, is subtracted.
    const rss_0 = process_rss_bytes(server.pid) ?? 0;
    await sleep(rss_s * 1000);
    const rss_1 = process_rss_bytes(server.pid) ?? 0;
    proxy = await ThrottleProxy.start(server.port, rcvbuf_bytes, sub_rate / 20);
    const readers: Reader[] = [];
    for (let i = 0; i < rss_readers; i++) readers.push(await Reader.open(proxy.url, offset, view));
    await sleep(rss_s * 1000);
    const rss_2 = process_rss_bytes(server.pid) ?? 0;
    const kernel = kernel_send_queues(server.port).map((q) => q.send_queue_bytes);
    const kernel_total = kernel.reduce((n, q) => n + q, 0);
    for (const r of readers) r.ws.terminate();
    const rss_growth = rss_2 - rss_1 - (rss_1 - rss_0);
    return {
      mode: mode.name, readers: rss_readers, seconds: rss_s, rss_before_bytes: rss_1, rss_after_bytes: rss_2, rss_drift_without_readers_bytes: rss_1 - rss_0,
      kernel_send_queue_total_bytes: kernel_total, kernel_send_queue_max_bytes: Math.max(0, ...kernel),
      per_reader_bytes: Math.round((Math.max(0, rss_growth) + kernel_total) / rss_readers),
      per_reader_kernel_bytes: Math.round(kernel_total / rss_readers),
    };
  } finally {
    proxy?.close();
    await server.stop();
  }
}

// ---- main ----

// --only: one phase alone, printed and not written (the results file always holds a whole run).
if (only_phase !== undefined) {
  const chosen = modes.filter((m) => only_mode === undefined || m.name === only_mode);
  if (chosen.length === 0) throw new Error(`--mode ${only_mode}: expected one of ${modes.map((m) => m.name).join(', ')}`);
  const out: Record<string, unknown> = {};
  if (only_phase === 'fast-cost') out.fast_cost = await fast_cost_both();
  else if (only_phase === 'staleness' || only_phase === 'memory') {
    for (const mode of chosen) {
      process.stderr.write(`${only_phase}: ${mode.name}…\n`);
      out[`${only_phase}_${mode.name}`] = only_phase === 'staleness' ? await staleness_run(mode) : await memory_run(mode);
    }
  } else throw new Error(`--only ${only_phase}: expected staleness, fast-cost or memory`);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  process.exit(0);
}
const staleness = {} as Record<ModeName, Record<string, unknown>>;
for (const mode of modes) {
  process.stderr.write(`staleness: ${mode.name}…\n`);
  staleness[mode.name] = await staleness_run(mode);
}
const fast_cost = await fast_cost_both();
const memory = {} as Record<ModeName, Record<string, unknown>>;
for (const mode of modes) {
  process.stderr.write(`memory: ${mode.name}…\n`);
  memory[mode.name] = await memory_run(mode);
}
const flow = staleness.reader_flow as { readers: Record<string, { p99_ms: number }>; paused: { staleness_after_resume: { p99_ms: number } } };
const goals = {
  staleness_p99_ms_max_reader_flow: Math.max(...Object.values(flow.readers).map((r) => r.p99_ms), flow.paused.staleness_after_resume.p99_ms),
  staleness_goal_ms: 1000,
  fast_p99_ratio: (fast_cost.reader_flow as { p99_ratio: number }).p99_ratio,
  fast_p99_ratio_buffer_only_control: (fast_cost.buffer_only as { p99_ratio: number }).p99_ratio,
  fast_server_engine_to_send_p99_ratio: (fast_cost.reader_flow as { server_p99_ratio: number }).server_p99_ratio,
  fast_server_engine_to_send_p99_ratio_buffer_only_control: (fast_cost.buffer_only as { server_p99_ratio: number }).server_p99_ratio,
  fast_wire_p99_ratio_median_of_rounds: (fast_cost.reader_flow as { wire_p99_ratio_median_of_rounds?: number }).wire_p99_ratio_median_of_rounds ?? null,
  fast_wire_p99_ratio_median_interval_95: (fast_cost.reader_flow as { wire_p99_ratio_median_interval_95?: [number, number] | null }).wire_p99_ratio_median_interval_95 ?? null,
  fast_wire_p99_ratio_median_of_rounds_buffer_only_control: (fast_cost.buffer_only as { wire_p99_ratio_median_of_rounds?: number }).wire_p99_ratio_median_of_rounds ?? null,
  fast_p99_ratio_goal: 1.1,
  memory_per_slow_reader_bytes: (memory.reader_flow as { per_reader_bytes: number }).per_reader_bytes,
  memory_per_slow_reader_goal_bytes: 512 * 1024,
};
const path = write_result(result_name, { rate_orders_per_s: rate, depth, pinned: pin, goals, staleness, fast_cost, memory });
writeFileSync(join(results_dir, `${result_name}.html`), staleness_chart_html(staleness, { symbol: view.symbol, depth, fractions, pause_s }));
process.stdout.write(`${JSON.stringify({ goals }, null, 2)}\nwrote ${path} and ${result_name}.html\n`);
process.exit(0);
