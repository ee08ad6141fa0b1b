// A feed's two paths into a NATS cluster (issue 24, the A/B lines of CME MDP
// and MoldUDP64): two connections, kept on two *different* nodes, each
// subscribed to every subject the feed takes. Every message then arrives up
// to twice; the feed takes each batch once by (epoch, seq) (feed/symbol_feed.ts,
// reading the seq with wire/batch_peek.ts before anything else), so losing
// one node (its connection, or the messages in flight on it) costs nothing:
// the other path already delivered them.
//
// Kept apart: path 0 starts at a random node (feeds spread over the cluster),
// path 1 at another. When a path's node dies, nats.js moves it to a live node,
// possibly the other path's; then (at once, and every rebalance_interval_ms
// while it lasts) a fresh connection is opened to a node the other path is
// not on, subscribed to everything, and only then does the old one close
// (make before break; the duplicates meanwhile are dropped by seq).
//
// Requests, the durable stream (JetStream: fills and resets) and publishes
// use whichever path is connected, path 0 first: a JetStream leader election
// delays only those, never the live subjects. Status: `disconnected` only when
// both paths are down, `reconnected` when one is back: the feed's own
// recovery (upstream_lost) starts only when it truly heard nothing.
//
// Cost: the cluster sends each live message twice to a feed; the second copy
// costs the NATS client's parse and a seq peek (bench/e2e/nats_paths.bench.ts
// measures feed CPU per batch, one path vs two).
import { logger_for } from '../util/log.js';
import type { Bus, BusHandler, BusResponder, BusStatus, BusSubscription } from './bus.js';
import type { EventStream, ReplayResult, StoredMessage, StreamInfo, StreamLimits } from './event_stream.js';
import { NatsBus, type NatsBusOptions } from './nats_bus.js';
import type { Subjects } from './subjects.js';

const log = logger_for('bus.paths');

/** How often two paths found on one node try to move apart (a node that was down may be back). */
export const rebalance_interval_ms = 1000;

/** One path: a bus on one connection, and the node (host:port) it is on now. */
export interface PathLink extends Bus {
  readonly server: string;
}

export interface NatsPathsOptions extends NatsBusOptions {
  /** Opens one path's connection (default NatsBus.connect). Tests wrap it to disturb one path only. */
  open_link?: (options: NatsBusOptions, path: number) => Promise<PathLink>;
}

interface Registered {
  subject: string;
  handler: BusHandler;
  /** Subscribed on every path (live subjects) or on one (a responder: answering twice would be wrong). */
  every_path: boolean;
  responder?: BusResponder;
  on: (BusSubscription | null)[];
}

