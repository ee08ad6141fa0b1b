// What it measures: what slow consumers cost everybody else, and what they
// cost the server's memory, with the real server (`depthcast all`: engine +
// feed + uWS) in a child process and real TCP clients.
//
// 1. Latency: fast clients' engine→receive p99 with 10% of the clients paused
//    (their TCP sockets stop reading) against none, in ONE run: same server,
//    same engine rate, same connections. Each round has a baseline window
//    and a paused window (which comes first alternates between rounds; each
//    window follows the same 2 s quiet spell); only the clients that are never
//    paused are measured in both. ratio = p99(paused) ÷ p99(baseline), pooled
//    over the rounds, and per round (median, geometric mean); goal ≤ 1.1.
// 2. Memory: server RSS sampled every second over 60 s (default) after 100
//    paused clients subscribe, each to every symbol at depths 0 and 10, at the
//    same engine rate. Goal: flat after warm-up, ≤ 1 MB per paused client
//    above the RSS before they came.
//
// Latency is the client's receive time minus the frame's ts_engine_ns. The
// two processes anchor src/util/clock.ts separately, so the bench estimates
// the offset between them with Ping/Pong (the sample with the smallest round
// trip) and corrects for it.
//
// Cores (2 here): the server process is pinned to core 0 and this process
// (all clients) to core 1 with `taskset`, when taskset exists. The machine
// may be shared: the ratio, measured in one run, is the number to trust.
// Caveats: a paused socket first fills the kernel's buffers (about 4 MB on
// loopback here), and only then the server's user-space buffer: the kernel's
// part is not in the server's RSS. A resumed client reads that backlog before
// it catches up, so each round waits until no connection is conflating and
// the resumed clients read fresh frames again. All clients share this
// process's thread: the pausable ones decode one frame in 32 only, so that
// pausing them changes this thread's load little (what is measured is the
// server's side).
//
// The clients are in harness/pausable_client.ts, the CPU meter in
// harness/cpu_meter.ts; this file holds the phases.
//
// Run: npx tsx bench/e2e/slow_consumers.bench.ts [--quick] [--rate N] [--clients N]
//      [--rounds N] [--window-s N] [--rss-clients N] [--rss-s N] [--skip-latency] [--skip-rss] [--no-pin]
import { setTimeout as sleep } from 'node:timers/promises';
import { loadavg } from 'node:os';
import type { Histogram } from 'hdr-histogram-js';
import { process_rss_bytes } from '../../src/util/host.js';
import { least_squares_slope, median, round, write_result } from '../lib.js';
import { arg, quick } from './harness/args.js';
import { estimate_clock_offset } from './harness/clock_offset.js';
import { CpuMeter, type CpuShares } from './harness/cpu_meter.js';
import { keep_alive, PausableClient } from './harness/pausable_client.js';
import { heap_used_bytes, pin_self, slow_consumer_stats, start_depthcast, taskset_exists, type ServerProcess } from './harness/server_process.js';
import { new_bench_latency_histogram } from './harness/stats.js';

const argv = process.argv.slice(2);

const rate = arg('--rate', 20_000);
const clients_count = arg('--clients', 50);
const paused_share = 0.1;
const rounds = arg('--rounds', quick ? 2 : 6);
const window_s = arg('--window-s', quick ? 3 : 5);
const rss_clients = arg('--rss-clients', 100);
const rss_s = arg('--rss-s', quick ? 15 : 60);
const rss_fast_clients = 10;
/** Quiet time before each latency window. */
const settle_ms = 2000;
const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'];
/** Pinning (the default) keeps server and clients off each other's core; --no-pin lets the scheduler place them (a busy shared machine). */
const pin = !argv.includes('--no-pin') && taskset_exists;
const server_core = 0;
const client_core = 1;

// ---- the server, in its own process ----

const start_server = (): Promise<ServerProcess> => start_depthcast(['--rate', String(rate), '--symbols', symbols.join(',')], pin ? server_core : null);

function rss_bytes(pid: number): number {
  return process_rss_bytes(pid) ?? 0;
}

function summary(h: Histogram): Record<string, number> {
  return {
    samples: h.totalCount, p50_us: h.getValueAtPercentile(50), p90_us: h.getValueAtPercentile(90), p99_us: h.getValueAtPercentile(99),
    p99_9_us: h.getValueAtPercentile(99.9), max_us: h.maxValue, mean_us: round(h.mean, 1),
  };
}

