// IPC messages between the orchestrator (parent) and its server and client processes.
import type { TargetKind } from './target.js';

export type Mode = 'paced' | 'saturation';

export type ServerCommand =
  /** prime_ticks: ticks published before any client connects, so every server starts measuring at the same point of the stream with depthcast's books in steady state. */
  | { type: 'start'; kind: TargetKind; recording_path: string; prime_ticks: number }
  | { type: 'run'; mode: Mode; ticks_per_s: number; window_ticks: number; spin_us_max: number }
  | { type: 'credit'; stamp_ns: number }
  /** reset: a measured window starts (the driver's schedule lag starts afresh). */
  | { type: 'mark'; reset: boolean }
  | { type: 'stop' }
  | { type: 'exit' };

export type ServerReply =
  | { type: 'ready'; port: number; extra_pids: number[] }
  | { type: 'running'; schedule: Schedule | null }
  /** spin_s: seconds the driver busy-waited so far (server CPU that is the harness's, not the server's). */
  /** counts: the target's own running totals (Target.counts), for per-second rates over a window. */
  | { type: 'mark'; ticks: number; exhausted: boolean; spin_s: number; counts: Record<string, number> }
  /** schedule_lag_us: paced ticks' publish time minus due time since the last mark with reset (null in saturation). */
  | { type: 'stopped'; ticks: number; exhausted: boolean; stats: Record<string, unknown>; schedule_lag_us: LatencySummaryUs | null }
  | { type: 'error'; message: string };

export interface ClientStart {
  type: 'start';
  kind: TargetKind;
  host: string;
  port: number;
  clients: number;
  /** Every n-th client decodes payloads, records latency and checks continuity. */
  sample_every: number;
  views: string[];
  /** Report the slowest sampled client's newest stamp every few ms (saturation credit). */
  credit: boolean;
  /** The recording: depthcast clients map a Delta's (view, seq) to its tick, for the due-time (CO-corrected) latency. */
  recording_path: string;
}

/** A paced run's timetable: tick k is due at t0_ns + (k - k0) * 1e9 / ticks_per_s. */
export interface Schedule {
  t0_ns: number;
  k0: number;
  ticks_per_s: number;
}

export type ClientCommand =
  | ClientStart
  /** schedule: with reset_latency in a paced window, what the CO-corrected latency is measured against. */
  | { type: 'mark'; reset_latency: boolean; schedule: Schedule | null }
  | { type: 'report' }
  | { type: 'exit' };

/**
 * depthcast's hops, from a Delta's stamps: engine (the driver's publish) →
 * ingest → send → receive; and the span ingest → receive (the two last hops
 * of the same sample added: its percentiles are the span's own, which the
 * sum of the hops' percentiles is not).
 */
export const hop_keys = ['engine_to_ingest', 'ingest_to_send', 'send_to_receive', 'ingest_to_receive'] as const;
export type HopKey = (typeof hop_keys)[number];

export interface LatencySummaryUs {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
  mean: number;
  negative_samples: number;
}

export type ClientReply =
  | { type: 'connected'; open: number; failed: number; first_error: string }
  | { type: 'mark'; frames: number; bytes: number; sampled_frames: number }
  | { type: 'credit'; stamp_ns: number }
  | {
    type: 'report'; latency_us: LatencySummaryUs; gaps: number; decode_errors: number;
    closed: number; close_codes: Record<string, number>; open: number;
    /** Receive time minus the tick's due time (coordinated-omission corrected; paced windows only). */
    co_latency_us: LatencySummaryUs | null;
    /** depthcast only: where the time went, from the frame's stamps and the receive time. */
    hops_us: Record<HopKey, LatencySummaryUs> | null;
    /** The client process's own event-loop lag over the window (µs, beyond the monitor's timer period). */
    loop_lag_us: { p99: number; max: number };
  }
  | { type: 'error'; message: string };

/** How early the paced driver's timer wakes it before a tick is due, by default; it busy-waits the rest (server_main.ts). */
export const spin_us_max_default = 1500;
