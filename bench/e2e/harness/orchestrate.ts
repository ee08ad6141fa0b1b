// The parent of a fan-out trial. Cores (2 here): the server process (and, for
// NATS, nats-server) pinned to core 0 with `taskset -c 0`, the client process
// pinned to core 1; this parent only relays IPC and reads /proc. CPU is read
// from /proc/<pid>/stat (utime + stime of every thread of the process), so it
// is the same measure for Node servers and for nats-server.
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from '../../lib.js';
import { spin_us_max_default, type ClientCommand, type ClientReply, type HopKey, type LatencySummaryUs, type Mode, type Schedule, type ServerCommand, type ServerReply } from './protocol.js';
import type { TargetKind } from './target.js';
import { process_cpu_s } from '../../../src/util/host.js';
import { depthcast_frame_stamps, WireCapture, type FrameStamps, type WireSummary } from './wire_capture.js';

const here = dirname(fileURLToPath(import.meta.url));
export const server_core = 0;
export const client_core = 1;

export interface PairSpec {
  kind: TargetKind;
  clients: number;
  sample_every: number;
  recording_path: string;
  views: string[];
  /** Ticks the server publishes before its clients connect (default prime_ticks_default). */
  prime_ticks?: number;
}

/** 1 s of engine time: depthcast's books are past their build-up, frames per tick are steady. */
export const prime_ticks_default = 1000;

export interface WindowSpec {
  mode: Mode;
  /** Paced mode: ticks per second offered. */
  ticks_per_s: number;
  /** Saturation mode: ticks in flight before the driver waits for the clients. */
  window_ticks: number;
  warmup_s: number;
  measure_s: number;
  /** Also measure at the wire (./wire_capture.ts, needs tcpdump): latency free of the client process's lag. */
  wire_capture?: boolean;
  /**
   * Paced: how early the driver wakes to busy-wait for a due time (default
   * 1500 µs). The busy-wait runs in the server's process, on its core: 0
   * leaves the core to the server, and the timers' lateness shows as schedule lag.
   */
  spin_us_max?: number;
}

export interface TrialResult {
  kind: TargetKind;
  /** Set by the bench that runs rounds. */
  round?: number;
  mode: Mode;
  clients: number;
  clients_connected: number;
  offered_ticks_per_s: number | null;
  achieved_ticks_per_s: number;
  kept_up: boolean | null;
  frames_per_tick_per_client: number;
  delivered_frames_per_s: number;
  delivered_megabytes_per_s: number;
  /** Server CPU in cores (1 = one core busy the whole window). */
  server_cpu_cores: number;
  server_cpu_us_per_frame: number;
  /** Delivered frames per second of server CPU: what one server core would sustain at this efficiency. */
  frames_per_server_cpu_s: number;
  client_cpu_cores: number;
  /** Time runnable but not running (other processes on the core), in cores. */
  server_runqueue_wait_cores: number;
  client_runqueue_wait_cores: number;
  bottleneck: 'server' | 'clients' | 'none';
  /** Receive time minus the frame's stamp: the real publish time (paced) or the send time (saturation). */
  latency_us: LatencySummaryUs;
  /** Paced: receive time minus the tick's due time (coordinated-omission corrected: includes the schedule lag a slow server causes). */
  co_latency_us: LatencySummaryUs | null;
  /** Paced: the driver's own lateness, publish time minus due time per tick (the harness's, not the server's). */
  schedule_lag_us: LatencySummaryUs | null;
  /** depthcast: engine (driver publish) → ingest → send → receive. */
  hops_us: Record<HopKey, LatencySummaryUs> | null;
  /** Paced windows with wire_capture: stamp → the packet that carried the frame (no client lag in it). */
  wire: WireSummary | null;
  /** The client process's own event-loop lag over the window: it adds to every sample. */
  client_loop_lag_us: { p99: number; max: number };
  /** Cores the driver spent busy-waiting for due times; taken out of server CPU. */
  driver_spin_cores: number;
  gaps: number;
  decode_errors: number;
  closed_clients: number;
  close_codes: Record<string, number>;
  stream_exhausted: boolean;
  server_stats: Record<string, unknown>;
  /** The target's counts (Target.counts) per second over the window: e.g. depthcast's probes_sent and pongs_seen. */
  server_counts_per_s: Record<string, number>;
  measure_s: number;
}

