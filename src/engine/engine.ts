// The matching-engine simulator as a service: drives EngineCore in real time,
// publishes event batches on <prefix>.events.<SYMBOL>, answers snapshot and
// instrument requests. Single-threaded: a snapshot is taken between two
// incoming orders, so it is a state the engine really had, at an exact seq.
import type { L2Snapshot } from '../book/types.js';
import type { Bus, BusSubscription } from '../bus/bus.js';
import { Subjects } from '../bus/subjects.js';
import { is_valid_symbol } from '../util/symbol.js';
import type { Config } from '../config.js';
import { now_ns } from '../util/clock.js';
import { new_epoch } from '../util/epoch.js';
import { logger_for } from '../util/log.js';
import { encode_engine_error, encode_instruments_reply, encode_snapshot_reply, engine_error_code } from '../wire/engine_codec.js';
import { EngineCore, type SymbolStats } from './engine_core.js';
import { StreamSnapshots, type StreamSnapshotStats } from './stream_snapshots.js';

const log = logger_for('engine');

/**
 * One turn of the event loop applies orders in steps of this many, until it
 * has caught up or has worked turn_ms_max; then it yields (setImmediate when
 * behind) so bus I/O and snapshot requests are served between turns. A time
 * bound rather than a count, because the cost per order varies (cold code
 * right after start-up is ~20x slower than optimized code).
 */
const orders_per_step = 512;
const turn_ms_max = 4;
/** Idle pause between turns when the engine has caught up with its schedule. */
const tick_interval_ms = 1;
/** How long stop() keeps trying to store the final book snapshots in the stream (a leader election takes seconds). */
const final_snapshot_wait_ms = 10_000;
/**
 * After the bus reconnects, batches sent from this long before it reported the
 * disconnect are sent again: those still in the dead node's socket and route
 * buffers when it died (a node killed outright is seen at once, by its closed
 * socket; a silent one only after pings fail, longer than the ring keeps).
 */
const resend_before_disconnect_ms = 250;
/** How long stop() and start-up wait for the bus to confirm (it may be reconnecting). */
const bus_flush_wait_ms = 2000;

export interface EngineStats {
  epoch: number;
  orders: number;
  events: number;
  batches: number;
  bytes: number;
  publish_failures: number;
  /** Batches sent again after the bus reconnected (a lost node may have taken them: resend_ring.ts). */
  resent: number;
  /** Order-flow time dropped because the engine fell more than a second behind its schedule. */
  backlog_dropped_ms: number;
  by_symbol: Record<string, SymbolStats>;
  /** Book snapshots stored in the durable stream; null when the engine runs without one. */
  stream_snapshots: StreamSnapshotStats | null;
}

export interface EngineHandle {
  readonly epoch: number;
  readonly symbols: string[];
  /** The symbol's full L2 book now (throws for a symbol this engine does not run). */
  snapshot(symbol: string): L2Snapshot;
  stats(): EngineStats;
  /** Stops generating orders for `ms` (snapshots are still served): a fault hook for tests. */
  pause(ms: number): void;
  /** Stops the order flow, sends what is staged and stops answering requests. The bus stays open. */
  stop(): Promise<void>;
}

export interface StartEngineOptions {
  /** ns since 1970 (default: the wall clock, util/clock now_ns). */
  clock?: () => number;
  /** Default: a new epoch (Date.now() ms, strictly increasing within the process). */
  epoch?: number;
  /** Per-symbol rates in orders/s; symbols not listed share config.rate_orders_per_s. */
  rates_orders_per_s?: Readonly<Record<string, number>>;
}

/** A new epoch per engine start (util/epoch.ts). */
export { new_epoch };

