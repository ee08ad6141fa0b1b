// What it measures: many connections on ONE feed process. N idle subscribed
// WebSocket connections (default 10,000; --quick 2,000) against `depthcast
// all` at a low engine rate, opened in a connect storm:
//   - the storm: every connection opened at once with at most --in-flight
//     (500) handshakes outstanding; time until all are open and until all
//     hold their Snapshot; closes and failures by code; a refused or failed
//     connection is retried with backoff (100 ms doubling to 2 s, jittered),
//     so the run completes;
//   - memory per idle subscribed connection: server RSS before any client
//     (after warm-up) and after all N are subscribed and have settled
//     (--settle-s); the server's own drift over a window of the same length
//     without clients is taken out: per connection = (growth − drift) ÷ N,
//     both readings right after a full GC of the server (what the
//     connections hold). Goal (issue 11): ≤ 10 KB at 10,000 connections.
//     Also the steady state without a forced GC (median RSS of each
//     window): it adds the young generation as the stream's garbage grows
//     it, a cost bounded per process, not per connection. Beside it, from the
//     server's /metrics (prom-client), V8 heap used and committed and
//     external (ArrayBuffer) memory, so the JS heap per connection is
//     separated from native memory (uWS, libuv, malloc); and the kernel's
//     TCP memory (/proc/net/sockstat buffer pages, /proc/slabinfo TCP
//     objects), which is not in any RSS and counts BOTH ends of each
//     loopback connection.
// Baseline in the same run: the server's RSS drift without clients.
// bench/micro/session_memory.bench.ts breaks the JS part down by object.
//
// Engine rate: 10 orders/s by default (about 2 frames/s per connection, and
// the feed's reader probes: a ping after data at most every 100 ms). At 50
// the 10,000 connections get about 6.5 frames/s each; server and clients
// each use a whole core, and the storm then times the client core.
//
// Clients: minimal WebSocket clients over node:net (harness/raw_ws.ts), all
// in this process, each subscribing to one of the 4 symbols (round-robin) at
// depth 10 and then idle: it reads what comes and answers pings (the feed's
// reader probes, uWS's keep-alives). Frames are decoded only until the
// Snapshot (DeltaReader tells the body type); after that they are counted.
// Source addresses: spread over 127.0.0.2 … 127.0.0.(1 + --addresses), at
// most 500 connections per address by default, so the feed's default
// per-IP admission cap (--new-connections-per-ip-per-s-max 1000, burst one
// second's worth; over it close 4029) holds; --addresses 2 makes the storm
// meet the cap (4029s are counted and retried), --per-ip-per-s-max N passes
// a different cap to the server. Loopback only.
//
// File descriptors: this process holds N client sockets and the server N
// server sockets. Both need N + 1000 under RLIMIT_NOFILE. Here `ulimit -n`
// is 20000 (soft and hard): enough for 10,000, at most ~19,000. For more, the
// bench tries to raise its own limits with `prlimit --pid <self>
// --nofile=…` before it starts the server (which inherits them); raising a
// hard limit needs CAP_SYS_RESOURCE, which this sandbox's root lacks (prlimit
// says "Operation not permitted"), so here it stops and says so.
//
// Also reported: server and client CPU (cores) in the storm and the idle
// window, and SYNs dropped because the listen queue was full (TcpExt
// ListenOverflows, machine-wide): a storm that outruns accept shows there.
//
// Cores (2 here): server pinned to core 0, this process to core 1 (taskset).
// Everything is bounded: retries, the storm (--storm-s-max), a watchdog that
// stops the server and exits; at the end every socket and the server close.
//
// Caveats: RSS counts pages touched, so a V8 heap that grew its committed
// space for the connections and a malloc arena that keeps freed memory show
// up whole; the per-connection figure is what a feed process really holds,
// not the bytes of live objects. Before each reading the server runs a full
// GC, asked through its inspector (NODE_OPTIONS=--inspect on a free loopback
// port, HeapProfiler.collectGarbage), so heap used is live objects, not the
// storm's garbage; --no-gc reads without it (then garbage counts).
//
// Run: npx tsx bench/e2e/connections.bench.ts [--quick] [--connections N] [--addresses N]
//      [--in-flight N] [--rate N] [--depth 10] [--warmup-s N] [--settle-s N] [--storm-s-max N]
//      [--per-ip-per-s-max N] [--no-pin] [--no-gc]
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import WebSocket from 'ws';
import { has_flag } from '../../src/util/flags.js';
import { free_port, process_rss_bytes } from '../../src/util/host.js';
import { DeltaReader } from '../../src/wire/delta_reader.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { Body } from '../../src/wire/generated/depthcast/feed/body.js';
import { median, results_dir, round, write_result } from '../lib.js';
import { arg, quick } from './harness/args.js';
import { cpu_seconds } from './harness/orchestrate.js';
import { opcode_binary, RawWs } from './harness/raw_ws.js';
import { pin_self, start_depthcast, taskset_exists, type ServerProcess } from './harness/server_process.js';

