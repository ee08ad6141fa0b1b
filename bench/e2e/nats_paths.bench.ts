// What it measures: the cost of a feed's second NATS path (issue 24; goal
// ≤ 1.3× in every round): feed CPU per ingested batch with one path
// (`--nats-paths 1`) and with two (`--nats-paths 2`: every batch arrives twice,
// the second copy is dropped on its seq, peeked without decoding).
//
// Setup: a 3-node nats-server cluster on loopback, the engine as its own
// process on the third node (`depthcast engine`, --rate orders/s over the 4
// default symbols, no stream), and --feeds-per-mode feeds of each kind
// (default 2 + 2, started interleaved 1, 2, 1, 2) as their own processes
// (`depthcast feed`, every node's URL), all ingesting the same batches at the
// same moments: every round measures every feed over the same window, so the
// two modes are compared under the same load, whatever the box does.
// Per round of --window-s: each feed's CPU seconds (/proc: every thread, GC
// helpers included), the batches it applied (/stats, the same count for all)
// and its GC pause time (/metrics, prom-client's gc histogram); CPU per batch
// of a mode = its feeds' CPU over their batches.
//
// The harness's floor: two feeds of the *same* mode differ only by noise
// (scheduling, GC timing, cache), so their ratio in a round is what this method
// cannot resolve; it is reported per round beside the two-over-one ratio
// (`floor_rounds`: the larger same-mode ratio of the round, ≥ 1). A two-over-
// one round above the goal by less than the floor is noise, not cost. The
// harness's own event-loop lag (it only polls) and the load average are
// reported too.
//
// By default no clients: ingest alone, where a second path's cost is largest
// relative to the rest. With --clients N, N load-generator clients per feed
// (depth 10, one process for all feeds, round-robin) are attached throughout:
// the cost of a feed as deployed (written to nats_paths_clients.json).
// Caveats: 2 cores shared by three nats-servers, the engine, the feeds and
// this process, and by whatever else runs (quote the load).
// Run: npx tsx bench/e2e/nats_paths.bench.ts [--rate N] [--window-s N] [--rounds N] [--feeds-per-mode N] [--clients N]
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { process_cpu_s } from '../../src/util/host.js';
import { free_port, spawn_depthcast, type DepthcastProcess } from '../../test/helpers/depthcast_process.js';
import { start_nats_cluster } from '../../test/helpers/nats_cluster.js';
import { median, round, write_result } from '../lib.js';
import { arg } from './harness/args.js';
import { LoopLagMeter } from '../../loadgen/loop_lag.js';

const rate = arg('--rate', 2000);
const window_s = arg('--window-s', 10);
const rounds = arg('--rounds', 6);
const warmup_s = arg('--warmup-s', 5);
const feeds_per_mode = arg('--feeds-per-mode', 2);
const clients_per_feed = arg('--clients', 0);
const goal_ratio_max = 1.3;
const repo_root = fileURLToPath(new URL('../..', import.meta.url));
const modes = [1, 2] as const;

const load_before = loadavg()[0];
const cluster = await start_nats_cluster();
const engine: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/bin/depthcast.ts', 'engine', '--nats-url', cluster.nodes[2].url,
  '--rate', String(rate), '--no-stream', '--log-level', 'warn'], { cwd: repo_root, stdio: 'ignore' });
const feeds: { paths: number; process: DepthcastProcess }[] = [];
for (let k = 0; k < feeds_per_mode; k++) {
  for (const paths of modes) {
    const port = await free_port();
    feeds.push({ paths, process: await spawn_depthcast('feed', port, ['--nats-url', cluster.urls, '--nats-paths', String(paths), '--no-stream',
      '--log-level', 'warn']) });
  }
}

interface FeedSample { cpu_s: number; sys_s: number; wakeups: number; batches: number; duplicates_skipped: number; paths_connected: number; live: boolean; gc_s: number }

