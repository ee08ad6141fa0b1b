// What it measures: the scale-out curve this machine can show — delivered
// frames per feed CPU-second with 1, 2 and 4 feed processes on one
// nats-server, the same engine stream and the same clients spread over them.
// Every feed ingests the whole stream (NATS fan-out) and serves its share of
// the clients, so per-feed ingest is the fixed cost that more feeds repeat,
// and frames per CPU-second falls as feeds are added while the fleet's
// capacity (on more cores than here) grows with the count.
//
// Setup: nats-server, the engine as its own process (`depthcast engine`,
// --rate orders/s over the 4 default symbols), K `depthcast feed` processes,
// and --clients raw WebSocket clients in this process (each: one full-book
// view and one depth-10 view, counting frames only), round-robin over the
// feeds. After a warm-up, a --window-s window: frames received, and the CPU
// seconds of each feed process (/proc), of the engine, of nats-server and of
// this process. Ratios against K = 1 in the same run.
// Caveats: 2 cores for everything (engine, nats-server, feeds, clients): with
// 4 feeds the feeds compete for the same 2 cores, so the curve shows the cost
// per frame, not the throughput a fleet on N machines reaches.
// Run: npx tsx bench/e2e/feed_scaling.bench.ts [--clients N] [--rate N] [--window-s N]
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { process_cpu_s } from '../../src/util/host.js';
import { free_port, spawn_depthcast, type DepthcastProcess } from '../../test/helpers/depthcast_process.js';
import { start_nats_server } from '../../test/helpers/nats_server.js';
import { round, write_result } from '../lib.js';
import { arg } from './harness/args.js';

const clients_total = arg('--clients', 200);
const rate = arg('--rate', 2000);
const window_s = arg('--window-s', 6);
const warmup_s = arg('--warmup-s', 2);
const feed_counts = [1, 2, 4];
const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'];
const repo_root = fileURLToPath(new URL('../..', import.meta.url));

const nats = await start_nats_server();
const engine: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/bin/depthcast.ts', 'engine', '--nats-url', nats.url,
  '--rate', String(rate), '--no-stream', '--log-level', 'warn'], { cwd: repo_root, stdio: 'ignore' });
const encoder = new FrameEncoder();
const cpu = (pid: number | undefined) => (pid === undefined ? 0 : process_cpu_s(pid) ?? 0);
const own_cpu_s = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

interface Point {
  feeds: number;
  frames_per_s: number;
  feed_cpu_s_per_s: number;
  frames_per_feed_cpu_s: number;
  engine_cpu_s_per_s: number;
  nats_cpu_s_per_s: number;
  clients_cpu_s_per_s: number;
}

async function measure(k: number): Promise<Point> {
  const feeds: DepthcastProcess[] = [];
  for (let i = 0; i < k; i++) {
    feeds.push(await spawn_depthcast('feed', await free_port(), ['--nats-url', nats.url, '--no-stream', '--log-level', 'warn',
      '--new-connections-per-ip-per-s-max', '0']));
  }
  let frames = 0;
  const sockets: WebSocket[] = [];
  await Promise.all(Array.from({ length: clients_total }, (_, i) => new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${feeds[i % k].port}/ws`, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    ws.on('message', () => { frames++; });
    ws.once('open', () => {
      ws.send(encoder.subscribe({ symbols: [symbols[i % 4]], depth: 0, interval_ms: 0 }));
      ws.send(encoder.subscribe({ symbols: [symbols[(i + 1) % 4]], depth: 10, interval_ms: 0 }));
      resolve();
    });
    ws.once('error', reject);
    sockets.push(ws);
  })));
  await sleep(warmup_s * 1000);
  const feed_cpu0 = feeds.map((f) => cpu(f.child.pid));
  const engine0 = cpu(engine.pid);
  const nats0 = cpu(nats_pid());
  const own0 = own_cpu_s();
  const frames0 = frames;
  const t0 = performance.now();
  await sleep(window_s * 1000);
  const elapsed_s = (performance.now() - t0) / 1000;
  const delivered = frames - frames0;
  const feed_cpu = feeds.reduce((n, f, i) => n + cpu(f.child.pid) - feed_cpu0[i], 0);
  const point: Point = {
    feeds: k,
    frames_per_s: round(delivered / elapsed_s, 0),
    feed_cpu_s_per_s: round(feed_cpu / elapsed_s, 3),
    frames_per_feed_cpu_s: round(delivered / feed_cpu, 0),
    engine_cpu_s_per_s: round((cpu(engine.pid) - engine0) / elapsed_s, 3),
    nats_cpu_s_per_s: round((cpu(nats_pid()) - nats0) / elapsed_s, 3),
    clients_cpu_s_per_s: round((own_cpu_s() - own0) / elapsed_s, 3),
  };
  for (const ws of sockets) ws.terminate();
  for (const f of feeds) await f.kill();
  return point;
}

/** nats-server's pid: the helper does not expose it; found by its command line (pgrep). */
let nats_pid_cache: number | undefined;
function nats_pid(): number | undefined {
  if (nats_pid_cache !== undefined) return nats_pid_cache;
  nats_pid_cache = pgrep(`nats-server.*-p ${nats.port}`);
  return nats_pid_cache;
}

function pgrep(pattern: string): number | undefined {
  try {
    const pid = Number(execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n')[0]);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

await sleep(1500); // the engine's first books
const points: Point[] = [];
for (const k of feed_counts) points.push(await measure(k));
engine.kill('SIGTERM');
await new Promise((r) => engine.once('exit', r));
await nats.stop();

const base = points[0];
const result = {
  what: 'delivered frames per feed CPU-second with 1, 2 and 4 feed processes on one nats-server (same engine stream, same clients spread round-robin)',
  clients: clients_total, views_per_client: 2, rate_orders_per_s: rate, window_s, cores: 2,
  points,
  ratios_vs_one_feed: points.map((p) => ({
    feeds: p.feeds,
    frames_per_feed_cpu_s: round(p.frames_per_feed_cpu_s / base.frames_per_feed_cpu_s, 3),
    feed_cpu_s_per_s: round(p.feed_cpu_s_per_s / base.feed_cpu_s_per_s, 3),
    frames_per_s: round(p.frames_per_s / base.frames_per_s, 3),
  })),
};
const path = write_result('feed_scaling', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\nwrote ${path}\n`);
