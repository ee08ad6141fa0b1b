// Helpers shared by every benchmark: what machine the numbers come from,
// writing results as JSON files (bench/results/<name>.json), and measuring
// operations per second of a subject against a baseline in the same run.
//
// Numbers from a shared 2-core machine are noisy: benches alternate subject
// and baseline runs and report medians, and the ratio is the number to trust.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem, type as os_type, arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// BENCH_RESULTS_DIR: somewhere else (bench/run.ts --quick keeps smoke-run numbers out of bench/results).
export const results_dir = process.env.BENCH_RESULTS_DIR ?? join(dirname(fileURLToPath(import.meta.url)), 'results');

export interface MachineDescription {
  cpu_model: string;
  cores: number;
  memory_bytes: number;
  memory_free_bytes: number;
  load_average_1m: number;
  node: string;
  os: string;
}

export function machine_description(): MachineDescription {
  const cpu = cpus();
  return {
    cpu_model: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memory_bytes: totalmem(),
    memory_free_bytes: freemem(),
    load_average_1m: Math.round(loadavg()[0] * 100) / 100,
    node: process.version,
    os: `${os_type()} ${release()} ${arch()}`,
  };
}

/** Writes bench/results/<name>.json with a timestamp and the machine; returns the path. */
export function write_result(name: string, data: Record<string, unknown>): string {
  mkdirSync(results_dir, { recursive: true });
  const path = join(results_dir, `${name}.json`);
  const body = { name, timestamp: new Date().toISOString(), machine: machine_description(), ...data };
  writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`);
  return path;
}

export interface RateStats {
  /** Median of the runs, operations per second. */
  ops_per_s: number;
  ops_per_s_best: number;
  runs_ops_per_s: number[];
}

/** One timed run: does its work, returns how many operations it did. */
export type Run = () => number | Promise<number>;

export interface Comparison {
  subject: RateStats;
  baseline: RateStats;
  /** subject ops/s ÷ baseline ops/s (medians). */
  ratio: number;
}

/**
 * Runs subject and baseline alternately (`runs` each, after one untimed
 * warm-up of each) so both see the same machine conditions, and compares
 * their median rates.
 */
export async function compare(subject: Run, baseline: Run, runs: number): Promise<Comparison> {
  await subject();
  await baseline();
  const subject_rates: number[] = [];
  const baseline_rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    subject_rates.push(await rate_of(subject));
    baseline_rates.push(await rate_of(baseline));
  }
  const s = stats(subject_rates);
  const b = stats(baseline_rates);
  return { subject: s, baseline: b, ratio: round(s.ops_per_s / b.ops_per_s, 3) };
}

/** Median rate of `runs` timed runs (after one untimed warm-up). */
export async function measure(run: Run, runs: number): Promise<RateStats> {
  await run();
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) rates.push(await rate_of(run));
  return stats(rates);
}

async function rate_of(run: Run): Promise<number> {
  const start = performance.now();
  const ops = await run();
  const seconds = (performance.now() - start) / 1000;
  return ops / seconds;
}

function stats(rates: number[]): RateStats {
  return { ops_per_s: Math.round(median(rates)), ops_per_s_best: Math.round(Math.max(...rates)), runs_ops_per_s: rates.map(Math.round) };
}

/** The middle value (the mean of the two middle ones for an even count); 0 for none. The benches' one median. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * A 95% confidence interval for the median of xs, distribution-free: the
 * order statistics x_(k) and x_(n+1-k) with k the largest such that a
 * Binomial(n, 1/2) falls below k with probability at most 2.5%. Needs n >= 6
 * (below that no such k exists: null). Per-round ratios of a noisy bench are
 * not normal, so this rather than mean ± 2 SE.
 */
export function median_interval_95(xs: readonly number[]): [number, number] | null {
  const n = xs.length;
  let below = 0; // P(Binomial(n, 1/2) < k), built up term by term
  let term = 0.5 ** n; // P(= 0)
  let k = 0;
  while (below + term <= 0.025) {
    below += term;
    term = (term * (n - k)) / (k + 1);
    k++;
  }
  if (k === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return [s[k - 1], s[n - k]];
}

/** Least-squares slope of y over x (0 with fewer than two points or no spread in x). */
export function least_squares_slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** p50, p99 and max (nearest rank, 0.1 ms) of samples in ms, and how many there were. */
export function quantiles_ms(samples: readonly number[]): { p50_ms: number; p99_ms: number; max_ms: number; samples: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (s.length === 0 ? 0 : round(s[Math.min(s.length - 1, Math.floor(q * s.length))], 1));
  return { p50_ms: at(0.5), p99_ms: at(0.99), max_ms: s.length === 0 ? 0 : round(s[s.length - 1], 1), samples: s.length };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** "1.23M" style, for console summaries. */
export function si(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}