const connections = arg('--connections', quick ? 2000 : 10_000);
/** Connections per source address at most (default spread): half the default per-IP burst. */
const per_address_default_max = 500;
const addresses = arg('--addresses', Math.max(1, Math.ceil(connections / per_address_default_max)));
const in_flight_max = arg('--in-flight', 500);
/** Low on purpose: at 50 orders/s 10,000 connections get ~65k frames/s (+ a probe ping each) and both cores saturate, so the storm would time the clients' core. */
const rate = arg('--rate', 10);
const depth = arg('--depth', 10);
const warmup_s = arg('--warmup-s', quick ? 5 : 10);
const settle_s = arg('--settle-s', quick ? 5 : 10);
const storm_s_max = arg('--storm-s-max', 120);
/** 0 = the server's default (1000/s). */
const per_ip_per_s_max = arg('--per-ip-per-s-max', 0);
const pin = taskset_exists && !has_flag(process.argv.slice(2), '--no-pin');
const force_gc = !has_flag(process.argv.slice(2), '--no-gc');
const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'];
/** File descriptors besides the sockets (node, tsx, pipes, the bus). */
const fd_margin = 1000;
const retry_ms_min = 100;
const retry_ms_max = 2000;
const attempts_max = 30;
/** How often RSS is sampled for the chart. */
const sample_ms = 1000;
const close_wait_s = 3;

if (addresses < 1 || addresses > 250) throw new Error(`--addresses must be 1..250 (127.0.0.2 … 127.0.0.251), got ${addresses}`);

// ---- file descriptors ----

function nofile_limit(): { soft: number; hard: number } {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  const n = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** Enough descriptors for this process and the server (which inherits ours), raised with prlimit if need be. */
function ensure_fds(): { soft: number; hard: number; raised: boolean } {
  const need = connections + fd_margin;
  const before = nofile_limit();
  if (before.soft >= need) return { ...before, raised: false };
  const want = Math.max(need, 65_536);
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`], { stdio: 'ignore' });
  } catch { /* not root, or no prlimit: said below */ }
  const after = nofile_limit();
  if (after.soft < need) {
    throw new Error(`${connections} connections need ${need} file descriptors per process; the limit is ${after.soft} (hard ${after.hard}) ` +
      `and prlimit could not raise it (raising a hard limit needs CAP_SYS_RESOURCE). Run under \`prlimit --nofile=${want}:${want}\` where that is allowed, or lower --connections.`);
  }
  return { ...after, raised: true };
}

// ---- server-side readings ----

interface Reading {
  t_s: number;
  rss_bytes: number;
  heap_used_bytes: number | null;
  heap_total_bytes: number | null;
  external_bytes: number | null;
  kernel_tcp_mem_bytes: number | null;
  kernel_tcp_slab_bytes: number | null;
  kernel_tcp_sockets: number | null;
}

async function metrics(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const line of text.split('\n')) {
      const m = /^(depthcast_(?:nodejs_heap_size_used_bytes|nodejs_heap_size_total_bytes|nodejs_external_memory_bytes|process_resident_memory_bytes)) (\S+)/.exec(line);
      if (m !== null) out.set(m[1], Number(m[2]));
    }
  } catch { /* reported as nulls */ }
  return out;
}