/** The kernel's share of a process's CPU (stime, all threads), and how often its main thread went to sleep and woke (voluntary context switches). */
function kernel_side(pid: number): { sys_s: number; wakeups: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { sys_s: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[12]) / 100, wakeups: Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0) };
  } catch {
    return { sys_s: 0, wakeups: 0 };
  }
}

async function sample(f: DepthcastProcess): Promise<FeedSample> {
  const cpu_s = process_cpu_s(f.child.pid!) ?? 0;
  const { sys_s, wakeups } = kernel_side(f.child.pid!);
  const body = await (await fetch(`http://127.0.0.1:${f.port}/stats`)).json() as {
    bus: { paths_connected?: number }; symbols: Record<string, { batches: number; duplicates_skipped: number; state: string }>;
  };
  const metrics = await (await fetch(`http://127.0.0.1:${f.port}/metrics`)).text();
  let gc_s = 0;
  for (const m of metrics.matchAll(/^depthcast_nodejs_gc_duration_seconds_sum\{[^}]*\} ([0-9.e+-]+)$/gm)) gc_s += Number(m[1]);
  const all = Object.values(body.symbols);
  return {
    cpu_s, sys_s, wakeups, gc_s,
    batches: all.reduce((n, s) => n + s.batches, 0), duplicates_skipped: all.reduce((n, s) => n + s.duplicates_skipped, 0),
    paths_connected: body.bus.paths_connected ?? 1, live: all.length > 0 && all.every((s) => s.state === 'live'),
  };
}

for (let i = 0; ; i++) {
  const all = await Promise.all(feeds.map((f) => sample(f.process).catch(() => null)));
  if (all.every((s, k) => s !== null && s.live && s.paths_connected === feeds[k].paths)) break;
  if (i > 300) throw new Error('feeds not live with their paths after 30 s');
  await sleep(100);
}
// The clients: one load generator over every feed (round-robin: the same number on each), running past the rounds.
const loadgen: ChildProcess | null = clients_per_feed === 0 ? null : spawn(process.execPath, ['--import', 'tsx', 'loadgen/cli.ts',
  ...feeds.flatMap((f) => ['--url', `ws://127.0.0.1:${f.process.port}/ws`]), '--clients', String(clients_per_feed * feeds.length),
  '--depth', '10', '--duration-s', String(warmup_s + rounds * (window_s + 2) + 60)], { cwd: repo_root, stdio: 'ignore' });
await sleep(warmup_s * 1000 + (loadgen === null ? 0 : 5000));

// The harness's own lag: its worst stall while it waits.
const harness_lag = new LoopLagMeter();

interface Round {
  /** Per feed, in start order (one path, two paths, one, two, ...). */
  us_per_batch: number[];
  gc_us_per_batch: number[];
  /** The kernel's part (stime) of us_per_batch, per feed. */
  sys_us_per_batch: number[];
  /** The main thread's wake-ups (voluntary context switches) per batch, per feed: a batch read alone costs a wake-up. */
  wakeups_per_batch: number[];
  batches: number[];
  second_copies_dropped: number[];
  /** Per mode (one path, two paths): the mode's feeds' CPU over their batches. */
  mode_us_per_batch: number[];
  mode_gc_us_per_batch: number[];
  ratio: number;
  /** The largest ratio between two feeds of the same mode this round (1 = none; what the method cannot resolve). */
  floor: number;
}

