// What it measures (issue 25, part 4): the Binance gateway's fan-out cost —
// delivered depthUpdate frames per server CPU-second — to N clients that each
// watch every symbol's `@depth@100ms` stream (combined, as ccxt does), in one
// run beside:
//   uws     a bare uWebSockets.js server app.publish()ing the very same JSON
//           messages (recorded from the gateway at the start of the run) at
//           their recorded times: no books, no encoding, no JS per client;
//   binary  depthcast's own binary stream carrying the same content: the same
//           N clients subscribing every symbol at full depth with interval
//           100 ms (the interval machinery the gateway reads through).
// Goal: gateway >= 0.85 of uws.
//
// The gateway runs inside a whole depthcast (engine + feed, `depthcast all`),
// whose CPU is not fan-out: the run measures that service idle (no clients)
// in every round, and charges the gateway and binary rows only the CPU above
// it (marginal CPU). The uws row is charged all of its process's CPU.
// Rates are fixed (10 messages/s per symbol: Binance's speed), not a
// saturation: the ratio is of CPU per frame at the same frame rate.
//
// Cores (2): both server processes pinned to core 0 (taskset -c 0), the
// clients (this process, `ws`, counting messages without parsing them) to
// core 1. Rows are measured in turn while the other server idles, the order
// rotated each round; ratios are taken within a round, then the median.
// Harness lag: this process's event-loop delay p99 per window, beside the
// numbers (a lagging client process delivers late, not fewer frames).
// Run: npx tsx bench/e2e/gateway_fanout.bench.ts [--clients N] [--rounds N] [--measure-s S] [--quick]
import './harness/quiet.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { machine_description, median, round, write_result } from '../lib.js';
import { cpu_seconds } from './harness/orchestrate.js';
import { arg, quick } from './harness/args.js';

const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'];
const streams = symbols.map((s) => `${s.replace('-', '').toLowerCase()}@depth@100ms`);
const self = fileURLToPath(import.meta.url);

// ---- the two server processes ----

if (process.argv[2] === '--server-depthcast') {
  const { start_all } = await import('../../src/app.js');
  const { default_config } = await import('../../src/config.js');
  const all = await start_all(Object.freeze({
    ...default_config(), port: 0, gateway_binance_port: 0, ui: false, log_level: 'silent',
    new_connections_per_ip_per_s_max: 0, gateway_method_frames_per_s_max: 100, symbols,
  }));
  process.stdout.write(`${JSON.stringify({ feed_port: all.feed_service.server.port, gateway_port: all.feed_service.gateway!.port })}\n`);
  process.stdin.resume(); // runs until the bench kills it
} else if (process.argv[2] === '--server-uws') {
  const { default: uWS } = await import('../../src/server/uws.js');
  const recorded = JSON.parse(readFileSync(process.argv[3], 'utf8')) as { t_ms: number; text: string }[];
  const frames = recorded.map((r) => ({ t_ms: r.t_ms, bytes: Buffer.from(r.text) }));
  const app = uWS.App();
  app.ws('/*', { compression: uWS.DISABLED, maxBackpressure: 5 * 1024 * 1024, idleTimeout: 60, open: (ws) => { ws.subscribe('all'); } });
  const period_ms = frames[frames.length - 1].t_ms + 100;
  const start = performance.now();
  let next = 0;
  let loop = 0;
  // Publishes each recorded message at its recorded time (the recording loops).
  setInterval(() => {
    const now = performance.now() - start;
    while (loop * period_ms + frames[next].t_ms <= now) {
      app.publish('all', frames[next].bytes, false, false);
      if (++next === frames.length) { next = 0; loop++; }
    }
  }, 5);
  app.listen('127.0.0.1', 0, (s) => {
    if (!s) throw new Error('bare uWS baseline: cannot listen');
    process.stdout.write(`${JSON.stringify({ port: uWS.us_socket_local_port(s) })}\n`);
  });
} else {
  await main();
}

function start_server(args: string[]): Promise<{ child: ChildProcess; info: Record<string, number> }> {
  const child = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', self, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server ${args[0]} exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, info: JSON.parse(line) as Record<string, number> }));
  });
}

// ---- the clients and the run ----

interface Window { frames_per_s: number; server_cpu_share: number; harness_lag_p99_ms: number }

