// One load-generator run, programmatically: plan, start the worker threads,
// tick once a second (merge the workers' interval histograms, write one .hlog
// interval per series and hop, a timeline point and the progress line), fire
// the storms, stop, write summary.json, latency.hlog and report.html. The
// worker threads themselves (start, messages, first failure) are
// ./worker_set.ts.
//
//   const result = await run_loadgen({ urls: [url], clients: 20, duration_s: 4, workers: 1 });
//   result.summary.latency_us.fast_events.engine_to_receive.p99_9
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { HlogWriter } from '../src/metrics/hlog.js';
import { IntervalMerger, type MergedInterval } from './merge.js';
import { series_names, sum_worker_counters, type FromWorker, type SeriesName, type WorkerCounters, type WorkerReport } from './messages.js';
import { LoadgenOptionError, check_options, default_options, type LoadgenOptions } from './options.js';
import { clients_of_worker, discover_symbols, plan_run, stats_url, type RunPlan } from './plan.js';
import {
  percentile_distribution, progress_line, summary_checks, summary_format, summary_warnings,
  type LoadgenSummary, type PercentilePoint, type TimelinePoint,
} from './report.js';
import { render_html } from './report_html.js';
import { exit_saturated, judge_saturation, withhold_if_saturated } from './saturation.js';
import { wait_until, WorkerSet } from './worker_set.js';
import { process_cpu_s } from '../src/util/host.js';

export interface RunHooks {
  /** Receives the progress line once a second; default stderr when options.progress. */
  on_progress?: (line: string) => void;
  /** Each closed one-second interval, with its merged histograms. */
  on_interval?: (point: TimelinePoint, interval: MergedInterval) => void;
  /** The command line to record in the summary. */
  command?: string;
  /** Ends the run early (Ctrl-C): the clients stop and the report is written for the time run. */
  signal?: AbortSignal;
}

export interface LoadgenResult {
  summary: LoadgenSummary;
  /** 0 = checks passed, 1 = a check failed (digest mismatch, nothing received, …), 3 = latency withheld: the load generator was saturated. */
  exit_code: number;
}

/** How long the workers get to load (tsx compiles them on first use). */
const worker_ready_ms_max = 60_000;
/** How long the final reports may take after stop. */
const final_report_ms_max = 10_000;
/** Sockets the process needs besides the clients (files, stdio, workers' pipes). */
const fds_reserved = 100;
/** After the measured window, paused readers read until caught up, at most this long, so their catch-up frames are verified. */
const paused_drain_ms_max = 10_000;

/** The soft limit on open files (ulimit -n) of this process, or Infinity if unknown. */
export function open_files_limit(): number {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : Infinity;
}

async function fetch_json(url: string, timeout_ms: number): Promise<unknown> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeout_ms) });
    return res.ok ? await res.json() : { error: `HTTP ${res.status}` };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function hlog_file(path: string, start_ms: number, comment: string): { writer: HlogWriter; stream: WriteStream } {
  const stream = createWriteStream(path);
  const writer = new HlogWriter((text) => stream.write(text), start_ms);
  writer.output_header([comment]);
  return { writer, stream };
}

function close_stream(stream: WriteStream): Promise<void> {
  return new Promise((resolve_, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve_());
  });
}

function per_series<T>(make: (name: SeriesName) => T): Record<SeriesName, T> {
  const out = {} as Record<SeriesName, T>;
  for (const name of series_names) out[name] = make(name);
  return out;
}

function sum_errors(c: WorkerCounters): number {
  return Object.values(c.errors_by_kind).reduce((a, b) => a + b, 0);
}

