// The set-up every paired fan-out bench shares (e2e/fanout, e2e/transports,
// e2e/latency_sweep): record the update stream once into a temporary file,
// start one server process and one client process per kind on it
// (harness/orchestrate.ts), measure windows kind by kind in a rotated order,
// and describe the workload the same way in every result file.
//
// Cost: the recording is made in this (parent) process before any server
// starts, so it never competes with a measured window.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { round } from '../../lib.js';
import { arg, list_arg, quick } from './args.js';
import { type Pair, start_pairs, type TrialResult, type WindowSpec } from './orchestrate.js';
import { make_recording, type Recording, save_recording } from './recording.js';
import { rotate, window_line } from './stats.js';
import type { TargetKind } from './target.js';

/**
 * The options every paired bench takes, with the bench's own defaults for
 * --clients and --rounds: --depths (every client subscribes to every symbol
 * at each; more views = more frames per socket write), --warmup-s and
 * --measure-s per window, --window-ticks (saturation credit), --sample-every
 * (1 client in n decodes and records latency), --orders-per-tick.
 */
export function paired_run_options(defaults: { clients: number; rounds: number }) {
  return {
    depths: list_arg('--depths', [10]),
    clients: arg('--clients', defaults.clients),
    rounds: arg('--rounds', defaults.rounds),
    warmup_s: arg('--warmup-s', quick ? 0.3 : 1),
    measure_s: arg('--measure-s', quick ? 1 : 3),
    window_ticks: arg('--window-ticks', 100),
    sample_every: arg('--sample-every', 10),
    orders_per_tick: arg('--orders-per-tick', 8),
  };
}

/**
 * Highest saturation tick rate the recording covers for depthcast (its stream
 * cannot loop). A tick costs about clients × frames per tick × a few µs, so a
 * few hundred clients stay far below this; a window that runs out is flagged.
 */
export function ticks_per_s_max_default(clients: number): number {
  return Math.min(3000, Math.ceil(600_000 / clients));
}

export interface RunSpec {
  /** Names the temporary directory (depthcast-bench-<bench>-…). */
  bench: string;
  kinds: readonly TargetKind[];
  /** Ticks to record (depthcast's stream cannot loop: size it for every window). */
  ticks: number;
  orders_per_tick: number;
  depths: number[];
  clients: number;
  sample_every: number;
  /** performance.now() when the bench started, for the progress lines. */
  started_ms: number;
}

export interface PairedRun {
  recording: Recording;
  /** The servers under test with their clients connected, by kind. */
  pairs: Map<TargetKind, Pair>;
  /** Stops every pair and removes the recording. */
  close(): Promise<void>;
}

const elapsed_s = (started_ms: number): number => round((performance.now() - started_ms) / 1000, 1);

/** Records the stream and starts a pair per kind; on failure nothing is left running or on disk. */
export async function start_paired_run(spec: RunSpec): Promise<PairedRun> {
  const dir = mkdtempSync(join(tmpdir(), `depthcast-bench-${spec.bench}-`));
  const recording_path = join(dir, 'recording.bin');
  try {
    const recording = await make_recording(spec.ticks, spec.orders_per_tick, spec.depths);
    save_recording(recording_path, recording);
    process.stdout.write(`  recorded ${recording.meta.ticks} ticks (${recording.meta.frames} frames) in ${elapsed_s(spec.started_ms)} s\n`);
    const started = await start_pairs(spec.kinds.map((kind) => ({ kind, clients: spec.clients, sample_every: spec.sample_every, recording_path, views: recording.meta.views })));
    const pairs = new Map<TargetKind, Pair>(started.map((p, i) => [spec.kinds[i], p]));
    process.stdout.write(`  ${spec.kinds.length} servers up with ${spec.clients} clients each at ${elapsed_s(spec.started_ms)} s\n`);
    return {
      recording, pairs,
      close: async () => {
        for (const p of pairs.values()) await p.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * One window per kind, in the kinds' order rotated by `rotation` (so no kind
 * always goes first), each trial tagged with its round; prints a line per window.
 */
export async function measure_in_turn(
  pairs: ReadonlyMap<TargetKind, Pair>, kinds: readonly TargetKind[], w: WindowSpec, r: number, rotation: number, rounds: number,
): Promise<TrialResult[]> {
  const out: TrialResult[] = [];
  for (const kind of rotate(kinds, rotation)) {
    const t = { ...(await pairs.get(kind)!.window(w)), round: r };
    out.push(t);
    process.stdout.write(window_line(t, rounds));
  }
  return out;
}

/** The stream every server carried, as the result files describe it. */
export function recording_workload(recording: Recording, clients: number) {
  const m = recording.meta;
  return {
    clients, depths: m.depths, views_per_client: m.views.length, views: m.views, orders_per_tick: m.orders_per_tick, tick_engine_ms: 1,
    recorded_ticks: m.ticks, frames_per_tick: round(m.frames / m.ticks, 3),
    bytes_per_frame: Math.round(m.frame_bytes / m.frames), events_per_tick: round(m.events / m.ticks, 2),
  };
}

export const stream_exhausted_warning = '  WARNING: depthcast ran out of recorded ticks in a window (its numbers are cut short)\n';