async function main(): Promise<void> {
  const clients = arg('--clients', quick ? 50 : 1000);
  const rounds = arg('--rounds', quick ? 1 : 3);
  const measure_s = arg('--measure-s', quick ? 3 : 6);
  const warmup_s = 2;
  const load_average_1m_start = machine_description().load_average_1m;
  const started = performance.now();

  const depthcast = await start_server(['--server-depthcast']);
  const gw = depthcast.info.gateway_port;
  const combined_path = `/stream?streams=${streams.join('/')}`;

  // Record the gateway's own messages for the bare-uWS baseline.
  const recorded: { t_ms: number; text: string }[] = [];
  const recorder = new WebSocket(`ws://127.0.0.1:${gw}${combined_path}`);
  const rec_start = performance.now();
  recorder.on('message', (d) => recorded.push({ t_ms: performance.now() - rec_start, text: d.toString() }));
  await new Promise((r) => setTimeout(r, 5000));
  recorder.close();
  const file = join(mkdtempSync(join(tmpdir(), 'gateway-fanout-')), 'recorded.json');
  writeFileSync(file, JSON.stringify(recorded));
  const uws = await start_server(['--server-uws', file]);

  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let frames = 0;
  const sockets: WebSocket[] = [];
  const connect_all = async (url: string, on_open?: (ws: WebSocket) => void) => {
    for (let i = 0; i < clients; i++) {
      const ws = new WebSocket(url);
      ws.on('message', () => { frames++; });
      sockets.push(ws);
      await new Promise<void>((resolve, reject) => { ws.once('open', () => { on_open?.(ws); resolve(); }); ws.once('error', reject); });
    }
  };
  const close_all = async () => {
    for (const ws of sockets) ws.terminate();
    sockets.length = 0;
    await new Promise((r) => setTimeout(r, 500));
  };
  const window = async (pid: number): Promise<Window> => {
    await new Promise((r) => setTimeout(r, warmup_s * 1000));
    const cpu0 = cpu_seconds(pid);
    const frames0 = frames;
    const t0 = performance.now();
    lag.reset();
    await new Promise((r) => setTimeout(r, measure_s * 1000));
    const wall_s = (performance.now() - t0) / 1000;
    return { frames_per_s: (frames - frames0) / wall_s, server_cpu_share: (cpu_seconds(pid) - cpu0) / wall_s, harness_lag_p99_ms: round(lag.percentile(99) / 1e6, 2) };
  };
  const { FrameEncoder } = await import('../../src/wire/feed_encoder.js');
  const subscribe_frame = new FrameEncoder().subscribe({ symbols, depth: 0, interval_ms: 100 });
  const rows = {
    idle: async () => window(depthcast.child.pid!),
    gateway: async () => { await connect_all(`ws://127.0.0.1:${gw}${combined_path}`); const w = await window(depthcast.child.pid!); await close_all(); return w; },
    binary: async () => { await connect_all(`ws://127.0.0.1:${depthcast.info.feed_port}/ws`, (ws) => ws.send(subscribe_frame)); const w = await window(depthcast.child.pid!); await close_all(); return w; },
    uws: async () => { await connect_all(`ws://127.0.0.1:${uws.info.port}/stream`); const w = await window(uws.child.pid!); await close_all(); return w; },
  };
  type Row = keyof typeof rows;
  const order: Row[] = ['idle', 'gateway', 'binary', 'uws'];
  const results: Record<Row, Window>[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const round_result = {} as Record<Row, Window>;
      for (let i = 0; i < order.length; i++) {
        const row = order[(i + r) % order.length];
        round_result[row] = await rows[row]();
        process.stdout.write(`  round ${r + 1} ${row}: ${JSON.stringify(round_result[row])}\n`);
      }
      results.push(round_result);
    }
  } finally {
    depthcast.child.kill();
    uws.child.kill();
  }

  const per_cpu = (w: Window, idle: Window | null) => w.frames_per_s / Math.max(1e-3, w.server_cpu_share - (idle?.server_cpu_share ?? 0));
  const per_round = results.map((r) => ({
    gateway_frames_per_server_cpu_s: round(per_cpu(r.gateway, r.idle), 0),
    binary_frames_per_server_cpu_s: round(per_cpu(r.binary, r.idle), 0),
    uws_frames_per_server_cpu_s: round(per_cpu(r.uws, null), 0),
    gateway_to_uws: round(per_cpu(r.gateway, r.idle) / per_cpu(r.uws, null), 3),
    gateway_to_binary: round(per_cpu(r.gateway, r.idle) / per_cpu(r.binary, r.idle), 3),
  }));
  const gateway_to_uws = round(median(per_round.map((r) => r.gateway_to_uws)), 3);
  const result = {
    what: 'delivered depthUpdate frames per server CPU-second: gateway (marginal over the idle service) vs bare uWS publish of the same JSON, and vs depthcast binary interval-100 ms full-depth frames (marginal)',
    goal: 'gateway >= 0.85 of uws',
    met: gateway_to_uws >= 0.85,
    gateway_to_uws,
    gateway_to_binary: round(median(per_round.map((r) => r.gateway_to_binary)), 3),
    clients, rounds, measure_s, warmup_s, streams_per_client: streams.length,
    recorded_messages: recorded.length,
    cores: 'servers on core 0, clients on core 1',
    load_average_1m_start, load_average_1m_end: machine_description().load_average_1m,
    run_s: round((performance.now() - started) / 1000, 1),
    per_round, windows: results,
  };
  const path = write_result('gateway_fanout', result);
  process.stdout.write(`gateway/uws ${gateway_to_uws} (goal 0.85: ${result.met ? 'met' : 'NOT met'}), gateway/binary ${result.gateway_to_binary}; per round ${JSON.stringify(per_round)}\n-> ${path}\n`);
  process.exit(0);
}