export async function start_engine(config: Readonly<Config>, bus: Bus, options: StartEngineOptions = {}): Promise<EngineHandle> {
  const subjects = new Subjects(config.subject_prefix);
  const epoch = options.epoch ?? new_epoch();
  const clock = options.clock ?? now_ns;
  const core = new EngineCore({
    config, subjects, epoch, clock_ns: clock,
    publish: (subject, bytes) => bus.publish(subject, bytes),
    rates_orders_per_s: options.rates_orders_per_s,
  });
  let backlog_dropped_ns = 0;
  core.on_backlog_dropped = (symbol, dropped_ns) => {
    backlog_dropped_ns += dropped_ns;
    log.warn({ symbol, dropped_ms: Math.round(dropped_ns / 1e6) }, 'engine fell behind its order schedule; dropped the backlog');
  };

  const subscriptions: BusSubscription[] = [
    bus.serve(subjects.snapshot_all, (data, subject) => answer_snapshot(core, subjects, data, subject)),
    bus.serve(subjects.instruments, () => encode_instruments_reply(core.instruments(), epoch)),
  ];
  const stream = config.stream ? bus.event_stream?.(subjects) ?? null : null;
  const snapshots = stream !== null && await StreamSnapshots.open(stream, {
    age_s_max: config.stream_age_s_max, bytes_max: config.stream_bytes_max, replicas: config.stream_replicas,
  }) ? new StreamSnapshots(stream, core.symbols, (symbol) => { core.flush(symbol); return core.snapshot(symbol) as L2Snapshot; }) : null;
  await flush_bus(bus, 'start');
  core.start();
  // The first books of this epoch are in the stream before any feed needs them.
  if (snapshots !== null) await snapshots.round();
  log.info({ epoch, symbols: core.symbols, rate_orders_per_s: config.rate_orders_per_s, seed: config.seed, bus: bus.kind },
    'engine started');

  let stopped = false;
  let paused_until_ns = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate: ReturnType<typeof setImmediate> | undefined;

  const turn = (): void => {
    timer = undefined;
    immediate = undefined;
    if (stopped) return;
    try {
      const turn_started_ms = performance.now();
      let now = clock();
      core.advance(now, orders_per_step, now < paused_until_ns);
      while (core.behind && performance.now() - turn_started_ms < turn_ms_max) {
        now = clock();
        core.advance(now, orders_per_step, now < paused_until_ns);
      }
    } catch (err) {
      // A bug in the matcher or generator: stop the flow rather than publish a corrupt
      // stream; the process keeps serving snapshots of the last consistent books.
      stopped = true;
      log.error({ err: (err as Error).stack ?? String(err) }, 'engine failed; order flow stopped');
      return;
    }
    if (core.behind) immediate = setImmediate(turn);
    else timer = setTimeout(turn, tick_interval_ms);
  };
  timer = setTimeout(turn, tick_interval_ms);
  // Engine heartbeats: a symbol quiet for an interval says where its stream stands.
  const heartbeat_ns = config.engine_heartbeat_interval_ms * 1e6;
  const heartbeat_timer = setInterval(() => {
    if (!stopped) core.heartbeat(clock(), heartbeat_ns);
  }, config.engine_heartbeat_interval_ms);
  // The engine's own NATS node lost: what was in flight on it, and what nats.js dropped while reconnecting, is
  // sent again on the resend subjects once connected elsewhere (feeds keep what they lack, by seq).
  let disconnected_ns = 0;
  const stop_status_watch = bus.on_status((status) => {
    if (status === 'disconnected') {
      disconnected_ns = clock();
    } else if (status === 'reconnected' && disconnected_ns > 0 && !stopped) {
      const resent = core.resend_since(disconnected_ns - resend_before_disconnect_ms * 1e6);
      log.warn({ resent, down_ms: Math.round((clock() - disconnected_ns) / 1e6) }, 'bus reconnected; sent the last batches again');
      disconnected_ns = 0;
    }
  });
  const snapshot_timer = snapshots === null ? undefined : setInterval(() => {
    if (!stopped) void snapshots.round();
  }, config.stream_snapshot_interval_ms);

  const stats = (): EngineStats => {
    const by_symbol = core.stats_by_symbol();
    const all = Object.values(by_symbol);
    const sum = (key: keyof SymbolStats): number => all.reduce((total, s) => total + s[key], 0);
    return {
      epoch, orders: sum('orders'), events: sum('events'), batches: sum('batches'), bytes: sum('bytes'),
      publish_failures: sum('publish_failures'), resent: sum('resent'), backlog_dropped_ms: Math.round(backlog_dropped_ns / 1e6), by_symbol,
      stream_snapshots: snapshots === null ? null : { ...snapshots.stats },
    };
  };

  let stopping: Promise<void> | undefined;
  return {
    epoch,
    symbols: [...core.symbols],
    snapshot(symbol: string): L2Snapshot {
      const snapshot = core.snapshot(symbol);
      if (snapshot === undefined) throw new Error(`engine: unknown symbol '${symbol}'`);
      return snapshot;
    },
    stats,
    pause(ms: number): void {
      paused_until_ns = Math.max(paused_until_ns, clock() + ms * 1e6);
      log.info({ ms }, 'engine order flow paused');
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(heartbeat_timer);
        clearInterval(snapshot_timer);
        stop_status_watch();
        if (timer !== undefined) clearTimeout(timer);
        if (immediate !== undefined) clearImmediate(immediate);
        core.flush();
        // The last books: a feed started while the engine is down replays nothing after them.
        if (snapshots !== null && !await snapshots.last_round(final_snapshot_wait_ms)) {
          log.warn({ wait_ms: final_snapshot_wait_ms }, 'the final book snapshots could not be stored; feeds started later recover only up to the last stored ones');
        }
        for (const s of subscriptions) s.unsubscribe();
        await flush_bus(bus, 'stop');
        log.info(stats(), 'engine stopped');
      })();
      return stopping;
    },
  };
}