class Child<Cmd, Reply extends { type: string }> {
  readonly proc: ChildProcess;
  private waiters: { type: string; resolve: (m: Reply) => void; reject: (e: Error) => void }[] = [];
  on_message: ((m: Reply) => void) | null = null;
  exited = false;

  constructor(script: string, core: number, readonly name: string, node_flags: string[] = []) {
    this.proc = spawn('taskset', ['-c', String(core), process.execPath, ...node_flags, '--import', 'tsx', join(here, script)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    });
    this.proc.on('message', (m: Reply) => {
      if (m.type === 'error') {
        const err = new Error(`${name}: ${(m as unknown as { message: string }).message}`);
        for (const w of this.waiters.splice(0)) w.reject(err);
        return;
      }
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
      else this.on_message?.(m);
    });
    this.proc.on('exit', (code) => {
      this.exited = true;
      const err = new Error(`${name} exited (code ${code})`);
      for (const w of this.waiters.splice(0)) w.reject(err);
    });
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name}: no pid`);
    return this.proc.pid;
  }

  send(m: Cmd): void {
    if (!this.exited) this.proc.send(m as object);
  }

  request<T extends Reply['type']>(m: Cmd, type: T, timeout_ms = 60_000): Promise<Extract<Reply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no '${type}' reply within ${timeout_ms} ms`)), timeout_ms);
      this.waiters.push({
        type,
        resolve: (r) => { clearTimeout(timer); resolve(r as Extract<Reply, { type: T }>); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.send(m);
    });
  }

  async stop(exit: Cmd): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.send(exit);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

/** CPU seconds (user + system, all threads) of a process so far; throws when it cannot be read. */
export function cpu_seconds(pid: number): number {
  const s = process_cpu_s(pid);
  if (s === null) throw new Error(`cannot read the CPU time of process ${pid}`);
  return s;
}

/**
 * Seconds all threads of a process spent runnable but waiting for a CPU
 * (/proc/<pid>/task/<tid>/schedstat, second field): on a shared machine this
 * tells a server that was starved of CPU from one that had nothing to do.
 */
export function runqueue_wait_seconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e9;
}

export function main_thread_wait_seconds(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
}


/**
 * One server under test with its connected clients, kept up across several
 * measurement windows so servers can be measured alternately (ABCABC…) under
 * the same machine conditions without paying start-up every time.
 */
export class Pair {
  private constructor(
    readonly spec: PairSpec,
    private readonly server: Child<ServerCommand, ServerReply>,
    private readonly client: Child<ClientCommand, ClientReply>,
    private readonly server_pids: number[],
    readonly clients_connected: number,
    /** The server's WebSocket port (what the wire capture filters on). */
    private readonly port: number,
  ) {}

