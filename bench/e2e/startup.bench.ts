// What it measures: starting depthcast from the build (issue 22) against
// starting it through tsx, in the same run, on a fresh clone.
//   1. A fresh clone of this checkout's HEAD (git clone), then `npm ci`.
//   2. Time from spawning the command to the first /health 200, each path
//      alternated over --rounds rounds (medians, every run and the spread reported;
//      the load average before the starts and after them):
//        npm_start_fresh  `npm start` with no dist/: the build is part of it (goal ≤ 1 s)
//                         (its build_ms: the bin's build, which overlaps its loading of
//                         the service's packages: scripts/build_server.mjs service_packages)
//        npm_start_warm   `npm start` again, dist/ current (no rebuild)
//        tsx              `npx tsx src/bin/depthcast.ts all` (what `npm start` ran before)
//   3. Idle RSS of ALL processes of each start (the process and its
//      descendants, from /proc; shared pages counted once per process), read
//      --idle-s after /health answered, for the commands above and as a
//      service manager starts the service, with no npm or npx parent (goal ≤ 110 MB):
//        bin              `node bin/depthcast.mjs all`
//        node_dist        `node --enable-source-maps dist/depthcast.js all`
//        node_tsx         `node --import tsx src/bin/depthcast.ts all` (baseline)
//      Every start uses the defaults of `npm start` (engine at 2,000 orders/s,
//      the page served: it is bundled in memory once, by esbuild, in the background).
//   4. Memory per idle subscribed connection: bench/e2e/connections.bench.ts
//      --quick (2,000 connections, its own method: RSS growth after a full GC,
//      less the drift without clients) with the server on the build and on
//      tsx (DEPTHCAST_BENCH_RUNNER), its numbers copied here (goal: 5–8 KB,
//      no worse than tsx). --no-connections skips it.
// The harness's own lag: this process polls /health every 10 ms; the event
// loop delay of this process while it polls (p99) is reported beside the times.
// Cores: not pinned; the server, npm and this process share the 2 cores, as
// a user's machine would. Everything is bounded: a start that is not healthy
// within 30 s fails the bench; every process group is killed at the end.
//
// Run: npx tsx bench/e2e/startup.bench.ts [--rounds N] [--idle-s N] [--quick] [--no-connections]
// Writes bench/results/startup.json.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { has_flag } from '../../src/util/flags.js';
import { LoopLagMeter } from '../../loadgen/loop_lag.js';
import { free_port } from '../../src/util/host.js';
import { median, round, write_result } from '../lib.js';
import { arg, quick } from './harness/args.js';

const repo_root = fileURLToPath(new URL('../..', import.meta.url));
const rounds = arg('--rounds', quick ? 2 : 3);
const idle_s = arg('--idle-s', quick ? 3 : 10);
const with_connections = !has_flag(process.argv.slice(2), '--no-connections');
const healthy_timeout_ms = 30_000;
const poll_ms = 10;

type Path = 'npm_start_fresh' | 'npm_start_warm' | 'tsx' | 'bin' | 'node_dist' | 'node_tsx';
const commands: Record<Path, (port: number) => [string, string[]]> = {
  npm_start_fresh: (port) => ['npm', ['start', '--', '--port', String(port)]],
  npm_start_warm: (port) => ['npm', ['start', '--', '--port', String(port)]],
  tsx: (port) => ['npx', ['tsx', 'src/bin/depthcast.ts', 'all', '--port', String(port)]],
  bin: (port) => [process.execPath, ['bin/depthcast.mjs', 'all', '--port', String(port)]],
  node_dist: (port) => [process.execPath, ['--enable-source-maps', 'dist/depthcast.js', 'all', '--port', String(port)]],
  node_tsx: (port) => [process.execPath, ['--import', 'tsx', 'src/bin/depthcast.ts', 'all', '--port', String(port)]],
};

/** The pid and every descendant's, from /proc (children of every thread). */
function tree_pids(pid: number): number[] {
  const out = [pid];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    let children = '';
    try {
      children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch { /* gone */ }
    for (const c of children.split(' ').filter(Boolean)) out.push(...tree_pids(Number(c)));
  }
  return out;
}

function rss_bytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

interface StartResult { health_ms: number; idle_rss_bytes: number; processes: number; harness_lag_p99_ms: number; build_ms: number | null }

async function start_once(path: Path, clone: string): Promise<StartResult> {
  if (path === 'npm_start_fresh') rmSync(join(clone, 'dist'), { recursive: true, force: true });
  const port = await free_port();
  const [cmd, args] = commands[path](port);
  const lag = new LoopLagMeter(5);
  const started = performance.now();
  // Its own process group: npm/npx and their children are stopped together.
  const child: ChildProcess = spawn(cmd, args, { cwd: clone, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    let health_ms = 0;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        await res.arrayBuffer();
        if (res.status === 200) {
          health_ms = performance.now() - started;
          break;
        }
      } catch { /* not listening yet */ }
      if (performance.now() - started > healthy_timeout_ms || child.exitCode !== null) throw new Error(`${path}: not healthy within ${healthy_timeout_ms} ms: ${stderr}`);
      await sleep(poll_ms);
    }
    lag.stop();
    await sleep(idle_s * 1000);
    const pids = tree_pids(child.pid!);
    const idle_rss_bytes = pids.reduce((sum, p) => sum + rss_bytes(p), 0);
    // The bin says how long its build took (overlapped with loading the service's packages).
    const built = /built dist\/ in (\d+) ms/.exec(stderr);
    return { health_ms, idle_rss_bytes, processes: pids.length, harness_lag_p99_ms: lag.percentile_ms(99), build_ms: built === null ? null : Number(built[1]) };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
    await Promise.race([exited, sleep(5000)]);
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
  }
}

