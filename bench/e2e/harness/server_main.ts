// The server side of a fan-out trial, run as its own process (pinned to the
// server core by the orchestrator): loads the recording, starts one target
// (depthcast or a baseline) and drives ticks into it on the parent's command.
//
// The tick driver publishes exactly one tick per event-loop turn, so every
// server makes the same frames per tick (depthcast flushes once per turn):
//   paced       tick k is due at t0 + k / rate. A timer wakes the driver up to
//               `spin_us_max` early and it busy-waits the rest (a timer alone
//               fires a millisecond or more late), then stamps the tick with
//               the time it really went out: latency is measured from there,
//               so the driver's own lateness is never counted as the server's.
//               The lateness (publish minus due) is recorded apart, as the
//               schedule lag, and clients also measure against the due time
//               (the coordinated-omission-corrected figure: a server that
//               falls behind delays the next due ticks, which shows there).
//               The busy-wait is the harness's CPU: its seconds are reported
//               (mark) so the orchestrator takes them out of server CPU;
//   saturation  as fast as the server's loop turns, but never more than
//               `window_ticks` ahead of what the slowest sampled client
//               confirmed (credits relayed by the parent), so neither side
//               queues without bound; stamps are the publish time.
import './quiet.js';
import type { Histogram } from 'hdr-histogram-js';
import { new_latency_histogram } from '../../../src/metrics/hop_histograms.js';
import { now_ns } from '../../../src/util/clock.js';
import { load_recording } from './recording.js';
import type { Target, TargetKind } from './target.js';
import { spin_us_max_default, type Schedule, type ServerCommand, type ServerReply } from './protocol.js';
import { latency_summary } from './stats.js';


const ring_bits = 20;
const ring_mask = (1 << ring_bits) - 1;

class TickDriver {
  k = 0;
  exhausted = false;
  private stopped = true;
  private mode: 'paced' | 'saturation' = 'paced';
  private rate_per_ms = 1;
  /** Paced: how early the timer wakes the driver to busy-wait (0: timers only, no busy-wait). */
  private spin_us_max = spin_us_max_default;
  private window_ticks = 1;
  private t0_ns = 0;
  private k0 = 0;
  private readonly stamps = new Float64Array(1 << ring_bits);
  /** Ticks below this are confirmed received (saturation credit). */
  private acked = 0;
  private waiting_credit = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Paced: publish time minus due time per tick (µs), since the last reset. */
  private schedule_lag: Histogram = new_latency_histogram();
  /** Seconds spent busy-waiting for due times, in total. */
  spin_s = 0;

  constructor(private readonly target: Target) {}

  reset_schedule_lag(): void {
    this.schedule_lag = new_latency_histogram();
  }

  schedule_lag_us(): ReturnType<typeof latency_summary> | null {
    return this.mode === 'paced' ? latency_summary(this.schedule_lag, 0) : null;
  }

  /** Runs from the current tick on (the stream continues across runs: depthcast's seq must stay contiguous); paced: returns the timetable. */
  start(mode: 'paced' | 'saturation', ticks_per_s: number, window_ticks: number, spin_us_max: number): Schedule | null {
    this.mode = mode;
    this.spin_us_max = spin_us_max;
    this.rate_per_ms = ticks_per_s / 1000;
    this.window_ticks = window_ticks;
    this.t0_ns = now_ns();
    this.k0 = this.k;
    this.acked = this.k;
    this.waiting_credit = false;
    this.stopped = false;
    this.reset_schedule_lag();
    this.step();
    return mode === 'paced' ? { t0_ns: this.t0_ns, k0: this.k0, ticks_per_s } : null;
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
      // On the stamps' own clock (now_ns), so that a stamp is never before its due time.
      const due_ns = this.t0_ns + (this.k - this.k0) / this.rate_per_ms * 1e6;
      let now = now_ns();
      if (now < due_ns - this.spin_us_max * 1000) {
        this.timer = setTimeout(this.step, (due_ns - now) / 1e6 - this.spin_us_max / 1000);
        return;
      }
      if (now < due_ns) {
        const spin_start_ns = now;
        while (now < due_ns) now = now_ns();
        this.spin_s += (now - spin_start_ns) / 1e9;
      }
      // The real publish time: the server's latency starts here, the driver's lateness is apart.
      stamp = now;
      this.schedule_lag.recordValue(Math.min(60_000_000, Math.round((now - due_ns) / 1000)));
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
    case 'depthcast_js': return (await import('./depthcast_target.js')).start_depthcast(r, false);
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
        reply({ type: 'running', schedule: driver?.start(m.mode, m.ticks_per_s, m.window_ticks, m.spin_us_max) ?? null });
        break;
      case 'credit':
        driver?.credit(m.stamp_ns);
        break;
      case 'mark':
        if (m.reset) driver?.reset_schedule_lag();
        reply({ type: 'mark', ticks: driver?.k ?? 0, exhausted: driver?.exhausted ?? false, spin_s: driver?.spin_s ?? 0, counts: target?.counts?.() ?? {} });
        break;
      case 'stop':
        driver?.stop();
        reply({
          type: 'stopped', ticks: driver?.k ?? 0, exhausted: driver?.exhausted ?? false, stats: target?.stats() ?? {},
          schedule_lag_us: driver?.schedule_lag_us() ?? null,
        });
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