  static async start(spec: PairSpec): Promise<Pair> {
    // BENCH_CPU_PROF=<dir>: V8 CPU profiles of the server processes (written when they exit).
    const prof_dir = process.env.BENCH_CPU_PROF;
    // BENCH_SERVER_NODE_FLAGS: more node flags for server processes (e.g. --trace-deopt), split on spaces.
    const flags = [...(prof_dir ? ['--cpu-prof', `--cpu-prof-dir=${prof_dir}`] : []), ...(process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
    const server = new Child<ServerCommand, ServerReply>('server_main.ts', server_core, `${spec.kind} server`, flags);
    let client: Child<ClientCommand, ClientReply> | undefined;
    try {
      const ready = await server.request({ type: 'start', kind: spec.kind, recording_path: spec.recording_path, prime_ticks: spec.prime_ticks ?? prime_ticks_default }, 'ready');
      client = new Child<ClientCommand, ClientReply>('client_main.ts', client_core, `${spec.kind} clients`);
      client.on_message = (m) => {
        if (m.type === 'credit') server.send({ type: 'credit', stamp_ns: m.stamp_ns });
      };
      const connected = await client.request({
        type: 'start', kind: spec.kind, host: '127.0.0.1', port: ready.port, clients: spec.clients,
        sample_every: spec.sample_every, views: spec.views, credit: true, recording_path: spec.recording_path,
      }, 'connected', 120_000);
      if (connected.open === 0) throw new Error(`${spec.kind}: no client connected (${connected.first_error})`);
      return new Pair(spec, server, client, [server.pid, ...ready.extra_pids], connected.open, ready.port);
    } catch (err) {
      await client?.stop({ type: 'exit' });
      await server.stop({ type: 'exit' });
      throw err;
    }
  }

  private server_cpu(): number {
    return this.server_pids.reduce((sum, pid) => sum + cpu_seconds(pid), 0);
  }

  /** The Node server's main thread (where its work runs) plus every thread of helper processes (nats-server). */
  private server_wait(): number {
    return main_thread_wait_seconds(this.server_pids[0]) + this.server_pids.slice(1).reduce((sum, pid) => sum + runqueue_wait_seconds(pid), 0);
  }

  /** Waits until no frame has arrived for `quiet_ms` (what was sent has been received). */
  private async drained(quiet_ms = 150, wait_ms_max = 5000): Promise<void> {
    let last = -1;
    const deadline = Date.now() + wait_ms_max;
    while (Date.now() < deadline) {
      const m = await this.client.request({ type: 'mark', reset_latency: false, schedule: null }, 'mark');
      if (m.frames === last) return;
      last = m.frames;
      await sleep(quiet_ms);
    }
  }

  /** Clock, CPU and runqueue wait of both sides, and both sides' counters, at one instant (a window's start, with its timetable, or end). */
  private async reading(start: boolean, schedule: Schedule | null) {
    const t_ms = performance.now();
    const server_cpu_s = this.server_cpu();
    const client_cpu_s = cpu_seconds(this.client.pid);
    const server_wait_s = this.server_wait();
    const client_wait_s = main_thread_wait_seconds(this.client.pid);
    const [client, server] = await Promise.all([
      this.client.request({ type: 'mark', reset_latency: start, schedule }, 'mark'),
      this.server.request({ type: 'mark', reset: start }, 'mark'),
    ]);
    return { t_ms, server_cpu_s, client_cpu_s, server_wait_s, client_wait_s, client, server };
  }

  async window(w: WindowSpec): Promise<TrialResult> {
    const { server, client, spec } = this;
    const { schedule } = await server.request({ type: 'run', mode: w.mode, ticks_per_s: w.ticks_per_s, window_ticks: w.window_ticks, spin_us_max: w.spin_us_max ?? spin_us_max_default }, 'running');
    await sleep(w.warmup_s * 1000);
    const capture = w.wire_capture === true ? await WireCapture.start(this.port, client_core) : null;
    const a = await this.reading(true, schedule);
    await sleep(w.measure_s * 1000);
    const b = await this.reading(false, null);
    const wire = capture === null ? null : await capture.stop(frame_stamps(spec.kind));
    const stopped = await server.request({ type: 'stop' }, 'stopped');
    await this.drained();
    const report = await client.request({ type: 'report' }, 'report');

    const seconds = (b.t_ms - a.t_ms) / 1000;
    const delivered = b.client.frames - a.client.frames;
    const ticks = b.server.ticks - a.server.ticks;
    // The driver's busy-waiting runs in the server process: the harness's CPU, not the server's.
    const spin_s = b.server.spin_s - a.server.spin_s;
    const server_cpu_s = Math.max(0, b.server_cpu_s - a.server_cpu_s - spin_s);
    const server_cores = server_cpu_s / seconds;
    const client_cores = (b.client_cpu_s - a.client_cpu_s) / seconds;
    const server_wait = (b.server_wait_s - a.server_wait_s) / seconds;
    const client_wait = (b.client_wait_s - a.client_wait_s) / seconds;
    const frames_per_s = delivered / seconds;
    const achieved = ticks / seconds;
    return {
      kind: spec.kind,
      mode: w.mode,
      clients: spec.clients,
      clients_connected: this.clients_connected,
      offered_ticks_per_s: w.mode === 'paced' ? w.ticks_per_s : null,
      achieved_ticks_per_s: round(achieved, 1),
      kept_up: w.mode === 'paced' ? achieved >= 0.97 * w.ticks_per_s : null,
      frames_per_tick_per_client: ticks > 0 ? round(delivered / ticks / this.clients_connected, 3) : 0,
      delivered_frames_per_s: Math.round(frames_per_s),
      delivered_megabytes_per_s: round((b.client.bytes - a.client.bytes) / seconds / 1e6, 2),
      server_cpu_cores: round(server_cores, 3),
      server_cpu_us_per_frame: delivered > 0 ? round((server_cpu_s * 1e6) / delivered, 3) : 0,
      frames_per_server_cpu_s: server_cores > 0 ? Math.round(frames_per_s / server_cores) : 0,
      client_cpu_cores: round(client_cores, 3),
      server_runqueue_wait_cores: round(server_wait, 3),
      client_runqueue_wait_cores: round(client_wait, 3),
      // Busy or waiting for a CPU nearly all the time = that side limits the rate.
      bottleneck: server_cores + server_wait >= 0.9 ? 'server' : client_cores + client_wait >= 0.9 ? 'clients' : 'none',
      latency_us: report.latency_us,
      co_latency_us: report.co_latency_us,
      schedule_lag_us: stopped.schedule_lag_us,
      hops_us: report.hops_us,
      wire,
      client_loop_lag_us: report.loop_lag_us,
      driver_spin_cores: round(spin_s / seconds, 4),
      gaps: report.gaps,
      decode_errors: report.decode_errors,
      closed_clients: report.closed,
      close_codes: report.close_codes,
      stream_exhausted: b.server.exhausted,
      server_stats: stopped.stats,
      server_counts_per_s: Object.fromEntries(Object.entries(b.server.counts).map(([k, v]) => [k, Math.round((v - (a.server.counts[k] ?? 0)) / seconds)])),
      measure_s: round(seconds, 2),
    };
  }

  async close(): Promise<void> {
    await this.client.stop({ type: 'exit' });
    await this.server.stop({ type: 'exit' });
  }
}

/** Where each kind's frames carry their stamps (./target.ts): depthcast's in the Delta, the baselines' in a 16-byte header. */
function frame_stamps(kind: TargetKind): FrameStamps {
  if (kind === 'depthcast' || kind === 'depthcast_js') return depthcast_frame_stamps;
  if (kind === 'uws' || kind === 'uws_send' || kind === 'nats') return (payload) => (payload.length >= 16 ? { stamp_ns: payload.readDoubleLE(0), ingest_ns: null } : null);
  throw new Error(`no wire stamps for ${kind} (its frames are JSON)`);
}

/** Starts several pairs at once; if one fails, closes the others and throws. */
export async function start_pairs(specs: readonly PairSpec[]): Promise<Pair[]> {
  const settled = await Promise.allSettled(specs.map((s) => Pair.start(s)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed === undefined) return settled.map((s) => (s as PromiseFulfilledResult<Pair>).value);
  for (const s of settled) if (s.status === 'fulfilled') await s.value.close();
  throw failed.reason;
}