export async function run_loadgen(input: Partial<LoadgenOptions>, hooks: RunHooks = {}): Promise<LoadgenResult> {
  const options = check_options({ ...default_options(), ...input });
  const on_progress = hooks.on_progress ?? (options.progress ? (line: string) => process.stderr.write(`${line}\n`) : () => {});
  const fd_limit = open_files_limit();
  if (options.clients + fds_reserved > fd_limit) {
    throw new LoadgenOptionError('--clients', `${options.clients} sockets do not fit under this process's open-file limit (ulimit -n = ${fd_limit}); `
      + 'raise the limit or run several loadgen processes (each with its own --source-addresses)');
  }
  const symbols = options.symbols.length > 0 ? options.symbols : await discover_symbols(options.urls[0]);
  const plan: RunPlan = plan_run(options, symbols);
  const out_dir = resolve(options.out_dir);
  mkdirSync(out_dir, { recursive: true });
  const files = {
    summary: join(out_dir, 'summary.json'),
    hlog: join(out_dir, 'latency.hlog'),
    html: join(out_dir, 'report.html'),
  };

  const latest = new Map<number, WorkerReport>();
  let merger: IntervalMerger | null = null;
  let ready = 0;
  let drained = 0;
  let finals = 0;
  const on_message = (msg: FromWorker): void => {
    if (msg.type === 'ready') {
      ready++;
      return;
    }
    if (msg.type === 'drained') {
      drained++;
      return;
    }
    if (msg.type !== 'report') return;
    latest.set(msg.worker, msg);
    merger?.add(msg);
    if (msg.final) finals++;
  };
  const workers = new WorkerSet(plan.workers, on_message);
  const failed = workers.failed();
  failed.catch(() => {});
  const timers: ReturnType<typeof setTimeout>[] = [];
  let tick_timer: ReturnType<typeof setInterval> | null = null;
  const hlogs: { writer: HlogWriter; stream: WriteStream }[] = [];
  try {
    await wait_until(() => ready === workers.count, worker_ready_ms_max, 'the worker threads to start', failed);

    const server_cpu_start = options.server_pid > 0 ? process_cpu_s(options.server_pid) : null;
    const cpu_start = process.cpuUsage();
    const run_start_ms = Date.now();
    merger = new IntervalMerger(workers.count, run_start_ms, options.warmup_s);
    const has_slow = plan.clients.some((c) => c.slow);
    const logged_series = series_names.filter((name) => has_slow || !name.startsWith('slow'));
    const hlog = hlog_file(files.hlog, run_start_ms,
      `depthcast loadgen: ${options.clients} clients; latency in µs; tags = series.hop (fast/slow: per Delta frame, *_events: per trade; see loadgen/README.md)`);
    hlogs.push(hlog);

    for (let w = 0; w < workers.count; w++) {
      workers.post(w, {
        type: 'start', worker: w, run_start_ms, options, clients: clients_of_worker(plan, w),
        connect_rate_per_s: Math.max(1, Math.round(options.connect_rate_per_s / workers.count)),
      });
    }
    for (const storm of plan.storms) {
      timers.push(setTimeout(() => workers.broadcast({ type: 'storm', clients: storm.clients }), storm.at_s * 1000));
    }

    const timeline: TimelinePoint[] = [];
    let previous = { t_ms: run_start_ms, frames: 0, bytes: 0 };
    let connected_max = 0;
    let loop_p99_worst = 0;
    let loop_max = 0;
    const close_interval = (seq: number, final: boolean): void => {
      const interval = merger!.close(seq, Date.now());
      if (interval === null) return;
      for (const name of logged_series) hlog.writer.output_interval(interval.series[name], `${name}.`);
      const { fast, fast_events, slow } = interval.series;
      const counters = sum_worker_counters([...latest.values()].map((r) => r.counters));
      const now_ms = fast.end_ms;
      const dt_s = Math.max(1e-3, (now_ms - previous.t_ms) / 1000);
      const e2r = fast.percentiles('engine_to_receive');
      const events = fast_events.percentiles('engine_to_receive');
      const point: TimelinePoint = {
        t_s: (now_ms - run_start_ms) / 1000,
        connected: counters.connected,
        frames_per_s: (counters.client.frames - previous.frames) / dt_s,
        bytes_per_s: (counters.client.bytes - previous.bytes) / dt_s,
        samples: e2r.count,
        p50_us: e2r.p50,
        p99_us: e2r.p99,
        p99_9_us: e2r.p99_9,
        max_us: e2r.max,
        event_samples: events.count,
        event_p99_us: events.p99,
        event_p99_9_us: events.p99_9,
        event_max_us: events.max,
        slow_p99_us: slow.percentiles('engine_to_receive').p99,
        resyncs: counters.client.resyncs,
        digest_mismatches: counters.client.digest_mismatches,
        errors: sum_errors(counters),
        reconnects: counters.client.reconnects,
        loop_delay_us_p99: counters.loop_delay_us_p99,
      };
      previous = { t_ms: now_ms, frames: counters.client.frames, bytes: counters.client.bytes };
      if (!final) connected_max = Math.max(connected_max, counters.connected);
      hooks.on_interval?.(point, interval);
      // The final interval is the stop (and the paused readers' drain), not the measured run.
      if (final) return;
      loop_p99_worst = Math.max(loop_p99_worst, counters.loop_delay_us_p99);
      loop_max = Math.max(loop_max, counters.loop_delay_us_max);
      timeline.push(point);
      on_progress(progress_line(point, options.clients, merger!.totals.fast.percentiles('engine_to_receive'), merger!.totals.fast_events.percentiles('engine_to_receive'), options.write_delay_ms));
    };

    let seq = 0;
    let last_connected_report: WorkerCounters | null = null;
    const ticks = new Promise<void>((resolve_) => {
      hooks.signal?.addEventListener('abort', () => {
        if (tick_timer !== null) clearInterval(tick_timer);
        tick_timer = null;
        resolve_();
      }, { once: true });
      tick_timer = setInterval(() => {
        // A tick whose reports are still missing closes now with what came; the rest joins the next one.
        if (seq > 0) close_interval(seq, false);
        if (latest.size > 0) last_connected_report = sum_worker_counters([...latest.values()].map((r) => r.counters));
        if (Date.now() - run_start_ms >= options.duration_s * 1000 - 50) {
          clearInterval(tick_timer!);
          tick_timer = null;
          resolve_();
          return;
        }
        seq++;
        workers.broadcast({ type: 'tick', seq });
      }, 1000);
    });
    // Close each tick as soon as every worker answered it, so the line is on time.
    const eager = setInterval(() => {
      if (seq > 0 && merger!.complete(seq)) close_interval(seq, false);
    }, 20);
    await Promise.race([ticks, failed]);
    clearInterval(eager);
    const measured_end_ms = Date.now();
    const cpu = process.cpuUsage(cpu_start);
    const server_cpu_end = options.server_pid > 0 ? process_cpu_s(options.server_pid) : null;
    if (options.slow_mode === 'paused' && plan.clients.some((c) => c.slow) && !hooks.signal?.aborted) {
      workers.broadcast({ type: 'drain', deadline_ms: Date.now() + paused_drain_ms_max });
      await wait_until(() => drained === workers.count, paused_drain_ms_max + 5000, 'the paused readers to drain', failed);
    }

    seq++;
    workers.broadcast({ type: 'stop', seq });
    await wait_until(() => finals === workers.count, final_report_ms_max, 'the final reports of the workers', failed);
    close_interval(seq, true);
    const server_stats_end = await fetch_json(stats_url(options.urls[0]), 2000);
    await Promise.all(hlogs.map((h) => close_stream(h.stream)));
    hlogs.length = 0;

    const final_counters = sum_worker_counters([...latest.values()].map((r) => r.counters));
    const at_end = last_connected_report ?? final_counters;
    // Rates are over the measured window; the drain's frames (paused readers catching up) are counted but few.
    const duration_s = (measured_end_ms - run_start_ms) / 1000;
    const totals = merger.totals;
    const slow_clients = plan.clients.filter((c) => c.slow).length;
    const c = final_counters.client;
    const loadgen_cpu_s = (cpu.user + cpu.system) / 1e6;
    const server_cpu_s = server_cpu_start !== null && server_cpu_end !== null ? server_cpu_end - server_cpu_start : null;
    const error_samples = [...latest.values()].flatMap((r) => r.error_samples).slice(0, 20);
    const summary: LoadgenSummary = {
      format: summary_format,
      started_at: new Date(run_start_ms).toISOString(),
      duration_s,
      command: hooks.command ?? '(programmatic run)',
      options,
      plan: {
        symbols: plan.symbols, clients: plan.clients.length, slow_clients, workers: plan.workers, source_addresses: plan.source_addresses,
        storms: plan.storms.map((s) => ({ at_s: s.at_s, percent: s.percent, clients: s.clients.length })),
      },
      host: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` },
      cpu: {
        loadgen_cpu_s,
        loadgen_cores_used: loadgen_cpu_s / duration_s,
        server_pid: options.server_pid,
        server_cpu_s,
        server_cores_used: server_cpu_s === null ? null : server_cpu_s / duration_s,
        server_cpu_us_per_frame: server_cpu_s === null || c.frames === 0 ? null : (server_cpu_s * 1e6) / c.frames,
      },
      connections: {
        clients: plan.clients.length,
        connected_max,
        connected_at_end: at_end.connected,
        views_total: at_end.views_total,
        views_synced_at_end: at_end.views_synced,
        closes_by_code: final_counters.closes_by_code,
        storm_drops: final_counters.storm_drops,
        slow_pauses: final_counters.slow_pauses,
        drain_released: final_counters.drain_released,
        drain_caught_up: final_counters.drain_caught_up,
      },
      counters: c,
      errors_by_kind: final_counters.errors_by_kind,
      error_samples,
      rates: {
        frames_per_s: c.frames / duration_s,
        bytes_per_s: c.bytes / duration_s,
        deltas_per_s: c.deltas / duration_s,
        updates_per_s: c.updates_merged / duration_s,
      },
      latency_us: per_series((name) => (slow_clients === 0 && name.startsWith('slow') ? null : totals[name].summary())),
      percentile_distribution: per_series((name) => {
        if (slow_clients === 0 && name.startsWith('slow')) return null;
        const out: Partial<Record<string, PercentilePoint[]>> = {};
        for (const hop of totals[name].hops) out[hop] = percentile_distribution(totals[name], hop);
        return out;
      }),
      timeline,
      loop_delay_us: { p99_worst: loop_p99_worst, max: loop_max },
      // Judged on the final counters: the whole measured run (warm-up left out), like the totals.
      saturation: judge_saturation(final_counters.loop_lag_us_p99_run, totals.fast.percentiles('engine_to_receive').p99, options.saturation_share_max),
      latency_withheld: null,
      checks: summary_checks(c, connected_max),
      warnings: [],
      server_stats_end,
      files,
    };
    summary.warnings = summary_warnings(summary);
    summary.latency_withheld = withhold_if_saturated(summary, summary.saturation, options.allow_saturated);
    writeFileSync(files.summary, `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(files.html, render_html(summary));
    return { summary, exit_code: !summary.checks.passed ? 1 : summary.latency_withheld !== null ? exit_saturated : 0 };
  } finally {
    for (const t of timers) clearTimeout(t);
    if (tick_timer !== null) clearInterval(tick_timer);
    await Promise.all(hlogs.map((h) => close_stream(h.stream).catch(() => {})));
    await workers.terminate();
  }
}
