// What it measures: the server's socket-write syscalls and CPU per frame
// delivered, and its event-loop delay (p99 and max, prom-client's gauges on
// /metrics), for this checkout against another commit (--against, default
// HEAD~1), in ONE run: the same engine rate, the same clients, one server
// process per checkout, alternating rounds (A B B A ...). Made for changes
// whose effect is on syscalls (corking, batching), which a throughput bench
// on 2 cores cannot resolve but strace counts exactly.
//
// Each round starts `depthcast all` from one checkout on core 0, opens
// --clients minimal clients (harness/raw_ws.ts, they answer pings as browsers
// do) on core 1, each subscribed to one view, waits for the streams to settle,
// then reads CPU and loop delay over one --window-s window and counts the
// server's send-class syscalls with `strace -c -f` over another
// while the clients count frames. strace slows every syscall it traces, so
// only its counts are compared, not its times.
//
// Cost: a git worktree of --against (node_modules linked from this checkout),
// removed at the end. Results: bench/results/ab_syscalls.json.
//
// Run: npx tsx bench/e2e/ab_syscalls.bench.ts [--against REV] [--clients N] [--depth 0|10|50]
//      [--rate N] [--window-s N] [--rounds N] [--quick]
// Without strace installed the syscall column is 0 and only CPU and loop delay compare.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { median, round, write_result } from '../lib.js';
import { arg, quick } from './harness/args.js';
import { cpu_seconds } from './harness/orchestrate.js';
import { opcode_binary, RawWs } from './harness/raw_ws.js';
import { pin_self, start_depthcast, taskset_exists } from './harness/server_process.js';
import { string_flag } from '../../src/util/flags.js';

const repo_root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const against = string_flag(process.argv.slice(2), '--against', 'HEAD~1');
const clients = arg('--clients', quick ? 50 : 200);
const depth = arg('--depth', 0);
const rate = arg('--rate', 2000);
const window_s = arg('--window-s', quick ? 2 : 8);
const rounds = arg('--rounds', quick ? 1 : 4);
const settle_ms = 3000;
/** The syscalls a uWS server writes a socket with (uSockets uses send; the rest would show a change of path). */
const send_syscalls = ['sendto', 'sendmsg', 'write', 'writev'];

/** Without strace (apt-get install -y strace) the syscall counts are left out; CPU and loop delay are still compared. */
const strace_exists = existsSync('/usr/bin/strace');
if (!strace_exists) process.stderr.write('ab_syscalls: no strace here, so no syscall counts (apt-get install -y strace)\n');
if (taskset_exists) pin_self(1);

interface Checkout { name: string; root: string; rev: string }

function worktree_of(rev: string): Checkout {
  const dir = mkdtempSync(join(tmpdir(), 'depthcast-ab-'));
  execFileSync('git', ['worktree', 'add', '--detach', '-f', dir, rev], { cwd: repo_root, stdio: 'ignore' });
  symlinkSync(join(repo_root, 'node_modules'), join(dir, 'node_modules'));
  return { name: 'against', root: dir, rev: execFileSync('git', ['rev-parse', '--short', rev], { cwd: repo_root }).toString().trim() };
}

/** strace -c's summary table: calls per syscall name. */
function strace_counts(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (cols.length >= 5 && /^\d+(\.\d+)?$/.test(cols[0]) && /^\d+$/.test(cols[3]) && cols[cols.length - 1] !== 'total') {
      out[cols[cols.length - 1]] = Number(cols[3]);
    }
  }
  return out;
}

function strace_window(pid: number, seconds: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const st = spawn('strace', ['-c', '-f', '-e', `trace=${send_syscalls.join(',')}`, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    st.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    st.once('exit', () => resolve(strace_counts(err)));
    st.once('error', reject);
    setTimeout(() => st.kill('SIGINT'), seconds * 1000);
  });
}

interface RoundResult {
  checkout: string; frames_per_s: number; send_syscalls_per_frame: number; cpu_us_per_frame: number;
  /** The server's event-loop delay over the untraced window (prom-client's, from /metrics). */
  loop_lag_p99_ms: number; loop_lag_max_ms: number;
  syscalls: Record<string, number>;
}

/** prom-client's event-loop delay gauges (seconds); each scrape starts a new measurement. */
async function loop_lag(port: number): Promise<{ p99_ms: number; max_ms: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^depthcast_${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99_ms: round(gauge('nodejs_eventloop_lag_p99_seconds'), 3), max_ms: round(gauge('nodejs_eventloop_lag_max_seconds'), 3) };
}