const host_port = (url: string): string => url.trim().replace(/^[a-z]+:\/\//, '');

export class NatsPathsBus implements Bus {
  readonly kind = 'nats' as const;
  private readonly registered = new Set<Registered>();
  private readonly listeners = new Set<(s: BusStatus) => void>();
  private readonly link_off: (() => void)[] = [];
  private readonly moving = [false, false];
  private readonly streams = new Map<PathLink, EventStream>();
  private up = true;
  private closed = false;
  private readonly timer: ReturnType<typeof setInterval>;

  private constructor(private readonly links: PathLink[], private readonly urls: string[], private readonly options: NatsPathsOptions) {
    links.forEach((l, i) => this.watch(l, i));
    this.timer = setInterval(() => this.rebalance(), rebalance_interval_ms);
    this.timer.unref?.();
  }

  /** Two paths on two nodes of `options.url` (at least two URLs). Resolves once both are connected. */
  static async connect(options: NatsPathsOptions): Promise<NatsPathsBus> {
    const urls = options.url.split(',').map((u) => u.trim()).filter(Boolean);
    if (urls.length < 2) throw new Error(`two NATS paths need two URLs, got '${options.url}'`);
    const open = options.open_link ?? ((o: NatsBusOptions) => NatsBus.connect(o));
    const start = options.randomize === false ? 0 : Math.floor(Math.random() * urls.length);
    const rotated = urls.slice(start).concat(urls.slice(0, start));
    const first = await open({ ...options, name: `${options.name}-path0`, url: rotated.join(','), randomize: false }, 0);
    // Path 1: the other nodes first; the first path's node last (then the rebalancer moves it when it can).
    const others = urls.filter((u) => host_port(u) !== first.server).concat(urls.filter((u) => host_port(u) === first.server));
    const second = await open({ ...options, name: `${options.name}-path1`, url: others.join(','), randomize: false }, 1);
    log.info({ paths: [first.server, second.server] }, 'two NATS paths connected');
    return new NatsPathsBus([first, second], urls, options);
  }

  /** The node each path is on now (host:port). */
  get servers(): string[] {
    return this.links.map((l) => l.server);
  }

  paths_connected(): number {
    let n = 0;
    for (const l of this.links) if (l.is_connected()) n++;
    return n;
  }

  private watch(link: PathLink, i: number): void {
    this.link_off[i]?.();
    this.link_off[i] = link.on_status((s) => {
      if (this.closed || this.links[i] !== link) return;
      if (s === 'disconnected') {
        log.warn({ path: i, other_path_connected: this.links[1 - i].is_connected() }, 'a NATS path is down');
        if (this.up && this.paths_connected() === 0) {
          this.up = false;
          this.emit('disconnected');
        }
      } else if (s === 'reconnected') {
        if (!this.up) {
          this.up = true;
          this.emit('reconnected');
        }
        setTimeout(() => this.rebalance(), 0).unref?.();
      }
    });
  }

  /** Two connected paths on one node: move one to another node (path 1 unless path 0 just came back there). */
  private rebalance(): void {
    if (this.closed || this.paths_connected() < 2 || this.links[0].server !== this.links[1].server) return;
    void this.move(1);
  }

  private async move(i: number): Promise<void> {
    if (this.moving[i] || this.closed) return;
    this.moving[i] = true;
    const avoid = this.links[1 - i].server;
    try {
      const targets = this.urls.filter((u) => host_port(u) !== avoid);
      const open = this.options.open_link ?? ((o: NatsBusOptions) => NatsBus.connect(o));
      const fresh = await open({ ...this.options, name: `${this.options.name}-path${i}`, url: targets.join(','), randomize: false, attempts_max: 1 }, i);
      if (this.closed || fresh.server === this.links[1 - i].server) {
        await fresh.close();
        return;
      }
      // Make before break: everything subscribed on the fresh connection before the old one goes.
      for (const r of this.registered) {
        if (!r.every_path && i !== 0) continue;
        const old = r.on[i];
        r.on[i] = r.responder !== undefined ? fresh.serve(r.subject, r.responder) : fresh.subscribe(r.subject, r.handler);
        old?.unsubscribe();
      }
      const old = this.links[i];
      this.links[i] = fresh;
      this.watch(fresh, i);
      this.streams.delete(old);
      log.info({ path: i, from: old.server, to: fresh.server }, 'NATS path moved to a node of its own');
      void old.close().catch(() => undefined);
    } catch (err) {
      // No other node reachable yet: stay, and try again at the next rebalance.
      log.debug({ path: i, err: (err as Error).message }, 'no other NATS node to move a path to');
    } finally {
      this.moving[i] = false;
    }
  }

  /** The path to use for one-off work: path 0 when connected, else path 1, else path 0 (it queues until back). */
  private link(): PathLink {
    if (this.links[0].is_connected()) return this.links[0];
    return this.links[1].is_connected() ? this.links[1] : this.links[0];
  }

  private emit(status: BusStatus): void {
    for (const l of this.listeners) l(status);
  }

  publish(subject: string, data: Uint8Array): void {
    this.link().publish(subject, data);
  }

  /** On both paths: `handler` sees each message once per path that delivers it. */
  subscribe(subject: string, handler: BusHandler): BusSubscription {
    const r: Registered = { subject, handler, every_path: true, on: this.links.map((l) => l.subscribe(subject, handler)) };
    return this.register(r);
  }

  /** On path 0 only (a request must be answered once). A feed serves nothing; this is for completeness. */
  serve(subject: string, responder: BusResponder): BusSubscription {
    const r: Registered = { subject, handler: () => undefined, every_path: false, responder, on: [this.links[0].serve(subject, responder), null] };
    return this.register(r);
  }

  private register(r: Registered): BusSubscription {
    this.registered.add(r);
    return {
      unsubscribe: () => {
        this.registered.delete(r);
        for (const s of r.on) s?.unsubscribe();
      },
    };
  }

  request(subject: string, data: Uint8Array, timeout_ms: number): Promise<Uint8Array> {
    return this.link().request(subject, data, timeout_ms);
  }

  async flush(): Promise<void> {
    await Promise.all(this.links.filter((l) => l.is_connected()).map((l) => l.flush()));
  }

  is_connected(): boolean {
    return this.paths_connected() > 0;
  }

  on_status(listener: (s: BusStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The durable stream, read through whichever path is connected when each call starts. */
  event_stream(subjects: Subjects): EventStream {
    const of = (): EventStream => {
      const link = this.link();
      let s = this.streams.get(link);
      if (s === undefined) {
        const made = link.event_stream?.(subjects) ?? null;
        if (made === null) throw new Error('this NATS path has no durable stream');
        s = made;
        this.streams.set(link, s);
      }
      return s;
    };
    return {
      name: subjects.stream_name,
      ensure: (limits: Readonly<StreamLimits>): Promise<void> => of().ensure(limits),
      put_snapshot: (symbol: string, data: Uint8Array): Promise<void> => of().put_snapshot(symbol, data),
      last_snapshot: (symbol: string): Promise<StoredMessage | null> => of().last_snapshot(symbol),
      replay: (symbol: string, after: number, on_batch: (data: Uint8Array, stream_seq: number) => boolean, timeout_ms: number): Promise<ReplayResult> =>
        of().replay(symbol, after, on_batch, timeout_ms),
      info: (): Promise<StreamInfo | null> => of().info(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const off of this.link_off) off();
    await Promise.all(this.links.map((l) => l.close()));
    this.emit('closed');
  }
}