async function wait_until(what: string, check: () => Promise<boolean>, timeout_ms: number): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// ---- 1. latency of fast clients, with and without paused neighbours ----

async function latency_phase(): Promise<Record<string, unknown>> {
  const server = await start_server();
  try {
    const clock = await estimate_clock_offset(server.port);
    const totals = { baseline: new_bench_latency_histogram(), paused: new_bench_latency_histogram() };
    const cpu = new CpuMeter(server.pid);
    let current: Histogram | null = null;
    const record = (us: number) => { current?.recordValue(Math.max(1, Math.round(us))); };
    const clients: PausableClient[] = [];
    for (let i = 0; i < clients_count; i++) {
      const c = await PausableClient.open(server.port, clock.offset_ns, record);
      c.subscribe([symbols[i % symbols.length]], 10); // one view each: the client process must not be the bottleneck
      clients.push(c);
    }
    const stop_keep_alive = keep_alive(clients);
    const paused_count = Math.round(clients_count * paused_share);
    const pausable = clients.slice(0, paused_count);
    const fast = clients.slice(paused_count);
    for (const c of fast) c.measured = true;
    for (const c of pausable) c.light = true;
    await sleep(5000); // warm-up: JIT, books, kernel buffers
    /** Records the measured clients' latencies for window_s seconds; returns them and the CPU used meanwhile. */
    const measure_window = async (): Promise<[Histogram, CpuShares]> => {
      await sleep(settle_ms); // every window starts after the same quiet spell, whatever came before it
      const h = new_bench_latency_histogram();
      cpu.take();
      current = h;
      await sleep(window_s * 1000);
      current = null;
      return [h, cpu.take()];
    };
    const per_round: Record<string, unknown>[] = [];
    /**
     * 10% stop reading, and a window is measured once all of them conflate (until the kernel's
     * buffers for them are full the server sends to them as to anyone). Stopping, they also take
     * every full book (depth 0), so those buffers fill in seconds rather than a minute; it makes
     * their conflation heavier than one view's: conservative. Then they resume and catch up.
     */
    const paused_window = async () => {
      for (const c of pausable) {
        c.pause();
        c.subscribe(symbols, 0);
      }
      const paused_at = performance.now();
      // (The kernel may take a little more now and then as its windows grow, so a paused client can
      // leave conflation briefly before its buffers are truly full; we wait for all at once.)
      await wait_until('paused clients conflating', async () => (await slow_consumer_stats(server.port)).conflating_connections >= paused_count, 300_000);
      const tripped_after_ms = Math.round(performance.now() - paused_at);
      const connections = (await slow_consumer_stats(server.port)).buffered_bytes.connections;
      if (connections !== clients_count) throw new Error(`${clients_count - connections} clients were disconnected`);
      const [h, used] = await measure_window();
      const during = await slow_consumer_stats(server.port);
      for (const c of pausable) {
        c.unsubscribe(symbols, 0);
        c.resume();
      }
      await wait_until('resumed clients drained', async () => (await slow_consumer_stats(server.port)).conflating_connections === 0, 60_000);
      // The kernel still holds their backlog: wait until they read fresh frames again, so the next
      // window is not slowed by this thread reading it.
      await wait_until('resumed clients reading fresh frames', async () => pausable.every((c) => c.last_latency_us < 50_000), 60_000);
      await sleep(1000);
      return { h, used, tripped_after_ms, during };
    };
    for (let r = 0; r < rounds; r++) {
      // Rounds alternate which window comes first, so neither always follows the other.
      let base: Histogram;
      let base_cpu: CpuShares;
      let pw: Awaited<ReturnType<typeof paused_window>>;
      if (r % 2 === 0) {
        [base, base_cpu] = await measure_window();
        pw = await paused_window();
      } else {
        pw = await paused_window();
        [base, base_cpu] = await measure_window();
      }
      const { h: paused, used: paused_cpu, tripped_after_ms, during } = pw;
      totals.baseline.add(base);
      totals.paused.add(paused);
      const b = summary(base);
      const p = summary(paused);
      per_round.push({ first: r % 2 === 0 ? 'baseline' : 'paused', baseline: { ...b, ...base_cpu }, paused: { ...p, ...paused_cpu },
        p99_ratio: round(p.p99_us / b.p99_us, 3), paused_clients_conflating_after_ms: tripped_after_ms,
        load_average_1m: round(loadavg()[0], 2),
        server_during_pause: { conflating_connections: during.conflating_connections, buffered_bytes_max: during.buffered_bytes.max_now } });
      console.log(`round ${r + 1}: p99 baseline ${b.p99_us} µs (${b.samples} samples, server cpu ${base_cpu.server_cpu_share}, clients cpu ${base_cpu.clients_cpu_share}), `
        + `paused ${p.p99_us} µs (${p.samples} samples, server cpu ${paused_cpu.server_cpu_share}, clients cpu ${paused_cpu.clients_cpu_share}); ratio ${round(p.p99_us / b.p99_us, 3)}; `
        + `paused clients conflating after ${tripped_after_ms} ms`);
    }
    const b = summary(totals.baseline);
    const p = summary(totals.paused);
    const round_ratios = per_round.map((r) => r.p99_ratio as number);
    const geomean = Math.exp(round_ratios.reduce((a, x) => a + Math.log(x), 0) / round_ratios.length);
    const end = await slow_consumer_stats(server.port);
    const fast_conflated = fast.reduce((n, c) => n + c.conflated, 0);
    stop_keep_alive();
    for (const c of clients) c.ws.terminate();
    return {
      clients: clients_count, paused_clients: paused_count, measured_clients: fast.length,
      views_per_client_note: 'each client one view (symbol i mod 4, depth 10)', depth: 10, rounds, window_s, clock_offset: clock,
      baseline: b, paused: p,
      p99_ratio: round(p.p99_us / b.p99_us, 3), p99_ratio_median_of_rounds: median(round_ratios), p99_ratio_geomean_of_rounds: round(geomean, 3), p50_ratio: round(p.p50_us / b.p50_us, 3),
      goal_p99_ratio_max: 1.1, goal_met: p.p99_us / b.p99_us <= 1.1,
      paused_clients_while_paused: 'subscribed to every symbol at depth 0 as well as their one view (fills the kernel buffers sooner; 5 views accumulating each)',
      fast_clients_conflated_frames: fast_conflated,
      server_slow_consumers_at_end: end,
      per_round,
    };
  } finally {
    await server.stop();
  }
}

