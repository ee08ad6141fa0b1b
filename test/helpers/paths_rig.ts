// The rig of the NATS node-loss tests (issue 24; nats_paths.test.ts,
// engine_node_loss.test.ts): an engine and a feed on two paths into a real
// 3-node cluster (nats_cluster.ts) with the stream replicated (R3), clients
// at depth 10 and full depth plus a conflating slow reader behind a
// throttling proxy; what clients must never see, checked at the end with the
// books equal to the engine's; the worst gap between frames in a window and
// this process's own event-loop stall beside it (so a loaded box does not
// read as a product gap); the stream leader moved where a fault wants it.
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { start_feed_service, type FeedService } from '../../src/app.js';
import { NatsBus } from '../../src/bus/nats_bus.js';
import { NatsPathsBus, type PathLink } from '../../src/bus/nats_paths.js';
import { Subjects } from '../../src/bus/subjects.js';
import type { Config } from '../../src/config.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { start_nats_cluster, type NatsClusterHandle } from './nats_cluster.js';
import { ProtocolClient } from './protocol_client.js';
import { sleep, test_config, wait_for } from './service.js';
import { ThrottleProxy } from './throttle_proxy.js';
import { LoopLagMeter } from '../../loadgen/loop_lag.js';

export const rig_symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
export const rig_depths = [10, 0];
const recovering_state = 1;
/** The goal (issue 24): no gap between frames longer than this beyond the stream's normal spacing. */
export const gap_beyond_normal_ms_max = 250;

/**
 * A describe block's cluster (started once) and closers (run after each
 * test, last first). Call inside describe().
 */
export function cluster_suite(): { cluster: () => NatsClusterHandle; closers: (() => Promise<void> | void)[] } {
  let cluster: NatsClusterHandle | undefined;
  const closers: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    cluster = await start_nats_cluster();
  });
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return { cluster: () => cluster!, closers };
}

/** Largest time between two frames of any view of `c` within [from_ms, to_ms) (performance.now() clock). */
export function max_gap_ms(c: ProtocolClient, from_ms: number, to_ms: number): number {
  let worst = 0;
  for (const v of c.mirror.views.values()) {
    let prev = -1;
    for (const f of v.frames) {
      if (f.at_ms < from_ms || f.at_ms >= to_ms) continue;
      if (prev >= 0) worst = Math.max(worst, f.at_ms - prev);
      prev = f.at_ms;
    }
  }
  return worst;
}

export interface Rig {
  engine: EngineHandle;
  engine_bus: NatsBus;
  feed_bus: NatsPathsBus;
  feed: FeedService;
  clients: ProtocolClient[];
  slow: ProtocolClient;
  config: Readonly<Config>;
}

export interface RigOptions {
  /** The engine's NATS URLs, tried in this order (default: the last node only, never killed). */
  engine_url?: string;
  /** Wraps one path's connection (to disturb it). */
  open_link?: (path: number, link: PathLink) => PathLink;
}

/** Engine on `engine_url`; the feed on two paths (path 0 on the first node, path 1 on the second). */
export async function start_rig(cluster: NatsClusterHandle, prefix: string, closers: (() => Promise<void> | void)[],
  options: RigOptions = {}): Promise<Rig> {
  const config = test_config({
    symbols: rig_symbols, nats_url: cluster.urls, subject_prefix: prefix, rate_orders_per_s: 1500, stream_replicas: 3,
    stream_snapshot_interval_ms: 1000, engine_heartbeat_interval_ms: 100, engine_silence_ms_max: 3000,
  });
  const engine_bus = await NatsBus.connect({
    url: options.engine_url ?? cluster.nodes[2].url, name: `${prefix}-engine`, reconnect_wait_ms: 100, randomize: false,
  });
  const engine = await start_engine(config, engine_bus);
  closers.push(async () => { await engine.stop(); await engine_bus.close(); });
  const feed_bus = await NatsPathsBus.connect({
    url: cluster.urls, name: `${prefix}-feed`, reconnect_wait_ms: 100, randomize: false,
    open_link: async (o, path) => { const l = await NatsBus.connect(o); return options.open_link?.(path, l) ?? l; },
  });
  const feed = await start_feed_service(config, feed_bus);
  closers.push(async () => { await feed.stop(); await feed_bus.close(); });
  await wait_for('feed live', () => feed.feed.health().ready, 20_000);
  const clients: ProtocolClient[] = [];
  for (const depth of rig_depths) {
    const c = await ProtocolClient.connect(feed.url);
    c.subscribe(rig_symbols, depth);
    clients.push(c);
    closers.push(() => c.close());
  }
  // The slow reader: depth 10 of every symbol through a proxy reading 16 KB/s, below the stream's rate.
  const proxy = await ThrottleProxy.start(feed.server.port, 4096, 16_000);
  closers.push(() => proxy.close());
  const slow = await ProtocolClient.connect(proxy.url);
  slow.subscribe(rig_symbols, 10);
  closers.push(() => slow.close());
  await wait_for('every view has its snapshot', () => rig_symbols.every((s) =>
    clients.every((c, i) => c.book(s, rig_depths[i]) !== undefined) && slow.book(s, 10) !== undefined), 15_000);
  await wait_for('the slow reader conflates', () => feed.feed.counters.conflating_connections >= 1, 15_000);
  return { engine, engine_bus, feed_bus, feed, clients, slow, config };
}

