// The clients of one worker thread: SDK clients (so every book is verified,
// frame by frame), one shared HopHistograms per latency series (messages.ts)
// instead of ~280 KB per client, slow readers, reconnect storms, and a report
// of intervals and counters whenever the main thread asks.
//
// Sockets come from the SDK's NodeWebSocket (depthcast/client/node; default:
// frames parsed in place, the cheaper per frame) or from `ws` (--transport ws),
// through a small subclass per client: it passes the options the SDK cannot
// know (local address; no compression for `ws`) and keeps a handle on the
// socket so a slow client can pause its TCP reads and a storm can reset the
// connection.
import WebSocket from 'ws';
import { connect, seeded_random, type FeedClient, type UpdateInfo, type WebSocketConstructor } from '../src/client/index.js';
import { NodeWebSocket } from '../src/client/node/index.js';
import { HopHistograms } from '../src/metrics/hop_histograms.js';
import { now_ns } from '../src/util/clock.js';
import {
  add_client_counters, series_hops, series_names, zero_worker_counters,
  type EncodedSeries, type SeriesName, type WorkerCounters, type WorkerReport,
} from './messages.js';
import type { LoadgenOptions } from './options.js';
import type { ClientSpec } from './plan.js';
import { LoopLagMeter } from './loop_lag.js';
import { to_buckets } from './hop_buckets.js';

/** How often throttled readers refill their read credit and paused ones are checked. */
const slow_tick_ms = 100;
/** The lag meter's timer period: 100 samples/s of the worker's lag, at little cost. */
const loop_resolution_ms = 10;
/** A paused reader stops reading at the latest this long after its socket opened, synced or not. */
const pause_after_open_ms_max = 3000;
/** Reconnect backoff of the loadgen's clients: the SDK's defaults, written out because storms depend on them. */
const backoff_initial_ms = 250;
const backoff_max_ms = 10_000;
/** A released paused reader has caught up once a Delta reaches it this fresh. */
const caught_up_latency_ns = 1e9;
/** How often drain() checks whether every released reader caught up. */
const drain_poll_ms = 50;
/** Error messages kept per worker for the report. */
const error_samples_max = 10;
/** setInterval/setTimeout overflow above 2^31 - 1 ms. */
const timer_ms_max = 2 ** 31 - 1;

/** What the pool needs of a socket, whichever the transport (ws and NodeWebSocket both have it). */
interface PoolSocket {
  readonly readyState: number;
  pause(): void;
  resume(): void;
  terminate(): void;
}

interface Slot {
  spec: ClientSpec;
  client: FeedClient | null;
  socket: PoolSocket | null;
  socket_opened_ms: number;
  /** The read side of the socket is paused by us (slow modes). */
  paused: boolean;
  /** Paused readers read again after the measured window… */
  released: boolean;
  /** …until a fresh Delta shows they have read through their backlog. */
  caught_up: boolean;
  /** Throttled readers: bytes they may still read before pausing. */
  read_credit: number;
  bytes_seen: number;
}

export class ClientPool {
  readonly series: Readonly<Record<SeriesName, HopHistograms>>;
  private readonly slots: Slot[] = [];
  private readonly by_index = new Map<number, Slot>();
  private readonly counters: WorkerCounters = zero_worker_counters();
  private readonly error_samples: string[] = [];
  private readonly loop_lag = new LoopLagMeter(loop_resolution_ms, false);
  /** The same over the measured run (reset when the warm-up ends): what saturation is judged on. */
  private readonly loop_lag_run = new LoopLagMeter(loop_resolution_ms, false);
  private ramp_timer: ReturnType<typeof setInterval> | null = null;
  private slow_timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(
    private readonly options: Readonly<LoadgenOptions>,
    specs: readonly ClientSpec[],
    private readonly connect_rate_per_s: number,
  ) {
    const series = {} as Record<SeriesName, HopHistograms>;
    for (const name of series_names) series[name] = new HopHistograms(series_hops[name]);
    this.series = series;
    for (const spec of specs) {
      const slot: Slot = { spec, client: null, socket: null, socket_opened_ms: 0, paused: false, released: false, caught_up: false, read_credit: 0, bytes_seen: 0 };
      this.slots.push(slot);
      this.by_index.set(spec.index, slot);
    }
  }

