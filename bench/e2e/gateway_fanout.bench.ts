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
// it (marginal CPU). The uws row is charged all of its process's CPU. So the
// idle's own noise does not decide the ratio, the default load (2,500 clients
// x 4 streams, ~100k frames/s) makes the gateway's marginal CPU several times
// the idle's (both are in the result: idle_share, gateway_marginal_share).
// Rates are fixed (10 messages/s per symbol: Binance's speed), not a
// saturation: the ratio is of CPU per frame at the same frame rate.
//
// Cores (2): both server processes pinned to core 0 (taskset -c 0), the
// clients (this process: minimal raw-socket WebSocket clients that walk frame
// headers and answer pings, harness/raw_ws.ts) to core 1. Rows are measured
// in turn while the other server idles, the order rotated each round; ratios
// are taken within a round, then the median and its 95% interval (>= 6
// rounds). The harness's own lag (event-loop delay p99) and its CPU share
// are reported per window; a client core above 90% busy is flagged
// saturated (it then delivers late, and the server's rate is not the offered one).
// Run: npx tsx bench/e2e/gateway_fanout.bench.ts [--clients N] [--rounds N] [--measure-s S] [--reader-probe-interval-ms N] [--quick]
// Profile the depthcast server: DEPTHCAST_BENCH_CPU_PROF_DIR=/tmp/prof ... --rounds 1 --rows gateway
// (only those rows; the result then lacks the ratios), then npx tsx bench/profile_summary.ts <file>.
import './harness/quiet.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { machine_description, median, median_interval_95, round, write_result } from '../lib.js';
import { client_core, cpu_seconds, server_core } from './harness/orchestrate.js';
import { opcode_binary, RawWs } from './harness/raw_ws.js';
import { arg, quick } from './harness/args.js';
import { LoopLagMeter } from '../../loadgen/loop_lag.js';

const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'];
const streams = symbols.map((s) => `${s.replace('-', '').toLowerCase()}@depth@100ms`);
const self = fileURLToPath(import.meta.url);
/** Clients connect this many at a time (a few seconds for thousands). */
const connect_batch = 100;
/** Clients spread over this many loopback source addresses (ephemeral ports per address, TIME_WAIT across rounds). */
const source_addresses = 32;
/** Above this CPU share the client process is the bottleneck: its window is flagged. */
const client_saturated_share = 0.9;

// ---- the two server processes ----

