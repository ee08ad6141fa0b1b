// The server side of a fan-out trial, run as its own process (pinned to the
// server core by the orchestrator): loads the recording, starts one target
// (depthcast or a baseline) and drives ticks into it on the parent's command.
//
// The tick driver publishes exactly one tick per event-loop turn, so every
// server makes the same frames per tick (depthcast flushes once per turn):
//   paced       tick k is due at t0 + k / rate; its stamp is that due time,
//               not the time it went out, so a server that falls behind shows
//               it in latency (no coordinated omission);
//   saturation  as fast as the server's loop turns, but never more than
//               `window_ticks` ahead of what the slowest sampled client
//               confirmed (credits relayed by the parent), so neither side
//               queues without bound; stamps are the publish time.
import './quiet.js';
import { now_ns } from '../../../src/util/clock.js';
import { load_recording } from './recording.js';
import type { Target, TargetKind } from './target.js';
import type { ServerCommand, ServerReply } from './protocol.js';

const ring_bits = 20;
const ring_mask = (1 << ring_bits) - 1;

class TickDriver {
  k = 0;
  exhausted = false;
  private stopped = true;
  private mode: 'paced' | 'saturation' = 'paced';
  private rate_per_ms = 1;
  private window_ticks = 1;
  private t0_ms = 0;
  private t0_ns = 0;
  private k0 = 0;
  private readonly stamps = new Float64Array(1 << ring_bits);
  /** Ticks below this are confirmed received (saturation credit). */
  private acked = 0;
  private waiting_credit = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly target: Target) {}

  /** Runs from the current tick on (the stream continues across runs: depthcast's seq must stay contiguous). */
  start(mode: 'paced' | 'saturation', ticks_per_s: number, window_ticks: number): void {
    this.mode = mode;
    this.rate_per_ms = ticks_per_s / 1000;
    this.window_ticks = window_ticks;
    this.t0_ms = performance.now();
    this.t0_ns = now_ns();
    this.k0 = this.k;
    this.acked = this.k;
    this.waiting_credit = false;
    this.stopped = false;
    this.step();
  }

  /** Publishes ticks [k, n) one per turn, with nobody subscribed yet. */
  async prime(n: number): Promise<void> {
    while (this.k < n && this.target.publish_tick(this.k, now_ns())) {
      this.k++;
      await new Promise<void>((resolve) => queueMicrotask(() => setImmediate(resolve)));
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** The slowest sampled client has seen every tick stamped up to `stamp_ns`. */
  credit(stamp_ns: number): void {
    while (this.acked < this.k && this.stamps[this.acked & ring_mask] <= stamp_ns) this.acked++;
    if (this.waiting_credit) {
      this.waiting_credit = false;
      this.step();
    }
  }

  private readonly step = (): void => {
    this.timer = undefined;
    if (this.stopped) return;
    let stamp: number;
    if (this.mode === 'paced') {
      const due_ms = this.t0_ms + (this.k - this.k0) / this.rate_per_ms;
      const now_ms = performance.now();
      if (now_ms < due_ms) {
        this.timer = setTimeout(this.step, due_ms - now_ms);
        return;
      }
      stamp = this.t0_ns + (due_ms - this.t0_ms) * 1e6;
    } else {
      if (this.k - this.acked >= this.window_ticks) {
        this.waiting_credit = true;
        return;
      }
      stamp = now_ns();
    }
    if (!this.target.publish_tick(this.k, stamp)) {
      this.exhausted = true;
      this.stopped = true;
      return;
    }
    this.stamps[this.k & ring_mask] = stamp;
    this.k++;
    // After the target's own microtasks (bus deliveries) have queued its flush: next tick in a later turn.
    queueMicrotask(() => { setImmediate(this.step); });
  };
}

async function start_target(kind: TargetKind, recording_path: string): Promise<Target> {
  const r = load_recording(recording_path);
  switch (kind) {
    case 'depthcast': return (await import('./depthcast_target.js')).start_depthcast(r);
    case 'uws': return (await import('../../baselines/uws_publish.js')).start_uws_publish(r);
    case 'uws_send': return (await import('../../baselines/uws_send.js')).start_uws_send(r);
    case 'ws': return (await import('../../baselines/ws_json.js')).start_ws_json(r);
    case 'socketio': return (await import('../../baselines/socketio.js')).start_socketio(r);
    case 'nats': return (await import('../../baselines/nats_ws.js')).start_nats_ws(r);
  }
}

let target: Target | undefined;
let driver: TickDriver | undefined;
const reply = (m: ServerReply): void => { process.send?.(m); };

process.on('message', (m: ServerCommand) => {
  void (async () => {
    switch (m.type) {
      case 'start':
        target = await start_target(m.kind, m.recording_path);
        driver = new TickDriver(target);
        await driver.prime(m.prime_ticks);
        reply({ type: 'ready', port: target.port, extra_pids: target.extra_pids });
        break;
      case 'run':
        driver?.start(m.mode, m.ticks_per_s, m.window_ticks);
        break;
      case 'credit':
        driver?.credit(m.stamp_ns);
        break;
      case 'mark':
        reply({ type: 'mark', ticks: driver?.k ?? 0, exhausted: driver?.exhausted ?? false });
        break;
      case 'stop':
        driver?.stop();
        reply({ type: 'stopped', ticks: driver?.k ?? 0, exhausted: driver?.exhausted ?? false, stats: target?.stats() ?? {} });
        break;
      case 'exit':
        await target?.close();
        process.exit(0);
    }
  })().catch((err: unknown) => {
    reply({ type: 'error', message: (err as Error).stack ?? String(err) });
  });
});
process.on('disconnect', () => process.exit(0));