  /** Opens the clients at the connect rate, in slices every 10 ms. */
  start(): void {
    this.loop_lag.start();
    this.loop_lag_run.start();
    const slice_ms = 10;
    const per_slice = Math.max(1, Math.round((this.connect_rate_per_s * slice_ms) / 1000));
    let next = 0;
    const open_slice = (): void => {
      for (let n = 0; n < per_slice && next < this.slots.length && !this.stopped; n++) this.open_client(this.slots[next++]);
      if (next >= this.slots.length && this.ramp_timer !== null) {
        clearInterval(this.ramp_timer);
        this.ramp_timer = null;
      }
    };
    this.ramp_timer = setInterval(open_slice, slice_ms);
    open_slice();
    if (this.slots.some((s) => s.spec.slow)) this.slow_timer = setInterval(() => this.slow_tick(), slow_tick_ms);
  }

  /** Resets the TCP connections of these clients (those this pool runs); the SDK reconnects them with backoff. */
  storm(indexes: readonly number[]): void {
    for (const index of indexes) {
      const slot = this.by_index.get(index);
      if (!slot?.socket) continue;
      this.counters.storm_drops++;
      try {
        slot.socket.terminate();
      } catch {
        // a socket still connecting may refuse; the SDK's connect timeout replaces it
      }
    }
  }

  /**
   * After the measured window: every client but the paused readers closes, and
   * those read again, so their catch-up frames (conflated Deltas or Snapshots)
   * get verified too, without their backlog delaying the fast clients' frames
   * in this thread while they are measured. Resolves when each has caught up
   * (a Delta younger than 1 s) or at the deadline, whichever comes first.
   */
  async drain(deadline_ms: number): Promise<void> {
    if (this.ramp_timer !== null) clearInterval(this.ramp_timer);
    this.ramp_timer = null;
    const released: Slot[] = [];
    for (const slot of this.slots) {
      const client = slot.client;
      if (!(slot.spec.slow && this.options.slow_mode === 'paused') || client === null) {
        slot.client?.close();
        continue;
      }
      released.push(slot);
      slot.released = true;
      const on_update = (_book: unknown, info: UpdateInfo): void => {
        if (info.kind === 'delta' && info.engine_to_receive_ns < caught_up_latency_ns) {
          slot.caught_up = true;
          client.off('update', on_update);
        }
      };
      client.on('update', on_update);
      this.set_paused(slot, false);
    }
    this.counters.drain_released = released.length;
    while (Date.now() < deadline_ms && released.some((s) => !s.caught_up)) {
      await new Promise((resolve) => setTimeout(resolve, drain_poll_ms));
    }
    this.counters.drain_caught_up = released.filter((s) => s.caught_up).length;
  }

  /**
   * This second's counters and interval histograms, as bucket lists
   * (hop_buckets.ts): the intervals were compressed and base64'd here once,
   * 0.5-1 ms per series warm and 8-10 ms cold, which was this worker's
   * event-loop lag p99 (one stall a second is 1 of the 100 lag samples), so
   * it judged itself saturated by its own reporting. The main thread rebuilds them.
   */
  async report(seq: number, final: boolean, worker: number): Promise<WorkerReport> {
    const now_ms = Date.now();
    const c = this.counters;
    const totals = zero_worker_counters().client;
    let connected = 0;
    let connected_slow = 0;
    let views_synced = 0;
    let views_total = 0;
    for (const slot of this.slots) {
      const client = slot.client;
      if (client === null) continue;
      add_client_counters(totals, client.counters);
      if (client.state === 'synced') {
        connected++;
        if (slot.spec.slow) connected_slow++;
      }
      for (const book of client.books()) {
        views_total++;
        if (book.state === 'synced') views_synced++;
      }
    }
    c.client = totals;
    c.connected = connected;
    c.connected_slow = connected_slow;
    c.views_synced = views_synced;
    c.views_total = views_total;
    c.loop_delay_us_p99 = this.loop_lag.percentile_us(99);
    c.loop_delay_us_max = this.loop_lag.worst_us;
    this.loop_lag.reset();
    const run = this.loop_lag_run;
    c.loop_lag_us_p99_run = run.percentile_us(99);
    // Tick `warmup_s` closes the warm-up (loadgen/merge.ts): the run's lag starts after it, like its latency totals.
    if (seq === this.options.warmup_s) run.reset();
    const counters = structuredClone(c);
    const encoded = {} as EncodedSeries;
    for (const name of series_names) encoded[name] = to_buckets(this.series[name].take_interval(now_ms));
    return {
      type: 'report',
      worker,
      seq,
      final,
      now_ms,
      series: encoded,
      counters,
      error_samples: [...this.error_samples],
    };
  }

  /** Closes every client for good (no reconnect). */
  stop(): void {
    this.stopped = true;
    if (this.ramp_timer !== null) clearInterval(this.ramp_timer);
    if (this.slow_timer !== null) clearInterval(this.slow_timer);
    this.ramp_timer = null;
    this.slow_timer = null;
    for (const slot of this.slots) slot.client?.close();
    this.loop_lag.stop();
    this.loop_lag_run.stop();
  }