/** What a client must never see, and the books equal to the engine's at the end; returns the feed's counters. */
export async function expect_nothing_reached_clients(rig: Rig): Promise<Record<string, number>> {
  const all = [...rig.clients, rig.slow];
  for (const c of all) {
    expect(c.violations).toEqual([]);
    expect(c.statuses.filter((s) => s.state === recovering_state)).toEqual([]);
    for (const v of c.mirror.views.values()) expect(v.snapshots, `${v.key}: Snapshots`).toBe(1);
    expect(c.close_code).toBeNull();
  }
  const stats = [...rig.feed.feed.symbols.values()].map((f) => f.stats);
  const sum = (k: keyof (typeof stats)[number]) => stats.reduce((n, s) => n + s[k], 0);
  await rig.engine.stop();
  const final = Object.fromEntries(rig_symbols.map((s) => [s, rig.engine.snapshot(s)]));
  const rows = (levels: { price: number; size: number; orders: number }[], d: number) =>
    levels.slice(0, d || undefined).map((l) => [l.price, l.size, l.orders]);
  await wait_for('clients at the engine\'s final books', () => rig.clients.every((c, i) => rig_symbols.every((s) =>
    JSON.stringify(c.sorted(s, rig_depths[i])) === JSON.stringify({ bids: rows(final[s].bids, rig_depths[i]), asks: rows(final[s].asks, rig_depths[i]) }))), 15_000);
  return {
    recoveries: sum('recoveries'), stream_fills: sum('stream_fills'), path_holds: sum('path_holds'), path_hold_fills: sum('path_hold_fills'),
    duplicates_skipped: sum('duplicates_skipped'), batches: sum('batches'), gaps: sum('gaps'), client_resyncs: rig.feed.feed.counters.client_resyncs_total,
  };
}

/** Node kills with the worst gap each client saw across each, beside this process's stall; the stream leader steered. */
export class NodeKills {
  readonly faults: { killed: string; as: string; worst_gap_ms: number[]; stall_ms: number }[] = [];
  /** Each client's worst gap in a quiet window before any fault (measure_normal). */
  normal: number[] = [];
  /** This process's longest stall since reset(). */
  private readonly stall = new LoopLagMeter();
  private readonly stream;

  private constructor(private readonly cluster: NatsClusterHandle, private readonly rig: Rig, private readonly observer: NatsBus) {
    this.stream = observer.event_stream(new Subjects(rig.config.subject_prefix));
  }

  static async open(cluster: NatsClusterHandle, rig: Rig, closers: (() => Promise<void> | void)[]): Promise<NodeKills> {
    const observer = await NatsBus.connect({ url: cluster.urls, name: 'observer', reconnect_wait_ms: 100 });
    const kills = new NodeKills(cluster, rig, observer);
    closers.push(async () => { kills.stall.stop(); await observer.close(); });
    await wait_for('a stream leader', () => kills.has_leader(), 15_000);
    return kills;
  }

  private get all(): ProtocolClient[] {
    return [...this.rig.clients, this.rig.slow];
  }

  node_of(server: string): string {
    return this.cluster.nodes.find((n) => n.url.endsWith(server))!.name;
  }

  feed_nodes(): string[] {
    return this.rig.feed_bus.servers.map((s) => this.node_of(s));
  }

  engine_node(): string {
    return this.node_of(this.rig.engine_bus.server);
  }

  async leader(): Promise<string> {
    return (await this.stream.info().catch(() => null))?.leader ?? '';
  }

  async has_leader(): Promise<boolean> {
    return (await this.leader()) !== '';
  }

  /** Steps the stream leader down until it is one of `wanted` (a healthy cluster elects in well under a second). */
  async lead_on(wanted: string[]): Promise<void> {
    for (let i = 0; i < 20 && !wanted.includes(await this.leader()); i++) {
      await this.observer.request(`$JS.API.STREAM.LEADER.STEPDOWN.${this.stream.name}`, new Uint8Array(0), 2000).catch(() => undefined);
      await sleep(300);
      await wait_for('a stream leader', () => this.has_leader(), 15_000);
    }
    expect(wanted).toContain(await this.leader());
  }

  /** The normal spacing of each client's frames: a quiet window before any fault. */
  async measure_normal(): Promise<void> {
    await sleep(500);
    const from = performance.now();
    this.stall.reset();
    await sleep(2500);
    this.normal = this.all.map((c) => max_gap_ms(c, from, performance.now()));
  }

  async kill_and_restart(victim: string, as: string): Promise<void> {
    this.stall.reset();
    const from = performance.now();
    await this.cluster.kill(victim);
    await sleep(1500);
    await this.cluster.start(victim);
    await wait_for('both paths up on two nodes', () => this.rig.feed_bus.paths_connected() === 2 && new Set(this.rig.feed_bus.servers).size === 2, 15_000);
    await wait_for('the engine connected', () => this.rig.engine_bus.is_connected(), 15_000);
    await wait_for('a stream leader', () => this.has_leader(), 20_000);
    await sleep(1000);
    this.faults.push({ killed: victim, as, worst_gap_ms: this.all.map((c) => max_gap_ms(c, from, performance.now())), stall_ms: this.stall.worst_ms });
  }

  /** Each gap within the quiet window's + gap_beyond_normal_ms_max + this process's stall across that fault. */
  expect_gaps_within_goal(): void {
    for (const f of this.faults) {
      f.worst_gap_ms.forEach((gap, i) => expect(gap, `${f.as}: client ${i}`).toBeLessThanOrEqual(this.normal[i] + gap_beyond_normal_ms_max + f.stall_ms));
    }
  }

  report(): unknown {
    return { normal_gap_ms: this.normal.map(Math.round), faults: this.faults.map((f) =>
      ({ ...f, worst_gap_ms: f.worst_gap_ms.map(Math.round), stall_ms: Math.round(f.stall_ms) })) };
  }
}