// ---- 2. server RSS with 100 paused clients ----

function slope_mb_per_min(points: { t_s: number; rss_mb: number }[]): number {
  return least_squares_slope(points.map((p) => p.t_s), points.map((p) => p.rss_mb)) * 60;
}

async function rss_phase(): Promise<Record<string, unknown>> {
  const server = await start_server();
  const mb = (bytes: number) => round(bytes / (1024 * 1024), 2);
  try {
    const fast: PausableClient[] = [];
    for (let i = 0; i < rss_fast_clients; i++) {
      const c = await PausableClient.open(server.port, 0, () => {}); // no latency read: no clock offset needed
      c.subscribe([symbols[i % symbols.length]], 10);
      fast.push(c);
    }
    await sleep(5000); // warm-up of the server alone
    const cpu = new CpuMeter(server.pid);
    const before: number[] = [];
    for (let i = 0; i < 5; i++) {
      before.push(rss_bytes(server.pid));
      await sleep(1000);
    }
    const rss_before = median(before);
    const cpu_before = cpu.take();
    const heap_before = await heap_used_bytes(server.port);
    const paused: PausableClient[] = [];
    for (let i = 0; i < rss_clients; i++) {
      const c = await PausableClient.open(server.port, 0, () => {}); // no latency read: no clock offset needed
      c.pause(); // before any data: it never reads a byte
      c.subscribe(symbols, 0);
      c.subscribe(symbols, 10);
      paused.push(c);
    }
    const stop_keep_alive = keep_alive([...fast, ...paused]);
    const started = performance.now();
    const series: { t_s: number; rss_mb: number; conflating: number; buffered_max: number }[] = [];
    let cpu_with_paused = cpu.take();
    for (let t = 1; t <= rss_s; t++) {
      await sleep(Math.max(0, started + t * 1000 - performance.now()));
      if (t === rss_s - 10) cpu.take();
      if (t === rss_s) cpu_with_paused = cpu.take();
      const rss = rss_bytes(server.pid);
      const st = t % 5 === 0 || t === rss_s ? await slow_consumer_stats(server.port) : null;
      series.push({ t_s: t, rss_mb: mb(rss), conflating: st?.conflating_connections ?? -1, buffered_max: st?.buffered_bytes.max_now ?? -1 });
      if (st !== null) console.log(`t=${t}s rss ${mb(rss)} MB, conflating ${st.conflating_connections}, buffered max ${st.buffered_bytes.max_now} B`);
    }
    const warm_up_s = Math.min(15, Math.floor(rss_s / 4));
    const after = series.filter((p) => p.t_s > warm_up_s);
    const last = series.slice(-Math.min(10, series.length));
    const rss_end = median(last.map((p) => p.rss_mb));
    const per_client_mb = (rss_end - mb(rss_before)) / rss_clients;
    const slope = slope_mb_per_min(after);
    const end = await slow_consumer_stats(server.port);
    const heap_end = await heap_used_bytes(server.port);
    stop_keep_alive();
    for (const c of [...fast, ...paused]) c.ws.terminate();
    return {
      paused_clients: rss_clients, fast_clients: rss_fast_clients, views_per_paused_client: symbols.length * 2, duration_s: rss_s,
      rss_before_mb: mb(rss_before), rss_end_mb: rss_end,
      rss_after_warm_up: { warm_up_s, min_mb: Math.min(...after.map((p) => p.rss_mb)), max_mb: Math.max(...after.map((p) => p.rss_mb)), slope_mb_per_min: round(slope, 2) },
      per_paused_client_mb: round(per_client_mb, 3),
      server_cpu_share_before: cpu_before.server_cpu_share, server_cpu_share_last_10_s: cpu_with_paused.server_cpu_share,
      v8_heap_used_before_mb: mb(heap_before), v8_heap_used_end_mb: mb(heap_end),
      user_space_send_buffers_at_end_mb: mb(end.buffered_bytes.total_now),
      goal_per_paused_client_mb_max: 1, goal_met: per_client_mb <= 1,
      server_slow_consumers_at_end: end,
      series,
    };
  } finally {
    await server.stop();
  }
}