async function one_round(c: Checkout): Promise<RoundResult> {
  const server = await start_depthcast(['--rate', String(rate), '--symbols', 'BTC-USD,ETH-USD'], taskset_exists ? 0 : null, c.root);
  const enc = new FrameEncoder();
  const subscribe = enc.subscribe({ symbols: ['BTC-USD'], depth, interval_ms: 0 });
  let frames = 0;
  const sockets: RawWs[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      sockets.push(new RawWs({
        host: '127.0.0.1', port: server.port, path: '/ws', want_payloads: false,
        on_open: (ws) => ws.send(opcode_binary, subscribe),
        on_message: (_ws, opcode) => { if (opcode === opcode_binary) frames++; },
        on_close: () => {},
      }));
    }
    await sleep(settle_ms);
    // CPU per frame and loop delay, untraced.
    await loop_lag(server.port);
    const cpu0 = cpu_seconds(server.pid);
    const f0 = frames;
    await sleep(window_s * 1000);
    const cpu_frames = frames - f0;
    const cpu_us_per_frame = ((cpu_seconds(server.pid) - cpu0) * 1e6) / Math.max(1, cpu_frames);
    const lag = await loop_lag(server.port);
    // Syscalls per frame, traced.
    const f1 = frames;
    const syscalls = strace_exists ? await strace_window(server.pid, window_s) : {};
    const traced_frames = strace_exists ? frames - f1 : 0;
    const sends = send_syscalls.reduce((n, s) => n + (syscalls[s] ?? 0), 0);
    return {
      checkout: c.name, frames_per_s: round(cpu_frames / window_s, 0),
      send_syscalls_per_frame: round(sends / Math.max(1, traced_frames), 4), cpu_us_per_frame: round(cpu_us_per_frame, 3),
      loop_lag_p99_ms: lag.p99_ms, loop_lag_max_ms: lag.max_ms, syscalls,
    };
  } finally {
    for (const s of sockets) s.close();
    await server.stop();
  }
}

// A working tree with uncommitted changes is not HEAD: say so in the result.
const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repo_root }).toString().trim() !== '';
const here_rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo_root }).toString().trim();
const here: Checkout = { name: 'this', root: repo_root, rev: dirty ? `${here_rev}+uncommitted` : here_rev };
const other = worktree_of(against);
const results: RoundResult[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    // A B, B A, ...: neither checkout always runs on the warmer machine.
    const order = r % 2 === 0 ? [here, other] : [other, here];
    for (const c of order) {
      const res = await one_round(c);
      results.push(res);
      process.stderr.write(`round ${r + 1} ${c.name}: ${JSON.stringify(res)}\n`);
    }
  }
} finally {
  execFileSync('git', ['worktree', 'remove', '--force', other.root], { cwd: repo_root, stdio: 'ignore' });
  rmSync(other.root, { recursive: true, force: true });
}

type Metric = 'send_syscalls_per_frame' | 'cpu_us_per_frame' | 'loop_lag_p99_ms' | 'loop_lag_max_ms';
const of = (name: string, k: Metric) => results.filter((r) => r.checkout === name).map((r) => r[k]);
/** The median over rounds of this ÷ against within the round, with the rounds' ratios. */
const paired_ratio = (k: Metric): { median: number; rounds: number[] } => {
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const pair = results.slice(2 * r, 2 * r + 2);
    const a = pair.find((x) => x.checkout === 'this');
    const b = pair.find((x) => x.checkout === 'against');
    if (a !== undefined && b !== undefined && b[k] > 0) ratios.push(round(a[k] / b[k], 3));
  }
  return { median: round(median(ratios), 3), rounds: ratios };
};
const mid = (name: string, k: Metric) => round(median(of(name, k)), 4);
const summary = {
  this_rev: here.rev, against_rev: other.rev, clients, depth, rate_orders_per_s: rate, window_s, rounds,
  load_at_end: readFileSync('/proc/loadavg', 'utf8').split(' ')[0],
  send_syscalls_per_frame: { this: mid('this', 'send_syscalls_per_frame'), against: mid('against', 'send_syscalls_per_frame') },
  cpu_us_per_frame: { this: mid('this', 'cpu_us_per_frame'), against: mid('against', 'cpu_us_per_frame') },
  loop_lag_p99_ms: { this: mid('this', 'loop_lag_p99_ms'), against: mid('against', 'loop_lag_p99_ms') },
  loop_lag_max_ms: { this: mid('this', 'loop_lag_max_ms'), against: mid('against', 'loop_lag_max_ms') },
  // Paired: each round's two windows ran back to back, so the ratio within a round leaves out what moved between rounds.
  ratio_this_over_against: {
    send_syscalls_per_frame: paired_ratio('send_syscalls_per_frame'),
    cpu_us_per_frame: paired_ratio('cpu_us_per_frame'),
    loop_lag_p99_ms: paired_ratio('loop_lag_p99_ms'),
  },
  rounds_detail: results,
};
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(`written to ${write_result('ab_syscalls', summary)}\n`);
