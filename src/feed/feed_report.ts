// What the feed reports about itself: /stats (symbols and their views,
// connections, counters, since-start latency) and the slow-reader picture
// (how far behind each reader is, what it has in flight against its cap,
// uWS's buffers, what conflation did). Reads the feed's own collections,
// which it is handed once; writes nothing.
//
// Cost: O(connections + views) per call, with sorted copies for the
// distributions: for /stats and scrapes, never the hot path.

import { side_ask, side_bid } from '../book/types.js';
import type { Bus } from '../bus/bus.js';
import { server_hops, type HopHistograms } from '../metrics/hop_histograms.js';
import type { FeedCounters } from './counters.js';
import type { Session } from './session.js';
import type { SymbolFeed } from './symbol_feed.js';
import type { SubscriptionChannel } from './subscription.js';

/** Connections listed one by one in /stats slow_consumers.slowest. */
export const slow_sessions_reported_max = 10;

/** The feed's collections the report reads (live references: they change as the feed runs). */
export interface FeedReportSources {
  readonly symbols: ReadonlyMap<string, SymbolFeed>;
  readonly sessions: ReadonlySet<Session>;
  readonly channels: ReadonlyMap<SymbolFeed, readonly SubscriptionChannel[]>;
  readonly slow_sessions: ReadonlySet<Session>;
  readonly counters: FeedCounters;
  readonly latency: HopHistograms;
  readonly resumes_total: ReadonlyMap<string, number>;
  readonly bus: Bus;
}

export class FeedReport {
  private readonly symbols: ReadonlyMap<string, SymbolFeed>;
  private readonly sessions: ReadonlySet<Session>;
  private readonly channels: ReadonlyMap<SymbolFeed, readonly SubscriptionChannel[]>;
  private readonly slow_sessions: ReadonlySet<Session>;
  private readonly counters: FeedCounters;
  private readonly latency: HopHistograms;
  private readonly resumes_total: ReadonlyMap<string, number>;
  private readonly bus: Bus;

  constructor(sources: FeedReportSources) {
    this.symbols = sources.symbols;
    this.sessions = sources.sessions;
    this.channels = sources.channels;
    this.slow_sessions = sources.slow_sessions;
    this.counters = sources.counters;
    this.latency = sources.latency;
    this.resumes_total = sources.resumes_total;
    this.bus = sources.bus;
  }

  stats(): Record<string, unknown> {
    const symbols: Record<string, unknown> = {};
    for (const [s, f] of this.symbols) {
      symbols[s] = {
        state: f.state, engine_silent: f.engine_silent, recovery_source: f.last_recovery_source, epoch: f.epoch, seq: f.committed_seq,
        bid_levels: f.book.level_count(side_bid), ask_levels: f.book.level_count(side_ask),
        best_bid: f.book.best(side_bid) ?? null, best_ask: f.book.best(side_ask) ?? null,
        views: (this.channels.get(f) ?? []).map((ch) => ({
          depth: ch.depth, group: ch.group, seq: ch.seq, subscribers: ch.subscriber_count, snapshot_encodes: ch.snapshot_encodes,
          accumulating: ch.accumulating.size, changed_levels_kept: ch.changed.live, // conflation memory of the view, shared by its slow subscribers
          // Streaming subscribers by path: on the view's uWS topic (one publish each update) or sent one by one from JS.
          published: ch.published.size, streaming_direct: ch.streaming.size, published_frames: ch.published_frames,
        })),
        ...f.stats,
      };
    }
    const latency: Record<string, unknown> = {};
    for (const hop of server_hops) latency[hop] = this.latency.percentiles(hop);
    return {
      bus: { kind: this.bus.kind, connected: this.bus.is_connected(), paths_connected: this.bus.paths_connected?.() ?? (this.bus.is_connected() ? 1 : 0) },
      connections: this.sessions.size,
      slow_consumers: this.slow_consumer_stats(),
      counters: {
        ...this.counters, closes_total: Object.fromEntries(this.counters.closes_total), errors_total: Object.fromEntries(this.counters.errors_total),
        recoveries_total: Object.fromEntries(this.counters.recoveries_total), slow_closes_total: Object.fromEntries(this.counters.slow_closes_total),
        resumes_total: Object.fromEntries(this.resumes_total),
      },
      latency_us: latency,
      symbols,
    };
  }

