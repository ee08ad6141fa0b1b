// What it measures: the cost of a feed's second NATS path (issue 24; goal
// ≤ 1.3×): feed CPU per ingested batch with one path (`--nats-paths 1`) and
// with two (`--nats-paths 2`: every batch arrives twice, the second copy is
// dropped on its seq, peeked without decoding).
//
// Setup: a 3-node nats-server cluster on loopback, the engine as its own
// process on the third node (`depthcast engine`, --rate orders/s over the 4
// default symbols, no stream), and both feeds at once as their own processes
// (`depthcast feed`, every node's URL), so they ingest the same batches at
// the same moments: the ratio is taken in the same run, round by round.
// Per round of --window-s: each feed's CPU seconds (/proc) and the batches it
// applied (/stats `symbols.*.batches`, the same count for both); CPU per
// batch = the two divided. By default no clients: ingest alone, where a
// second path's cost is largest relative to the rest. With --clients N, N
// load-generator clients per feed (depth 10, one process for both feeds,
// round-robin) are attached throughout: the cost of a feed as deployed,
// where fan-out dilutes the second copy's (written to nats_paths_clients.json).
// Caveats: 2 cores shared by three nats-servers, the engine, both feeds and
// this process; the per-process CPU is what each feed used, whatever the
// others did. The harness's own event-loop lag is reported (it only polls).
// Run: npx tsx bench/e2e/nats_paths.bench.ts [--rate N] [--window-s N] [--rounds N] [--clients N]
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { process_cpu_s } from '../../src/util/host.js';
import { free_port, spawn_depthcast, type DepthcastProcess } from '../../test/helpers/depthcast_process.js';
import { start_nats_cluster } from '../../test/helpers/nats_cluster.js';
import { median, round, write_result } from '../lib.js';
import { arg } from './harness/args.js';
import { LoopLagMeter } from '../../loadgen/loop_lag.js';

const rate = arg('--rate', 2000);
const window_s = arg('--window-s', 5);
const rounds = arg('--rounds', 5);
const warmup_s = arg('--warmup-s', 3);
const clients_per_feed = arg('--clients', 0);
const goal_ratio_max = 1.3;
const repo_root = fileURLToPath(new URL('../..', import.meta.url));

const load_before = loadavg()[0];
const cluster = await start_nats_cluster();
const engine: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/bin/depthcast.ts', 'engine', '--nats-url', cluster.nodes[2].url,
  '--rate', String(rate), '--no-stream', '--log-level', 'warn'], { cwd: repo_root, stdio: 'ignore' });
const feeds: { paths: number; process: DepthcastProcess }[] = [];
for (const paths of [1, 2]) {
  const port = await free_port();
  feeds.push({ paths, process: await spawn_depthcast('feed', port, ['--nats-url', cluster.urls, '--nats-paths', String(paths), '--no-stream',
    '--log-level', 'warn']) });
}

async function stats(f: DepthcastProcess): Promise<{ batches: number; duplicates_skipped: number; paths_connected: number; live: boolean }> {
  const body = await (await fetch(`http://127.0.0.1:${f.port}/stats`)).json() as {
    bus: { paths_connected?: number }; symbols: Record<string, { batches: number; duplicates_skipped: number; state: string }>;
  };
  const all = Object.values(body.symbols);
  return {
    batches: all.reduce((n, s) => n + s.batches, 0), duplicates_skipped: all.reduce((n, s) => n + s.duplicates_skipped, 0),
    paths_connected: body.bus.paths_connected ?? 1, live: all.length > 0 && all.every((s) => s.state === 'live'),
  };
}

const cpu = (f: DepthcastProcess) => process_cpu_s(f.child.pid!) ?? 0;
for (let i = 0; ; i++) {
  const all = await Promise.all(feeds.map((f) => stats(f.process).catch(() => null)));
  if (all.every((s) => s !== null && s.live) && all[1]!.paths_connected === 2) break;
  if (i > 300) throw new Error('feeds not live with their paths after 30 s');
  await sleep(100);
}
// The clients: one load generator over both feeds (round-robin: the same number on each), running past the rounds.
const loadgen: ChildProcess | null = clients_per_feed === 0 ? null : spawn(process.execPath, ['--import', 'tsx', 'loadgen/cli.ts',
  ...feeds.flatMap((f) => ['--url', `ws://127.0.0.1:${f.process.port}/ws`]), '--clients', String(clients_per_feed * feeds.length),
  '--depth', '10', '--duration-s', String(warmup_s + rounds * (window_s + 1) + 60)], { cwd: repo_root, stdio: 'ignore' });
await sleep(warmup_s * 1000 + (loadgen === null ? 0 : 5000));

// The harness's own lag: its worst stall while it waits.
const harness_lag = new LoopLagMeter();

interface Round { us_per_batch: number[]; batches: number[]; second_copies_dropped: number[]; ratio: number }
const measured: Round[] = [];
for (let r = 0; r < rounds; r++) {
  const before = await Promise.all(feeds.map(async (f) => ({ cpu: cpu(f.process), s: await stats(f.process) })));
  await sleep(window_s * 1000);
  const after = await Promise.all(feeds.map(async (f) => ({ cpu: cpu(f.process), s: await stats(f.process) })));
  const batches = after.map((a, i) => a.s.batches - before[i].s.batches);
  const us_per_batch = after.map((a, i) => round(((a.cpu - before[i].cpu) / batches[i]) * 1e6, 2));
  measured.push({
    us_per_batch, batches, second_copies_dropped: after.map((a, i) => a.s.duplicates_skipped - before[i].s.duplicates_skipped),
    ratio: round(us_per_batch[1] / us_per_batch[0], 3),
  });
  process.stdout.write(`round ${r + 1}: ${JSON.stringify(measured[measured.length - 1])}\n`);
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

const ratio = median(measured.map((m) => m.ratio));
const result = {
  what: 'feed CPU per ingested batch with two NATS paths (--nats-paths 2) vs one, both feeds on the same 3-node cluster and engine stream at once',
  rate_orders_per_s: rate, window_s, rounds, cores: 2, clients_per_feed, clients_depth: clients_per_feed === 0 ? null : 10,
  one_path_us_per_batch: median(measured.map((m) => m.us_per_batch[0])),
  two_paths_us_per_batch: median(measured.map((m) => m.us_per_batch[1])),
  ratio_two_over_one_median: ratio,
  ratio_rounds: measured.map((m) => m.ratio),
  goal_ratio_max, goal_met: ratio <= goal_ratio_max,
  rounds_detail: measured,
  harness_lag_ms_max: round(harness_lag.worst_ms, 1),
  load_average_1m_before: round(load_before, 2), load_average_1m_after: round(loadavg()[0], 2),
};
const path = write_result(clients_per_feed === 0 ? 'nats_paths' : 'nats_paths_clients', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\nwrote ${path}\n`);