  private open_client(slot: Slot): void {
    const { spec } = slot;
    const o = this.options;
    const paused_reader = spec.slow && o.slow_mode === 'paused';
    // A slow reader hears nothing for long stretches because it does not read
    // (a throttled one reads the socket in chunks of up to 64 KiB, then waits
    // until its average rate allows more): it must not take that silence for a
    // dead socket and reconnect, nor re-ask for snapshots it has not read yet.
    const patient_ms = Math.min(timer_ms_max, (o.duration_s + 60) * 1000);
    const client = connect(spec.urls, {
      WebSocket: this.socket_class(slot),
      hops: spec.slow ? this.series.slow : this.series.fast,
      heartbeat_interval_ms: spec.slow ? patient_ms : o.heartbeat_interval_ms,
      snapshot_timeout_ms: spec.slow ? patient_ms : undefined,
      random: seeded_random(spec.seed),
      write_delay_ms: o.write_delay_ms,
      backoff_initial_ms,
      backoff_max_ms,
    });
    this.counters.clients_started++;
    // Each trade carries its own engine time: one exact sample per engine event,
    // however the feed grouped the events into frames. Stamped when the SDK hands
    // the trade over, microseconds after the frame arrived (it decodes first).
    const events = (spec.slow ? this.series.slow_events : this.series.fast_events).recorder('engine_to_receive');
    client.on('trade', (_book, trade) => {
      if (trade.ts_engine_ns > 0) events.record(now_ns() - trade.ts_engine_ns);
    });
    client.on('disconnect', (code) => {
      this.counters.closes_by_code[code] = (this.counters.closes_by_code[code] ?? 0) + 1;
    });
    client.on('error', (err) => {
      this.counters.errors_by_kind[err.kind] = (this.counters.errors_by_kind[err.kind] ?? 0) + 1;
      if (this.error_samples.length < error_samples_max) this.error_samples.push(`client ${spec.index}: ${err.kind}: ${err.message}`);
    });
    if (paused_reader) {
      client.on('book_state', (_book, state) => {
        if (state === 'synced' && !slot.paused && !slot.released && client.books().every((b) => b.state === 'synced')) this.set_paused(slot, true);
      });
    }
    for (const symbol of spec.symbols) client.subscribe(symbol, { depth: o.depth, interval_ms: o.interval_ms, group: o.group });
    slot.client = client;
  }

  /** A WebSocket class for this client (options.transport) with our options, remembering each socket it makes. */
  private socket_class(slot: Slot): WebSocketConstructor {
    const local_address = slot.spec.local_address === '' ? undefined : slot.spec.local_address;
    const initial_credit = this.options.slow_read_bytes_per_s * (slow_tick_ms / 1000);
    const opened = (socket: PoolSocket): void => {
      slot.socket = socket;
      slot.socket_opened_ms = Date.now();
      slot.paused = false;
      slot.bytes_seen = slot.client?.counters.bytes ?? 0;
      slot.read_credit = initial_credit;
    };
    if (this.options.transport === 'node') {
      return class LoadgenNodeSocket extends NodeWebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols, { local_address });
          opened(this);
        }
      };
    }
    class LoadgenSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { perMessageDeflate: false, localAddress: local_address });
        opened(this);
      }
    }
    return LoadgenSocket as unknown as WebSocketConstructor;
  }

  private set_paused(slot: Slot, paused: boolean): void {
    const socket = slot.socket;
    if (socket === null || slot.paused === paused || socket.readyState !== NodeWebSocket.OPEN) return;
    slot.paused = paused;
    if (paused) {
      this.counters.slow_pauses++;
      socket.pause();
    } else {
      socket.resume();
    }
  }

  /**
   * Throttled readers: a token bucket refilled every tick; reading past the
   * credit pauses the socket until the credit is positive again, so the
   * average read rate is the configured one. Paused readers that never got
   * all their snapshots stop reading anyway after a while.
   */
  private slow_tick(): void {
    const o = this.options;
    const now_ms = Date.now();
    const refill = o.slow_read_bytes_per_s * (slow_tick_ms / 1000);
    for (const slot of this.slots) {
      if (!slot.spec.slow || slot.socket === null || slot.client === null) continue;
      if (o.slow_mode === 'paused') {
        if (!slot.paused && !slot.released && now_ms - slot.socket_opened_ms > pause_after_open_ms_max) this.set_paused(slot, true);
        continue;
      }
      const bytes = slot.client.counters.bytes;
      slot.read_credit = Math.min(refill, slot.read_credit + refill - (bytes - slot.bytes_seen));
      slot.bytes_seen = bytes;
      this.set_paused(slot, slot.read_credit <= 0);
    }
  }
}
