// Is this tree slower than an earlier commit? Runs the same benchmarks on
// both, alternating (base, this tree, base, …, the order flipped every run so
// neither always goes first), each run in its own process writing to its own
// temporary results directory, then compares every numeric field of the
// results: median per side, ratio this ÷ base. A shared 2-core machine is
// noisy: the per-run values are kept beside the medians so the spread shows.
//
//   npx tsx bench/side_by_side.ts --base 28793fc [--runs 3] micro/feed_fanout micro/ingest
//
// The base is checked out in a temporary git worktree (removed at the end)
// with this tree's node_modules linked in; this tree runs as it is on disk.
// Writes bench/results/side_by_side.json and prints one line per field.
// Cost: runs × 2 × the benches' own time.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { number_flag, string_flag } from '../src/util/flags.js';
import { median, round, write_result } from './lib.js';

const here_root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const base_rev = string_flag(argv, '--base', '');
const runs = number_flag(argv, '--runs', 3);
const benches = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')));
if (base_rev === '' || benches.length === 0) {
  process.stderr.write('usage: npx tsx bench/side_by_side.ts --base REV [--runs N] BENCH... (e.g. micro/feed_fanout micro/ingest)\n');
  process.exit(2);
}
for (const b of benches) {
  if (!existsSync(join(here_root, 'bench', `${b}.bench.ts`))) {
    process.stderr.write(`no bench/${b}.bench.ts in this tree\n`);
    process.exit(2);
  }
}

const git = (...args: string[]) => execFileSync('git', ['-C', here_root, ...args], { encoding: 'utf8' }).trim();
const base_sha = git('rev-parse', '--verify', `${base_rev}^{commit}`);
const head_sha = git('rev-parse', 'HEAD');
const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
const scratch = mkdtempSync(join(tmpdir(), 'depthcast-side-by-side-'));
const base_root = join(scratch, 'base');
git('worktree', 'add', '--detach', base_root, base_sha);
symlinkSync(join(here_root, 'node_modules'), join(base_root, 'node_modules'));

type Fields = Record<string, number>;

/** Numeric fields of a result, nested objects flattened one level deep (a.b). */
function numeric_fields(o: Record<string, unknown>): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'number') out[k] = v;
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && k !== 'machine') {
      for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number') out[`${k}.${k2}`] = v2;
    }
  }
  return out;
}

function run_bench(root: string, bench: string, tag: string): Fields {
  const results_dir = mkdtempSync(join(scratch, `${tag}-`));
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('bench', `${bench}.bench.ts`)], {
    cwd: root, env: { ...process.env, BENCH_RESULTS_DIR: results_dir }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`${bench} in ${tag} exited with ${r.status}`);
  const file = readdirSync(results_dir).find((n) => n.endsWith('.json'));
  if (file === undefined) throw new Error(`${bench} in ${tag} wrote no results`);
  return numeric_fields(JSON.parse(readFileSync(join(results_dir, file), 'utf8')) as Record<string, unknown>);
}

const comparison: Record<string, Record<string, { base_median: number; head_median: number; ratio_head_to_base: number; base_runs: number[]; head_runs: number[] }>> = {};
try {
  for (const bench of benches) {
    const seen: { base: Fields[]; head: Fields[] } = { base: [], head: [] };
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? (['base', 'head'] as const) : (['head', 'base'] as const);
      for (const side of order) {
        process.stderr.write(`${bench}: run ${i + 1}/${runs}, ${side}…\n`);
        seen[side].push(run_bench(side === 'base' ? base_root : here_root, bench, `${side}-${i}`));
      }
    }
    const fields: (typeof comparison)[string] = {};
    for (const key of Object.keys(seen.head[0])) {
      if (key === 'duration_s' || !seen.base.every((f) => key in f)) continue;
      const base_runs = seen.base.map((f) => f[key]);
      const head_runs = seen.head.map((f) => f[key]);
      const base_median = Number(median(base_runs).toPrecision(6));
      const head_median = Number(median(head_runs).toPrecision(6));
      if (base_runs.every((v) => v === head_runs[0]) && head_runs.every((v) => v === head_runs[0])) continue; // a parameter, not a measurement
      fields[key] = { base_median, head_median, ratio_head_to_base: base_median === 0 ? NaN : round(head_median / base_median, 3), base_runs, head_runs };
    }
    comparison[bench] = fields;
    for (const [key, f] of Object.entries(fields)) {
      process.stdout.write(`${bench} ${key}: base ${f.base_median} [${f.base_runs.join(', ')}]  this ${f.head_median} [${f.head_runs.join(', ')}]  ratio ${f.ratio_head_to_base}\n`);
    }
  }
} finally {
  git('worktree', 'remove', '--force', base_root);
  rmSync(scratch, { recursive: true, force: true });
}
const path = write_result('side_by_side', {
  what: 'the same benches on an earlier commit (base) and this tree, alternating runs; median per side and ratio this ÷ base per numeric field',
  base: base_sha, head: head_sha, head_has_uncommitted_changes: dirty, runs, comparison,
});
process.stdout.write(`wrote ${path}\n`);