/** Kernel TCP memory: socket buffer pages (sockstat) and TCP socket objects (slabinfo, root only). */
function kernel_tcp(): { mem_bytes: number | null; slab_bytes: number | null; sockets: number | null } {
  let mem_bytes: number | null = null;
  let sockets: number | null = null;
  let slab_bytes: number | null = null;
  try {
    const m = /TCP: inuse (\d+) .* alloc (\d+) mem (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'));
    if (m !== null) {
      sockets = Number(m[2]);
      mem_bytes = Number(m[3]) * 4096;
    }
  } catch { /* not Linux */ }
  try {
    const m = /^TCP\s+\d+\s+(\d+)\s+(\d+)/m.exec(readFileSync('/proc/slabinfo', 'utf8'));
    if (m !== null) slab_bytes = Number(m[1]) * Number(m[2]);
  } catch { /* not root */ }
  return { mem_bytes, slab_bytes, sockets };
}

/** TcpExt counters (machine-wide): SYNs dropped because a listen queue was full, SYNs retransmitted. */
function tcp_ext(): { listen_overflows: number; syn_retransmits: number } {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0].split(' ');
    const values = lines[1].split(' ').map(Number);
    return { listen_overflows: values[names.indexOf('ListenOverflows')] ?? 0, syn_retransmits: values[names.indexOf('TCPSynRetrans')] ?? 0 };
  } catch {
    return { listen_overflows: 0, syn_retransmits: 0 };
  }
}

/** CPU cores used by the server and by this process (all clients) between two marks. */
function cpu_mark(server: ServerProcess): { t: number; server_s: number; self_s: number } {
  const c = process.cpuUsage();
  return { t: performance.now(), server_s: cpu_seconds(server.pid), self_s: (c.user + c.system) / 1e6 };
}

function cores(a: ReturnType<typeof cpu_mark>, b: ReturnType<typeof cpu_mark>): { server: number; clients: number } {
  const s = (b.t - a.t) / 1000;
  return { server: round((b.server_s - a.server_s) / s, 3), clients: round((b.self_s - a.self_s) / s, 3) };
}

const t0 = performance.now();
const now_s = () => round((performance.now() - t0) / 1000, 2);

/** The server's inspector (--inspect): a full GC on request. */
class ServerGc {
  private next_id = 1;
  private constructor(private readonly ws: WebSocket) {}

  static async open(inspector_port: number): Promise<ServerGc> {
    const targets = await (await fetch(`http://127.0.0.1:${inspector_port}/json/list`)).json() as { webSocketDebuggerUrl: string }[];
    const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    return new ServerGc(ws);
  }