// ---- main ----

if (pin) pin_self(client_core);
const result: Record<string, unknown> = {
  command: `npx tsx bench/e2e/slow_consumers.bench.ts ${argv.join(' ')}`.trim(),
  quick, engine_rate_orders_per_s: rate, symbols,
  cores: pin
    ? `server process (engine + feed + uWS) pinned to core ${server_core}, bench clients to core ${client_core} (taskset)`
    : 'not pinned (--no-pin, or no taskset): server and clients share both cores',
  server_defaults: 'slow-enter 256 KiB, slow-exit 16 KiB, send-buffer max 4 MiB, conflation-levels max 2000, policy conflate',
};
if (!argv.includes('--skip-latency')) {
  console.log(`latency: ${clients_count} clients, ${Math.round(clients_count * paused_share)} paused in alternate windows of ${window_s} s, ${rounds} round(s), engine ${rate} orders/s`);
  result.latency = await latency_phase();
  const l = result.latency as { p99_ratio: number; p99_ratio_median_of_rounds: number; p99_ratio_geomean_of_rounds: number; baseline: { p99_us: number }; paused: { p99_us: number } };
  console.log(`latency p99: baseline ${l.baseline.p99_us} µs, 10% paused ${l.paused.p99_us} µs, ratio ${l.p99_ratio} (goal ≤ 1.1); `
    + `per round: median ${l.p99_ratio_median_of_rounds}, geometric mean ${l.p99_ratio_geomean_of_rounds}`);
}
if (!argv.includes('--skip-rss')) {
  console.log(`rss: ${rss_clients} paused clients over ${rss_s} s, engine ${rate} orders/s`);
  result.rss = await rss_phase();
  const r = result.rss as { rss_before_mb: number; rss_end_mb: number; per_paused_client_mb: number; rss_after_warm_up: { slope_mb_per_min: number } };
  console.log(`rss: before ${r.rss_before_mb} MB, end ${r.rss_end_mb} MB, ${r.per_paused_client_mb} MB per paused client (goal ≤ 1), slope after warm-up ${r.rss_after_warm_up.slope_mb_per_min} MB/min`);
}
const path = write_result(quick ? 'slow_consumers_quick' : 'slow_consumers', result);
console.log(`wrote ${path}`);
process.exit(0);