const measured: Round[] = [];
for (let r = 0; r < rounds; r++) {
  const before = await Promise.all(feeds.map((f) => sample(f.process)));
  await sleep(window_s * 1000);
  const after = await Promise.all(feeds.map((f) => sample(f.process)));
  const batches = after.map((a, i) => a.batches - before[i].batches);
  const cpu_s = after.map((a, i) => a.cpu_s - before[i].cpu_s);
  const gc_s = after.map((a, i) => a.gc_s - before[i].gc_s);
  const of_mode = (paths: number, xs: number[]) => xs.filter((_, i) => feeds[i].paths === paths).reduce((s, x) => s + x, 0);
  const mode_us_per_batch = modes.map((p) => round((of_mode(p, cpu_s) / of_mode(p, batches)) * 1e6, 2));
  const us_per_batch = cpu_s.map((c, i) => (c / batches[i]) * 1e6);
  let floor = 1;
  for (const p of modes) {
    const xs = us_per_batch.filter((_, i) => feeds[i].paths === p);
    if (xs.length > 1) floor = Math.max(floor, Math.max(...xs) / Math.min(...xs));
  }
  measured.push({
    us_per_batch: us_per_batch.map((x) => round(x, 2)), gc_us_per_batch: gc_s.map((g, i) => round((g / batches[i]) * 1e6, 2)),
    sys_us_per_batch: after.map((a, i) => round(((a.sys_s - before[i].sys_s) / batches[i]) * 1e6, 2)),
    wakeups_per_batch: after.map((a, i) => round((a.wakeups - before[i].wakeups) / batches[i], 3)),
    batches, second_copies_dropped: after.map((a, i) => a.duplicates_skipped - before[i].duplicates_skipped),
    mode_us_per_batch, mode_gc_us_per_batch: modes.map((p) => round((of_mode(p, gc_s) / of_mode(p, batches)) * 1e6, 2)),
    ratio: round(mode_us_per_batch[1] / mode_us_per_batch[0], 3), floor: round(floor, 3),
  });
  const m = measured[measured.length - 1];
  process.stdout.write(`round ${r + 1}: ratio ${m.ratio} (floor ${m.floor}); us/batch ${m.us_per_batch.join(' ')}; gc us/batch ${m.gc_us_per_batch.join(' ')}; sys us/batch ${m.sys_us_per_batch.join(' ')}; wakeups/batch ${m.wakeups_per_batch.join(' ')}; batches ${m.batches.join(' ')}; load ${round(loadavg()[0], 2)}\n`);
}
harness_lag.stop();
if (loadgen !== null) {
  loadgen.kill('SIGTERM');
  await new Promise((r) => loadgen.once('exit', r));
}
for (const f of feeds) await f.process.kill();
engine.kill('SIGTERM');
await new Promise((r) => engine.once('exit', r));
await cluster.stop();

const ratios = measured.map((m) => m.ratio);
const ratio = median(ratios);
const one = median(measured.map((m) => m.mode_us_per_batch[0]));
const two = median(measured.map((m) => m.mode_us_per_batch[1]));
const result = {
  what: 'feed CPU per ingested batch with two NATS paths (--nats-paths 2) vs one, every feed on the same 3-node cluster and engine stream at once, measured over the same windows',
  rate_orders_per_s: rate, window_s, rounds, feeds_per_mode, cores: 2, clients_per_feed, clients_depth: clients_per_feed === 0 ? null : 10,
  one_path_us_per_batch: one,
  two_paths_us_per_batch: two,
  second_path_us_per_batch: round(two - one, 2),
  one_path_gc_us_per_batch: median(measured.map((m) => m.mode_gc_us_per_batch[0])),
  two_paths_gc_us_per_batch: median(measured.map((m) => m.mode_gc_us_per_batch[1])),
  ratio_two_over_one_median: ratio,
  ratio_rounds: ratios,
  ratio_max: Math.max(...ratios),
  floor_rounds: measured.map((m) => m.floor),
  floor_max: Math.max(...measured.map((m) => m.floor)),
  goal_ratio_max, goal_met_every_round: ratios.every((x) => x <= goal_ratio_max), goal_met_median: ratio <= goal_ratio_max,
  rounds_detail: measured,
  harness_lag_ms_max: round(harness_lag.worst_ms, 1),
  load_average_1m_before: round(load_before, 2), load_average_1m_after: round(loadavg()[0], 2),
};
const path = write_result(clients_per_feed === 0 ? 'nats_paths' : 'nats_paths_clients', result);
process.stdout.write(`${JSON.stringify({ ...result, rounds_detail: undefined }, null, 2)}\nwrote ${path}\n`);