  /** Resolves when the server has run a full GC (twice: what the first frees may let the second free more). */
  async collect(): Promise<void> {
    for (let k = 0; k < 2; k++) {
      const id = this.next_id++;
      await new Promise<void>((resolve) => {
        const on = (data: Buffer) => {
          if ((JSON.parse(data.toString()) as { id?: number }).id !== id) return;
          this.ws.off('message', on);
          resolve();
        };
        this.ws.on('message', on);
        this.ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      });
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

let server_gc: ServerGc | null = null;

async function reading(server: ServerProcess): Promise<Reading> {
  if (server_gc !== null) {
    await server_gc.collect();
    await sleep(200);
  }
  const rss_bytes = process_rss_bytes(server.pid) ?? 0; // before the scrape: the scrape allocates
  const k = kernel_tcp();
  const m = await metrics(server.port);
  const pick = (name: string) => m.get(name) ?? null;
  return {
    t_s: now_s(), rss_bytes,
    heap_used_bytes: pick('depthcast_nodejs_heap_size_used_bytes'),
    heap_total_bytes: pick('depthcast_nodejs_heap_size_total_bytes'),
    external_bytes: pick('depthcast_nodejs_external_memory_bytes'),
    kernel_tcp_mem_bytes: k.mem_bytes, kernel_tcp_slab_bytes: k.slab_bytes, kernel_tcp_sockets: k.sockets,
  };
}

// ---- clients ----

const enc = new FrameEncoder();
const subscribe_frames = symbols.map((s) => enc.subscribe({ symbols: [s], depth, interval_ms: 0 }));
const reader = new DeltaReader();

type ClientState = 'idle' | 'connecting' | 'open' | 'subscribed' | 'failed' | 'closed';

interface Client {
  readonly i: number;
  ws: RawWs | null;
  state: ClientState;
  attempts: number;
  frames: number;
}

const clients: Client[] = Array.from({ length: connections }, (_, i) => ({ i, ws: null, state: 'idle' as ClientState, attempts: 0, frames: 0 }));
/** Closes the clients saw in the storm (retried) and after it (not retried), by code. */
const closes_by_code: Record<string, number> = {};
const closes_after_storm_by_code: Record<string, number> = {};
const errors_by_reason: Record<string, number> = {};
const error_frames_total = { n: 0 };
let storming = true;
let in_flight = 0;
let open_count = 0;
let subscribed_count = 0;
let failed_count = 0;
let retries_total = 0;
let closes_after_subscribed = 0;
let all_open_ms: number | null = null;
let all_subscribed_ms: number | null = null;
let storm_start_ms = 0;
let port = 0;
const pending: number[] = [];

function address_of(i: number): string {
  return `127.0.0.${2 + (i % addresses)}`;
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

function pump(): void {
  while (in_flight < in_flight_max && pending.length > 0) connect(clients[pending.shift()!]);
}

function connect(c: Client): void {
  c.state = 'connecting';
  c.attempts++;
  in_flight++;
  c.ws = new RawWs({
    host: '127.0.0.1', port, path: '/ws', local_address: address_of(c.i), want_payloads: true,
    on_open: (ws) => {
      in_flight--;
      c.state = 'open';
      open_count++;
      if (open_count === connections && all_open_ms === null) all_open_ms = performance.now() - storm_start_ms;
      ws.send(opcode_binary, subscribe_frames[c.i % symbols.length]);
      pump();
    },
    on_message: (_ws, opcode, payload) => {
      c.frames++;
      if (c.state !== 'open' || opcode !== opcode_binary || payload === null) return;
      // Decoded until the Snapshot only: after it the client just counts.
      let type = -1;
      try {
        type = reader.read(payload);
      } catch {
        count(errors_by_reason, 'undecodable frame');
      }
      if (type === Body.Snapshot) {
        c.state = 'subscribed';
        subscribed_count++;
        if (subscribed_count === connections) all_subscribed_ms = performance.now() - storm_start_ms;
      } else if (type === Body.Error) {
        error_frames_total.n++;
      }
    },
    on_close: (_ws, code, reason) => {
      const was = c.state;
      if (was === 'closed') return;
      count(storming ? closes_by_code : closes_after_storm_by_code, String(code));
      if (code === 1006) count(errors_by_reason, reason.slice(0, 60));
      if (was === 'connecting') in_flight--;
      if (was === 'open' || was === 'subscribed') open_count--;
      if (was === 'subscribed') {
        subscribed_count--;
        closes_after_subscribed++;
      }
      c.ws = null;
      if (storming && c.attempts < attempts_max) {
        c.state = 'idle';
        retries_total++;
        const backoff = Math.min(retry_ms_max, retry_ms_min * 2 ** (c.attempts - 1));
        setTimeout(() => {
          if (!storming || c.state !== 'idle') return;
          pending.push(c.i);
          pump();
        }, backoff * (0.5 + Math.random() / 2));
      } else if (storming) {
        c.state = 'failed'; // attempts_max used up
        failed_count++;
      } else {
        c.state = 'closed';
      }
      pump();
    },
  });
}

/** Opens every connection (bounded in flight), until all have their Snapshot or storm_s_max passes. */
async function storm(): Promise<void> {
  storm_start_ms = performance.now();
  for (let i = 0; i < connections; i++) pending.push(i);
  pump();
  const deadline = storm_start_ms + storm_s_max * 1000;
  while (subscribed_count < connections && performance.now() < deadline && failed_count + subscribed_count < connections) {
    await sleep(50);
  }
  storming = false;
  pending.length = 0;
}

function close_all(): void {
  for (const c of clients) {
    if (c.ws === null) continue;
    const ws = c.ws;
    c.state = 'closed';
    c.ws = null;
    ws.destroy();
  }
}

// ---- run ----

const fds = ensure_fds();
if (pin) pin_self(1);
const load_start = round(loadavg()[0], 2);
const server_args = ['--rate', String(rate), '--symbols', symbols.join(',')];
if (per_ip_per_s_max > 0) server_args.push('--new-connections-per-ip-per-s-max', String(per_ip_per_s_max));
// --js-fanout: the server sends each connection its Deltas from JS (--no-fanout-topics), to compare with uWS topics.
const fanout_topics = !has_flag(process.argv.slice(2), '--js-fanout');
if (!fanout_topics) server_args.push('--no-fanout-topics');
const inspector_port = force_gc ? await free_port() : 0;
const node_options = process.env.NODE_OPTIONS;
if (force_gc) process.env.NODE_OPTIONS = `${node_options ?? ''} --inspect=127.0.0.1:${inspector_port}`.trim(); // the server's, not ours
const server = await start_depthcast(server_args, pin ? 0 : null);
if (node_options === undefined) delete process.env.NODE_OPTIONS;
else process.env.NODE_OPTIONS = node_options;
port = server.port;
if (force_gc) server_gc = await ServerGc.open(inspector_port);
const watchdog_s = warmup_s + 3 * settle_s + storm_s_max + close_wait_s + 60;
const watchdog = setTimeout(() => {
  process.stderr.write(`connections bench: watchdog (${watchdog_s} s): stopping\n`);
  close_all();
  void server.stop().finally(() => process.exit(1));
}, watchdog_s * 1000);
watchdog.unref();

const series: { t_s: number; rss_bytes: number; open: number; subscribed: number; phase: string }[] = [];
let phase = 'warm-up';
const sampler = setInterval(() => {
  series.push({ t_s: now_s(), rss_bytes: process_rss_bytes(server.pid) ?? 0, open: open_count, subscribed: subscribed_count, phase });
}, sample_ms);

try {
  process.stderr.write(`connections: server pid ${server.pid} port ${port}; warm-up ${warmup_s} s\n`);
  await sleep(warmup_s * 1000);
  phase = 'no clients (drift)';
  const r0 = await reading(server);
  await sleep(settle_s * 1000);
  const r1 = await reading(server);
  const client_rss_before = process.memoryUsage().rss;

  phase = 'storm';
  const tcp_0 = tcp_ext();
  const cpu_0 = cpu_mark(server);
  process.stderr.write(`connections: storm of ${connections} over ${addresses} source address(es), ${in_flight_max} in flight\n`);
  await storm();
  const storm_s = (performance.now() - storm_start_ms) / 1000;
  const subscribed_at_storm_end = subscribed_count;
  const cpu_1 = cpu_mark(server);
  const tcp_1 = tcp_ext();
  process.stderr.write(`connections: ${subscribed_count}/${connections} subscribed in ${storm_s.toFixed(1)} s (all open: ${all_open_ms === null ? 'no' : `${(all_open_ms / 1000).toFixed(2)} s`}); settling ${settle_s} s\n`);

  phase = 'idle, subscribed';
  const frames_at_settle = clients.reduce((n, c) => n + c.frames, 0);
  const settle_t0 = performance.now();
  await sleep(settle_s * 1000);
  const settle_elapsed_s = (performance.now() - settle_t0) / 1000;
  const frames_per_s_per_connection = (clients.reduce((n, c) => n + c.frames, 0) - frames_at_settle) / settle_elapsed_s / Math.max(1, subscribed_count);
  const cpu_2 = cpu_mark(server);
  // Steady state, no GC forced: RSS samples of the settle window (the young generation as this traffic grows it).
  const settled = series.filter((p) => p.phase === 'idle, subscribed').map((p) => p.rss_bytes);
  const steady_rss_bytes = settled.length === 0 ? null : median(settled);
  const steady_before = series.filter((p) => p.phase === 'no clients (drift)').map((p) => p.rss_bytes);
  const steady_before_rss_bytes = steady_before.length === 0 ? null : median(steady_before);
  const r2 = await reading(server);
  const client_rss_after = process.memoryUsage().rss;
  const stats = await (await fetch(`http://127.0.0.1:${port}/stats`)).json() as { connections?: number; admission?: { refused_total?: Record<string, number> } };
  const subscribed_at_measure = subscribed_count;

  phase = 'closed';
  close_all();
  await sleep(close_wait_s * 1000);
  const r3 = await reading(server);
  clearInterval(sampler);

  // Drift per second without clients, over the time from r1 to r2.
  const drift_bytes = ((r1.rss_bytes - r0.rss_bytes) / (r1.t_s - r0.t_s)) * (r2.t_s - r1.t_s);
  const n = Math.max(1, subscribed_at_measure);
  const per = (a: number | null, b: number | null) => (a === null || b === null ? null : Math.round((b - a) / n));
  const rss_per_connection = Math.round((r2.rss_bytes - r1.rss_bytes - drift_bytes) / n);
  const heap_used_per = per(r1.heap_used_bytes, r2.heap_used_bytes);
  const heap_total_per = per(r1.heap_total_bytes, r2.heap_total_bytes);
  const external_per = per(r1.external_bytes, r2.external_bytes);
  const goal_bytes = 10 * 1024;
  const result = {
    what: `${connections} idle subscribed WebSocket connections on one feed process (depthcast all), opened in a connect storm: time to open and subscribe, refusals, memory per connection`,
    baseline: 'the server RSS drift over the same time without clients',
    workload: {
      connections, source_addresses: `127.0.0.2 … 127.0.0.${1 + addresses} (${addresses})`, per_address: Math.ceil(connections / addresses),
      in_flight_max, engine_rate_orders_per_s: rate, fanout_topics, symbols, depth, subscription: 'one symbol per connection (round-robin), depth ' + String(depth),
      per_ip_per_s_max: per_ip_per_s_max > 0 ? per_ip_per_s_max : 'server default (1000)', warmup_s, settle_s,
      fd_limit: fds, pinned: pin ? 'server core 0, clients core 1' : 'no', full_gc_before_readings: force_gc,
    },
    storm: {
      seconds: round(storm_s, 2),
      all_open_s: all_open_ms === null ? null : round(all_open_ms / 1000, 3),
      all_subscribed_s: all_subscribed_ms === null ? null : round(all_subscribed_ms / 1000, 3),
      subscribed: subscribed_at_storm_end, failed: failed_count, retries: retries_total,
      closes_by_code, errors_by_reason, error_frames: error_frames_total.n,
      server_refused_by_code: stats.admission?.refused_total ?? {},
      server_connections: stats.connections ?? null,
      syns_dropped_listen_queue_full: tcp_1.listen_overflows - tcp_0.listen_overflows,
      syn_retransmits: tcp_1.syn_retransmits - tcp_0.syn_retransmits,
      cores: cores(cpu_0, cpu_1),
    },
    idle: {
      frames_per_s_per_connection: round(frames_per_s_per_connection, 2),
      closes_after_subscribed, closes_after_storm_by_code, subscribed_at_measure,
      cores: cores(cpu_1, cpu_2),
    },
    memory: {
      rss_before_bytes: r1.rss_bytes, rss_after_bytes: r2.rss_bytes, rss_after_close_bytes: r3.rss_bytes,
      rss_drift_without_clients_bytes: Math.round(drift_bytes),
      per_connection_bytes: rss_per_connection,
      steady_rss_before_bytes: steady_before_rss_bytes, steady_rss_after_bytes: steady_rss_bytes,
      steady_per_connection_bytes: steady_rss_bytes === null || steady_before_rss_bytes === null ? null
        : Math.round((steady_rss_bytes - steady_before_rss_bytes - drift_bytes) / n),
      heap_used_per_connection_bytes: heap_used_per,
      heap_committed_per_connection_bytes: heap_total_per,
      external_per_connection_bytes: external_per,
      native_per_connection_bytes: heap_total_per === null || external_per === null ? null : rss_per_connection - heap_total_per - external_per,
      kernel_tcp_buffers_per_connection_bytes: per(r1.kernel_tcp_mem_bytes, r2.kernel_tcp_mem_bytes),
      kernel_tcp_sockets_per_connection_bytes: per(r1.kernel_tcp_slab_bytes, r2.kernel_tcp_slab_bytes),
      client_process_rss_per_connection_bytes: Math.round((client_rss_after - client_rss_before) / n),
      readings: { before_drift: r0, before: r1, after: r2, after_close: r3 },
    },
    goal: { per_connection_bytes_max: goal_bytes, measured_at_connections: connections, met: connections >= 10_000 && subscribed_at_measure === connections ? rss_per_connection <= goal_bytes : null },
    load_average_1m_start: load_start,
    series,
  };
  const name = fanout_topics ? 'connections' : 'connections_js_fanout';
  const path = write_result(name, result);
  writeFileSync(join(results_dir, `${name}.html`), chart(result.series, [r0, r1, r2, r3], result));
  process.stdout.write(`${JSON.stringify({ storm: result.storm, idle: result.idle, memory: { ...result.memory, readings: undefined }, goal: result.goal }, null, 2)}\nwrote ${path} and ${name}.html\n`);
} finally {
  clearInterval(sampler);
  server_gc?.close();
  close_all();
  await server.stop();
}
process.exit(0);

// ---- chart ----

function chart(points: readonly { t_s: number; rss_bytes: number; open: number; subscribed: number; phase: string }[], readings: readonly Reading[], r: Record<string, unknown>): string {
  const w = 900; const h = 360; const left = 70; const right = 70; const top = 40; const bottom = 50;
  const t_max = Math.max(1, ...points.map((p) => p.t_s));
  const mb_max = Math.max(1, ...points.map((p) => p.rss_bytes / 1e6)) * 1.1;
  const x = (t: number) => left + ((w - left - right) * t) / t_max;
  const y_mb = (mb: number) => top + (h - top - bottom) * (1 - mb / mb_max);
  const y_n = (k: number) => top + (h - top - bottom) * (1 - k / Math.max(1, connections));
  const line = (f: (p: (typeof points)[number]) => number, y: (v: number) => number) => points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t_s).toFixed(1)},${y(f(p)).toFixed(1)}`).join(' ');
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="monospace" font-size="11">`;
  for (let k = 0; k <= 4; k++) {
    const mb = (mb_max * k) / 4;
    svg += `<line x1="${left}" x2="${w - right}" y1="${y_mb(mb)}" y2="${y_mb(mb)}" stroke="#eee"/><text x="${left - 6}" y="${y_mb(mb) + 4}" text-anchor="end">${mb.toFixed(0)} MB</text>`;
    svg += `<text x="${w - right + 6}" y="${y_n((connections * k) / 4) + 4}">${Math.round((connections * k) / 4)}</text>`;
  }
  let last = '';
  for (const p of points) {
    if (p.phase === last) continue;
    last = p.phase;
    svg += `<line x1="${x(p.t_s)}" x2="${x(p.t_s)}" y1="${top}" y2="${h - bottom}" stroke="#bbb" stroke-dasharray="3 3"/><text x="${x(p.t_s) + 3}" y="${top + 12}">${p.phase}</text>`;
  }
  svg += `<path d="${line((p) => p.rss_bytes / 1e6, y_mb)}" fill="none" stroke="#1f6bb3" stroke-width="2"/>`;
  svg += `<path d="${line((p) => p.subscribed, y_n)}" fill="none" stroke="#3fae5a" stroke-width="1.5"/>`;
  for (const q of readings) {
    svg += `<circle cx="${x(q.t_s)}" cy="${y_mb(q.rss_bytes / 1e6)}" r="4" fill="#d65f5f"><title>reading after a full GC: ${(q.rss_bytes / 1e6).toFixed(1)} MB</title></circle>`;
  }
  svg += `<text x="${left}" y="22" font-size="13">Feed RSS (blue, left) and subscribed connections (green, right) over the run, seconds</text>`;
  svg += `<text x="${left}" y="${h - 14}">0 … ${t_max.toFixed(0)} s; sampled every ${sample_ms} ms; red dots: the readings (each after a full GC of the server)</text></svg>`;
  const { series: _series, ...summary } = r;
  return `<!doctype html><meta charset="utf-8"><title>depthcast connections</title><body style="font-family:monospace">${svg}<pre>${JSON.stringify(summary, null, 2)}</pre></body>`;
}