if (process.argv[2] === '--server-depthcast') {
  const { start_all } = await import('../../src/app.js');
  const { default_config } = await import('../../src/config.js');
  const all = await start_all(Object.freeze({
    ...default_config(), port: 0, gateway_binance_port: 0, ui: false, log_level: 'silent',
    new_connections_per_ip_per_s_max: 0, gateway_method_frames_per_s_max: 100, symbols,
    ...(process.argv[3] !== undefined ? { reader_probe_interval_ms: Number(process.argv[3]) } : {}),
  }));
  process.stdout.write(`${JSON.stringify({ feed_port: all.feed_service.server.port, gateway_port: all.feed_service.gateway!.port })}\n`);
  // Each line on stdin asks for the feed's probe counts so far (probes sent, pongs seen, over the open sessions).
  createInterface({ input: process.stdin }).on('line', () => {
    let probes_sent = 0;
    let pongs_seen = 0;
    for (const s of all.feed_service.feed.sessions) {
      probes_sent += s.flow.probes.probes_sent;
      pongs_seen += s.flow.probes.pongs_seen;
    }
    process.stdout.write(`${JSON.stringify({ probes_sent, pongs_seen })}\n`);
  }); // runs until the bench kills it
  process.once('SIGTERM', () => process.exit(0)); // an exit, so that --cpu-prof (DEPTHCAST_BENCH_CPU_PROF_DIR) writes its profile
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

interface Server { child: ChildProcess; info: Record<string, number>; lines: AsyncIterator<string> }

function start_server(args: string[]): Promise<Server> {
  // DEPTHCAST_BENCH_CPU_PROF_DIR=dir: the depthcast server runs with --cpu-prof (what explains its numbers: bench/profile_summary.ts).
  const prof_dir = process.env.DEPTHCAST_BENCH_CPU_PROF_DIR;
  const prof = prof_dir !== undefined && args[0] === '--server-depthcast' ? ['--cpu-prof', `--cpu-prof-dir=${prof_dir}`] : [];
  // BENCH_SERVER_NODE_FLAGS: more node flags for both servers (e.g. --perf-basic-prof for perf), split on spaces.
  prof.push(...(process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean));
  const child = spawn('taskset', ['-c', String(server_core), process.execPath, ...prof, '--import', 'tsx', self, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server ${args[0]} exited with ${code}`)));
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    void lines.next().then((line) => resolve({ child, info: JSON.parse(line.value as string) as Record<string, number>, lines }));
  });
}

// ---- the clients and the run ----

interface Window {
  frames_per_s: number;
  server_cpu_share: number;
  harness_lag_p99_ms: number;
  /** This process's (the clients') CPU share of its core: near 1 it is the bottleneck. */
  client_cpu_share: number;
  clients_open: number;
  /** Clients the server closed during the row (connect, warm-up and window), by close code. */
  server_closes: Record<string, number>;
  /** The feed's reader probes (pings) sent and pongs seen per second in the window (depthcast rows; null for uws). */
  probes_per_s: number | null;
  pongs_per_s: number | null;
}

async function main(): Promise<void> {
  const clients = arg('--clients', quick ? 100 : 2500);
  const rounds = arg('--rounds', quick ? 1 : 6);
  const measure_s = arg('--measure-s', quick ? 3 : 5);
  const warmup_s = 2;
  const load_average_1m_start = machine_description().load_average_1m;
  const started = performance.now();
  execFileSync('taskset', ['-a', '-cp', String(client_core), String(process.pid)], { stdio: 'ignore' });

  // --reader-probe-interval-ms N: the service's probe interval (0 = no probes: what the feed's probing costs here).
  const probe_interval_ms = arg('--reader-probe-interval-ms', -1);
  const depthcast = await start_server(['--server-depthcast', ...(probe_interval_ms >= 0 ? [String(probe_interval_ms)] : [])]);
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
  const message_bytes_mean = recorded.reduce((n, r) => n + Buffer.byteLength(r.text), 0) / Math.max(1, recorded.length);

  const lag = new LoopLagMeter();
  let frames = 0;
  const sockets: RawWs[] = [];
  let connect_s_max = 0;
  /** Clients the server closed, by close code (a server judging the harness's clients slow shows here). */
  const closes = new Map<number, number>();
  const opened = new WeakSet<RawWs>();
  let closing = false;
  const connect_all = async (port: number, path: string, first_frame: Uint8Array | null) => {
    const t0 = performance.now();
    closes.clear();
    for (let i = 0; i < clients; i += connect_batch) {
      const batch: Promise<void>[] = [];
      for (let j = i; j < Math.min(clients, i + connect_batch); j++) {
        batch.push(new Promise<void>((resolve, reject) => {
          const ws = new RawWs({
            host: '127.0.0.1', port, path, local_address: `127.0.0.${1 + (j % source_addresses)}`, want_payloads: false,
            on_open: (w) => { opened.add(w); if (first_frame !== null) w.send(opcode_binary, first_frame); resolve(); },
            on_message: () => { frames++; },
            on_close: (w, code, reason) => {
              if (!w.is_open && !opened.has(w)) reject(new Error(`client closed before it opened: ${code} ${reason}`));
              else if (!closing) closes.set(code, (closes.get(code) ?? 0) + 1);
            },
          });
          sockets.push(ws);
        }));
      }
      await Promise.all(batch);
    }
    connect_s_max = Math.max(connect_s_max, (performance.now() - t0) / 1000);
  };
  const close_all = async () => {
    closing = true;
    for (const ws of sockets) ws.destroy();
    sockets.length = 0;
    await new Promise((r) => setTimeout(r, 1000));
    closing = false;
  };
  const probe_counts = async (server: Server): Promise<{ probes_sent: number; pongs_seen: number } | null> => {
    if (server !== depthcast) return null;
    server.child.stdin!.write('counts\n');
    return JSON.parse((await server.lines.next()).value as string) as { probes_sent: number; pongs_seen: number };
  };
  const window = async (server: Server): Promise<Window> => {
    const pid = server.child.pid!;
    await new Promise((r) => setTimeout(r, warmup_s * 1000));
    const probes0 = await probe_counts(server);
    const cpu0 = cpu_seconds(pid);
    const own0 = process.cpuUsage();
    const frames0 = frames;
    const t0 = performance.now();
    lag.reset();
    await new Promise((r) => setTimeout(r, measure_s * 1000));
    const wall_s = (performance.now() - t0) / 1000;
    const own = process.cpuUsage(own0);
    const probes1 = await probe_counts(server);
    return {
      frames_per_s: round((frames - frames0) / wall_s, 0),
      server_cpu_share: round((cpu_seconds(pid) - cpu0) / wall_s, 4),
      harness_lag_p99_ms: round(lag.percentile_ms(99), 2),
      client_cpu_share: round((own.user + own.system) / 1e6 / wall_s, 3),
      clients_open: sockets.filter((s) => s.is_open).length,
      server_closes: Object.fromEntries(closes),
      probes_per_s: probes0 === null || probes1 === null ? null : round((probes1.probes_sent - probes0.probes_sent) / wall_s, 0),
      pongs_per_s: probes0 === null || probes1 === null ? null : round((probes1.pongs_seen - probes0.pongs_seen) / wall_s, 0),
    };
  };
  const { FrameEncoder } = await import('../../src/wire/feed_encoder.js');
  const subscribe_frame = new FrameEncoder().subscribe({ symbols, depth: 0, interval_ms: 100 });
  const rows = {
    idle: async () => { closes.clear(); return window(depthcast); },
    gateway: async () => { await connect_all(gw, combined_path, null); const w = await window(depthcast); await close_all(); return w; },
    binary: async () => { await connect_all(depthcast.info.feed_port, '/ws', subscribe_frame); const w = await window(depthcast); await close_all(); return w; },
    uws: async () => { await connect_all(uws.info.port, '/stream', null); const w = await window(uws); await close_all(); return w; },
  };
  type Row = keyof typeof rows;
  // --rows gateway,uws: only some rows (profiling; the ratios need idle, gateway and uws).
  const rows_flag = process.argv.indexOf('--rows');
  const order = (rows_flag > 0 ? process.argv[rows_flag + 1].split(',') : ['idle', 'gateway', 'binary', 'uws']) as Row[];
  if (order.some((r) => !(r in rows))) throw new Error(`--rows: one of ${Object.keys(rows).join(', ')}`);
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

  if (!(['idle', 'gateway', 'binary', 'uws'] as Row[]).every((r) => order.includes(r))) process.exit(0); // a profiling run: windows printed, nothing written
  const marginal = (w: Window, idle: Window | null) => Math.max(1e-3, w.server_cpu_share - (idle?.server_cpu_share ?? 0));
  const per_cpu = (w: Window, idle: Window | null) => w.frames_per_s / marginal(w, idle);
  const per_round = results.map((r) => ({
    gateway_frames_per_server_cpu_s: round(per_cpu(r.gateway, r.idle), 0),
    binary_frames_per_server_cpu_s: round(per_cpu(r.binary, r.idle), 0),
    uws_frames_per_server_cpu_s: round(per_cpu(r.uws, null), 0),
    gateway_to_uws: round(per_cpu(r.gateway, r.idle) / per_cpu(r.uws, null), 3),
    gateway_to_binary: round(per_cpu(r.gateway, r.idle) / per_cpu(r.binary, r.idle), 3),
    idle_share: round(r.idle.server_cpu_share, 3),
    gateway_marginal_share: round(marginal(r.gateway, r.idle), 3),
  }));
  const summary = (xs: number[]) => ({ median: round(median(xs), 3), interval_95: median_interval_95(xs), min: Math.min(...xs), max: Math.max(...xs) });
  const gateway_to_uws = summary(per_round.map((r) => r.gateway_to_uws));
  const windows = results.flatMap((r) => Object.values(r));
  const result = {
    what: 'delivered depthUpdate frames per server CPU-second: gateway (marginal over the idle service) vs bare uWS publish of the same JSON, and vs depthcast binary interval-100 ms full-depth frames (marginal)',
    goal: 'gateway >= 0.85 of uws',
    met: gateway_to_uws.median >= 0.85,
    gateway_to_uws,
    gateway_to_binary: summary(per_round.map((r) => r.gateway_to_binary)),
    idle_share: summary(per_round.map((r) => r.idle_share)),
    gateway_marginal_share: summary(per_round.map((r) => r.gateway_marginal_share)),
    harness_lag_p99_ms_max: Math.max(...windows.map((w) => w.harness_lag_p99_ms)),
    client_cpu_share_max: Math.max(...windows.map((w) => w.client_cpu_share)),
    client_saturated: windows.some((w) => w.client_cpu_share >= client_saturated_share),
    connect_s_max: round(connect_s_max, 1),
    reader_probe_interval_ms: probe_interval_ms >= 0 ? probe_interval_ms : 'default',
    clients, rounds, measure_s, warmup_s, streams_per_client: streams.length,
    recorded_messages: recorded.length, message_bytes_mean: round(message_bytes_mean, 0),
    cores: 'servers on core 0, clients on core 1',
    load_average_1m_start, load_average_1m_end: machine_description().load_average_1m,
    run_s: round((performance.now() - started) / 1000, 1),
    per_round, windows: results,
  };
  const path = write_result('gateway_fanout', result);
  process.stdout.write(`gateway/uws ${JSON.stringify(gateway_to_uws)} (goal 0.85: ${result.met ? 'met' : 'NOT met'}), gateway/binary ${JSON.stringify(result.gateway_to_binary)}, ` +
    `idle ${JSON.stringify(result.idle_share)}, gateway marginal ${JSON.stringify(result.gateway_marginal_share)}, harness lag p99 max ${result.harness_lag_p99_ms_max} ms, ` +
    `client CPU max ${result.client_cpu_share_max}${result.client_saturated ? ' (SATURATED)' : ''}\n-> ${path}\n`);
  process.exit(0);
}