  /** Bytes buffered for each open connection now (user space, above the kernel's socket buffer). */
  buffered_bytes_now(): number[] {
    const out: number[] = [];
    for (const s of this.sessions) out.push(s.transport.buffered_bytes());
    return out;
  }

  /** Each open connection's reader flow now: lag, bytes in flight, its cap (for /metrics and /stats). */
  reader_flows_now(now_ms: number = Date.now()): { lag_ms: number; in_flight_bytes: number; cap_bytes: number }[] {
    const out = [];
    for (const s of this.sessions) out.push({ lag_ms: s.flow.lag_now_ms(now_ms), in_flight_bytes: s.flow.in_flight, cap_bytes: s.flow.cap_bytes });
    return out;
  }

  /** Most bytes ever buffered for one connection, open or closed. */
  buffered_bytes_peak(): number {
    let peak = this.counters.buffered_bytes_peak;
    for (const s of this.sessions) if (s.buffered_bytes_max > peak) peak = s.buffered_bytes_max;
    return peak;
  }

  /**
   * The slow-reader picture for /stats: how far behind the readers are now
   * (distribution and the slowest connections in detail), what they have in
   * flight against their caps, uWS's buffers, and what conflation did.
   */
  slow_consumer_stats(now_ms: number = Date.now()): Record<string, unknown> {
    const c = this.counters;
    const sessions = [...this.sessions];
    const lag = sessions.map((s) => s.flow.lag_now_ms(now_ms));
    const slowest = sessions.map((s, i) => ({ s, lag_ms: lag[i] })).sort((a, b) => b.lag_ms - a.lag_ms).slice(0, slow_sessions_reported_max);
    const buffered = this.buffered_bytes_now();
    return {
      conflating_connections: this.slow_sessions.size,
      conflation_episodes_total: c.conflation_episodes_total,
      conflation_episodes_by_cause_total: Object.fromEntries(c.conflation_episodes_by_cause_total),
      conflated_frames_total: c.conflated_frames_total,
      catch_up_snapshots_total: c.catch_up_snapshots_total,
      conflated_updates_merged_total: c.conflated_updates_merged_total,
      slow_closes_total: Object.fromEntries(c.slow_closes_total),
      reader_lag_ms: distribution(lag),
      in_flight_bytes: distribution(sessions.map((s) => s.flow.in_flight)),
      in_flight_cap_bytes: distribution(sessions.map((s) => s.flow.cap_bytes)),
      buffered_bytes: { ...distribution(buffered), peak: this.buffered_bytes_peak() },
      slowest: slowest.map(({ s, lag_ms }) => ({
        session: s.id, remote_address: s.transport.remote_address, slow: s.slow, cause: s.slow_cause, policy: s.limits.slow_policy,
        reader_lag_ms: Math.round(lag_ms), last_probe_delay_ms: Math.round(s.flow.lag_ms), path_delay_ms: s.flow.min_delay_ms === Infinity ? null : s.flow.min_delay_ms,
        in_flight_bytes: s.flow.in_flight, in_flight_cap_bytes: s.flow.cap_bytes, read_bytes_per_s: Math.round(s.flow.rate_bytes_per_s),
        stream_bytes_per_s: Math.round(s.gate.stream_bytes_per_s), acks: s.flow.acks_seen,
        buffered_bytes: s.transport.buffered_bytes(), buffered_bytes_max: s.buffered_bytes_max, episodes: s.slow_episodes,
        frames_sent: s.frames_sent, bytes_sent: s.bytes_sent,
        views: [...s.subs.values()].map((sub) => ({
          view: sub.key, mode: sub.mode, interval_ms: sub.interval_ms, seq_sent: sub.seq_sent, dirty_levels: sub.dirty_levels,
          held_trades: sub.held_trades, folded_trades: sub.folded_trades, updates_pending: sub.merged_pending, snapshot_next: sub.overflowed,
        })),
      })),
    };
  }
}

/** Count, total, p50/p90/p99 and max of values now (sorted copy: /stats only). */
export function distribution(values: readonly number[]): { connections: number; total_now: number; p50_now: number; p90_now: number; p99_now: number; max_now: number } {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => (v.length === 0 ? 0 : Math.round(v[Math.min(v.length - 1, Math.floor(q * v.length))]));
  return { connections: v.length, total_now: Math.round(v.reduce((a, b) => a + b, 0)), p50_now: at(0.5), p90_now: at(0.9), p99_now: at(0.99), max_now: at(1) };
}