function summarize(results: StartResult[]) {
  return {
    health_ms_median: round(median(results.map((r) => r.health_ms)), 0),
    health_ms_runs: results.map((r) => round(r.health_ms, 0)),
    health_ms_spread: [round(Math.min(...results.map((r) => r.health_ms)), 0), round(Math.max(...results.map((r) => r.health_ms)), 0)],
    build_ms_runs: results.some((r) => r.build_ms !== null) ? results.map((r) => r.build_ms) : undefined,
    idle_rss_mb_median: round(median(results.map((r) => r.idle_rss_bytes)) / 1e6, 1),
    idle_rss_mb_runs: results.map((r) => round(r.idle_rss_bytes / 1e6, 1)),
    processes: results[0].processes,
    harness_lag_p99_ms: round(Math.max(...results.map((r) => r.harness_lag_p99_ms)), 1),
  };
}

/** bench/e2e/connections.bench.ts --quick with the server run by `runner`; its per-connection numbers. */
function connection_memory(runner: 'build' | 'tsx'): Record<string, unknown> {
  const out_dir = mkdtempSync(join(tmpdir(), `depthcast-startup-conn-${runner}-`));
  try {
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/e2e/connections.bench.ts', '--quick'], {
      cwd: repo_root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEPTHCAST_BENCH_RUNNER: runner, BENCH_RESULTS_DIR: out_dir }, timeout: 600_000,
    });
    const r = JSON.parse(readFileSync(join(out_dir, 'connections.json'), 'utf8')) as { memory: Record<string, unknown>; workload: unknown };
    const pick = (k: string) => r.memory[k];
    return {
      connections: (r.workload as { connections?: number } | undefined)?.connections,
      per_connection_bytes: pick('per_connection_bytes'), steady_per_connection_bytes: pick('steady_per_connection_bytes'),
      heap_used_per_connection_bytes: pick('heap_used_per_connection_bytes'), native_per_connection_bytes: pick('native_per_connection_bytes'),
    };
  } finally {
    rmSync(out_dir, { recursive: true, force: true });
  }
}

const load_before = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const work = mkdtempSync(join(tmpdir(), 'depthcast-startup-'));
const clone = join(work, 'depthcast');
try {
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo_root, encoding: 'utf8' }).trim();
  execFileSync('git', ['clone', '--quiet', repo_root, clone]);
  const ci_started = performance.now();
  const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone, encoding: 'utf8' });
  if (ci.status !== 0) throw new Error(`npm ci failed: ${ci.stderr}`);
  const npm_ci_s = (performance.now() - ci_started) / 1000;
  process.stderr.write(`clone of ${head.slice(0, 8)} installed in ${npm_ci_s.toFixed(1)} s\n`);
  const order: Path[] = ['npm_start_fresh', 'tsx', 'npm_start_warm', 'bin', 'node_tsx', 'node_dist'];
  const runs: Record<Path, StartResult[]> = { npm_start_fresh: [], npm_start_warm: [], tsx: [], bin: [], node_dist: [], node_tsx: [] };
  for (let i = 0; i < rounds; i++) {
    for (const path of order) {
      const r = await start_once(path, clone);
      runs[path].push(r);
      process.stderr.write(`round ${i + 1} ${path}: /health 200 after ${r.health_ms.toFixed(0)} ms; idle RSS ${(r.idle_rss_bytes / 1e6).toFixed(1)} MB in ${r.processes} process(es)\n`);
    }
  }
  const s = Object.fromEntries(order.map((p) => [p, summarize(runs[p])])) as Record<Path, ReturnType<typeof summarize>>;
  const load_after = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const connections = with_connections ? { build: connection_memory('build'), tsx: connection_memory('tsx') } : null;
  const path = write_result('startup', {
    what: 'time from spawning a start command to /health 200, and idle RSS of all its processes, on a fresh clone after npm ci: the build (npm start, bin, node on dist) against tsx, in the same run',
    baseline: 'tsx: `npx tsx src/bin/depthcast.ts all` (npm start before the build) and `node --import tsx src/bin/depthcast.ts all`',
    workload: { commit: head, rounds, idle_s, poll_ms, npm_ci_s: round(npm_ci_s, 1), flags: 'npm start defaults (engine 2,000 orders/s, page served)', pinned: 'no', load_average_before: load_before, load_average_after_starts: load_after },
    results: {
      ...s,
      ratios: {
        npm_start_fresh_vs_tsx_health: round(s.npm_start_fresh.health_ms_median / s.tsx.health_ms_median, 3),
        npm_start_warm_vs_tsx_health: round(s.npm_start_warm.health_ms_median / s.tsx.health_ms_median, 3),
        npm_start_vs_tsx_rss: round(s.npm_start_warm.idle_rss_mb_median / s.tsx.idle_rss_mb_median, 3),
        bin_vs_node_tsx_rss: round(s.bin.idle_rss_mb_median / s.node_tsx.idle_rss_mb_median, 3),
      },
      connections,
    },
    goals: {
      npm_start_fresh_health_ms_max: 1000, met_health: s.npm_start_fresh.health_ms_median <= 1000,
      service_idle_rss_mb_max: 110, met_rss: s.bin.idle_rss_mb_median <= 110 && s.node_dist.idle_rss_mb_median <= 110 && s.bin.processes === 1,
      per_connection_bytes_range: [5000, 8000],
    },
  });
  process.stderr.write(`${JSON.stringify(s, null, 1)}\n${connections === null ? '' : JSON.stringify(connections)}\nwrote ${path}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
