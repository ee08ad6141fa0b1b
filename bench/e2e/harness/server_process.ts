// `depthcast all` (engine + feed + uWS in one process) as a child process for
// the end-to-end benches that drive it over real TCP, pinned to a core when
// `taskset` exists so that the bench's own clients (pinned to the other core)
// do not share its CPU. Resolves once /health answers 200. Also what its
// /stats says about slow consumers and its V8 heap from /metrics (one HTTP
// request per call).
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { free_port } from '../../../src/util/host.js';

const repo_root = fileURLToPath(new URL('../../..', import.meta.url));
const healthy_timeout_ms = 30_000;
const stop_timeout_ms = 5000;

export const taskset_exists = existsSync('/usr/bin/taskset') || existsSync('/bin/taskset');

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/**
 * How the server runs: 'tsx' (TypeScript through tsx's loader, the default of the benches) or 'build'
 * (bin/depthcast.mjs on dist/, as in production). DEPTHCAST_BENCH_RUNNER=build picks the build for every
 * bench that starts a server here (bench/e2e/startup.bench.ts uses it for the connections bench).
 */
export type ServerRunner = 'tsx' | 'build';
const runner_default: ServerRunner = process.env.DEPTHCAST_BENCH_RUNNER === 'build' ? 'build' : 'tsx';

/** `depthcast all --port <free> ...args`, on `core` when given, from the checkout at `root` (default: this one). */
export async function start_depthcast(args: readonly string[], core: number | null, root: string = repo_root, runner: ServerRunner = runner_default): Promise<ServerProcess> {
  const port = await free_port();
  const entry = runner === 'build' ? ['bin/depthcast.mjs'] : ['--import', 'tsx', 'src/bin/depthcast.ts'];
  const node_args = [...entry, 'all', '--port', String(port), '--no-ui', '--log-level', 'warn', ...args];
  const child = core !== null
    ? spawn('taskset', ['-c', String(core), process.execPath, ...node_args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn(process.execPath, node_args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + healthy_timeout_ms;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`the server did not become healthy within ${healthy_timeout_ms / 1000} s`);
    }
    await sleep(100);
  }
  return {
    child, pid: child.pid!, port,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(stop_timeout_ms)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Pins this process (every thread) to `core`. */
export function pin_self(core: number): void {
  execFileSync('taskset', ['-a', '-cp', String(core), String(process.pid)], { stdio: 'ignore' });
}

/** The slow_consumers section of a server's /stats (src/feed/feed_report.ts): the fields the benches read; the object holds them all. */
export interface SlowConsumerStats {
  conflating_connections: number;
  conflation_episodes_total: number;
  conflation_episodes_by_cause_total: Record<string, number>;
  conflated_frames_total: number;
  catch_up_snapshots_total: number;
  slow_closes_total: Record<string, number>;
  buffered_bytes: { connections: number; total_now: number; max_now: number; p50_now: number; peak: number };
}

export async function slow_consumer_stats(port: number): Promise<SlowConsumerStats> {
  const body = await (await fetch(`http://127.0.0.1:${port}/stats`)).json() as { slow_consumers: SlowConsumerStats };
  return body.slow_consumers;
}

/** The server's V8 heap in use (prom-client's process metrics on /metrics): RSS minus this is mostly native (uWS buffers). */
export async function heap_used_bytes(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^depthcast_nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}
