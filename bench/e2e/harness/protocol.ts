// IPC messages between the orchestrator (parent) and its server and client processes.
import type { TargetKind } from './target.js';

export type Mode = 'paced' | 'saturation';

export type ServerCommand =
  /** prime_ticks: ticks published before any client connects, so every server starts measuring at the same point of the stream with depthcast's books in steady state. */
  | { type: 'start'; kind: TargetKind; recording_path: string; prime_ticks: number }
  | { type: 'run'; mode: Mode; ticks_per_s: number; window_ticks: number }
  | { type: 'credit'; stamp_ns: number }
  | { type: 'mark' }
  | { type: 'stop' }
  | { type: 'exit' };

export type ServerReply =
  | { type: 'ready'; port: number; extra_pids: number[] }
  | { type: 'mark'; ticks: number; exhausted: boolean }
  | { type: 'stopped'; ticks: number; exhausted: boolean; stats: Record<string, unknown> }
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
}

export type ClientCommand = ClientStart | { type: 'mark'; reset_latency: boolean } | { type: 'report' } | { type: 'exit' };

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
  }
  | { type: 'error'; message: string };
