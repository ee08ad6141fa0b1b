// `npm run bench`: every benchmark in bench/micro and bench/e2e, one after the
// other (never two at once: they would measure each other), each in its own
// process writing bench/results/<name>.json; then bench/README.md's results
// section is regenerated from those files (bench/summarize.ts).
//
//   npm run bench                      all, full length (a few minutes)
//   npm run bench -- --quick           all, short smoke runs: numbers are rough, so they go to a
//                                      temporary directory (printed), not bench/results
//   npm run bench -- fanout ingest     only benches whose name contains a word
//   npm run bench -- --list            names only
//   npm run bench -- --no-summary      leave bench/README.md alone
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load_results, render_results, summarize } from './summarize.js';

const bench_dir = dirname(fileURLToPath(import.meta.url));

/** Short-run arguments for benches that take counts rather than --quick. */
const quick_args: Record<string, string[]> = {
  'micro/matcher': ['--orders', '200000', '--runs', '2'],
  'micro/book': ['--events', '200000', '--runs', '2'],
  'micro/codec': ['--frames', '50000', '--runs', '2'],
  'micro/client_delta': ['--frames', '5000', '--passes', '2', '--runs', '2'],
  'micro/client_dispatch': ['--clients', '60', '--ticks', '300', '--runs', '1'],
  'e2e/publish': ['--orders', '100000', '--runs', '1'],
};

export function discover(): string[] {
  const out: string[] = [];
  for (const group of ['micro', 'e2e']) {
    for (const file of readdirSync(join(bench_dir, group)).sort()) {
      if (file.endsWith('.bench.ts')) out.push(`${group}/${file.replace(/\.bench\.ts$/, '')}`);
    }
  }
  return out;
}

function run_one(name: string, args: string[], results_dir: string | undefined): Promise<{ code: number; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(bench_dir, `${name}.bench.ts`), ...args], {
      stdio: 'inherit',
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...(results_dir !== undefined ? { BENCH_RESULTS_DIR: results_dir } : {}) },
    });
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), seconds: (performance.now() - started) / 1000 }));
    child.on('error', () => resolve({ code: 1, seconds: (performance.now() - started) / 1000 }));
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const filters = argv.filter((a) => !a.startsWith('--'));
  const all = discover();
  if (argv.includes('--list')) {
    process.stdout.write(`${all.join('\n')}\n`);
    return;
  }
  const selected = filters.length === 0 ? all : all.filter((n) => filters.some((f) => n.includes(f)));
  if (selected.length === 0) {
    process.stderr.write(`no bench matches ${filters.join(', ')}; have: ${all.join(', ')}\n`);
    process.exit(2);
  }
  const results_dir = quick ? (process.env.BENCH_RESULTS_DIR ?? mkdtempSync(join(tmpdir(), 'depthcast-bench-quick-'))) : process.env.BENCH_RESULTS_DIR;
  if (quick) process.stdout.write(`quick run: results go to ${results_dir}\n`);
  const outcomes: { name: string; code: number; seconds: number }[] = [];
  for (const name of selected) {
    const args = quick ? (quick_args[name] ?? ['--quick']) : [];
    process.stdout.write(`\n=== ${name}${args.length > 0 ? ` ${args.join(' ')}` : ''}\n`);
    outcomes.push({ name, ...(await run_one(name, args, results_dir)) });
  }
  process.stdout.write('\n=== summary\n');
  for (const o of outcomes) process.stdout.write(`  ${o.code === 0 ? 'ok    ' : 'FAILED'} ${o.name.padEnd(18)} ${o.seconds.toFixed(1)} s\n`);
  if (quick) {
    process.stdout.write(`\n${render_results(load_results(results_dir!))}\n  (quick results in ${results_dir}; bench/README.md left alone)\n`);
  } else if (!argv.includes('--no-summary') && results_dir === undefined) {
    const changed = summarize();
    process.stdout.write(`  bench/README.md ${changed ? 'updated from bench/results' : 'unchanged'}\n`);
  }
  if (outcomes.some((o) => o.code !== 0)) process.exit(1);
}

await main();