function answer_snapshot(core: EngineCore, subjects: Subjects, data: Uint8Array, subject: string): Uint8Array {
  try {
    const symbol = subjects.symbol_of(subject);
    if (data.byteLength !== 0) {
      return encode_engine_error(engine_error_code.bad_request, `a snapshot request has an empty body; got ${data.byteLength} bytes`);
    }
    if (!is_valid_symbol(symbol)) {
      return encode_engine_error(engine_error_code.bad_request, `'${symbol.slice(0, 64)}' is not a valid symbol`);
    }
    if (!core.has(symbol)) {
      return encode_engine_error(engine_error_code.unknown_symbol, `unknown symbol '${symbol}'; this engine runs ${core.symbols.join(', ')}`);
    }
    // Events up to the snapshot's seq go out first, so a consumer that asked
    // after subscribing has every event above it coming.
    core.flush(symbol);
    return encode_snapshot_reply(core.snapshot(symbol) as L2Snapshot);
  } catch (err) {
    log.error({ subject, err: (err as Error).message }, 'snapshot request failed');
    return encode_engine_error(engine_error_code.internal, 'the engine could not answer; retry');
  }
}

async function flush_bus(bus: Bus, when: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), bus_flush_wait_ms); });
  try {
    const result = await Promise.race([bus.flush().then(() => 'flushed' as const), waited]);
    if (result === 'timeout') log.warn({ when, wait_ms: bus_flush_wait_ms }, 'bus did not confirm a flush in time (NATS away?); continuing');
  } catch (err) {
    log.warn({ when, err: (err as Error).message }, 'bus flush failed; continuing');
  } finally {
    clearTimeout(timer);
  }
}

export interface GeneratedBatch {
  subject: string;
  bytes: Uint8Array;
}

/**
 * The engine's published stream as a pure function: the same code as
 * start_engine, driven by a virtual clock that starts at `start_ns` and
 * advances `tick_ns` per turn, until `orders` orders (after the initial
 * books) have been applied. Same config (seed, symbols, rate, burst factor,
 * batch bounds) and options give byte-identical batches.
 *
 * With the live wall clock (start_engine) the same orders and book events
 * come out in the same order with the same seq, ids and prices; what differs
 * is the timestamps and, since batches are cut by time too, where batches end
 * (and the stream itself after a pause() or a dropped backlog, which shift the
 * generator's arrival times).
 */
export function generate_event_batches(config: Readonly<Config>, options: {
  orders: number;
  epoch: number;
  start_ns?: number;
  tick_ns?: number;
  rates_orders_per_s?: Readonly<Record<string, number>>;
}): GeneratedBatch[] {
  const out: GeneratedBatch[] = [];
  let now = options.start_ns ?? 1.7e18;
  const tick_ns = options.tick_ns ?? 1e6;
  const core = new EngineCore({
    config, subjects: new Subjects(config.subject_prefix), epoch: options.epoch, clock_ns: () => now,
    publish: (subject, bytes) => { out.push({ subject, bytes }); },
    rates_orders_per_s: options.rates_orders_per_s,
  });
  core.start();
  for (let done = 0; done < options.orders;) {
    now += tick_ns;
    done += core.advance(now, options.orders - done);
  }
  core.flush();
  return out;
}
