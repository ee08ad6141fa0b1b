// Prints where a V8 CPU profile (node --cpu-prof) spends its time: self time
// per function (with file:line), top N. Used to explain a benchmark's numbers.
// Run: npx tsx bench/profile_summary.ts <file.cpuprofile> [--top N] [--filter text]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function self_times(profile: Profile): { name: string; ms: number; share: number }[] {
  const by_id = new Map(profile.nodes.map((n) => [n.id, n]));
  const self_us = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self_us.set(id, (self_us.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totals = new Map<string, number>();
  let all = 0;
  for (const [id, us] of self_us) {
    const n = by_id.get(id);
    if (n === undefined) continue;
    const f = n.callFrame;
    const file = f.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/');
    const name = `${f.functionName || '(anonymous)'} ${file ? `${file}:${f.lineNumber + 1}` : ''}`.trim();
    totals.set(name, (totals.get(name) ?? 0) + us);
    all += us;
  }
  return [...totals].map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: all > 0 ? us / all : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

if (process.argv[1]?.endsWith('profile_summary.ts')) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: npx tsx bench/profile_summary.ts <file.cpuprofile> [--top N] [--filter text]\n');
    process.exit(2);
  }
  const top_at = process.argv.indexOf('--top');
  const top = top_at > 0 ? Number(process.argv[top_at + 1]) : 30;
  const filter_at = process.argv.indexOf('--filter');
  const filter = filter_at > 0 ? process.argv[filter_at + 1] : '';
  const rows = self_times(JSON.parse(readFileSync(file, 'utf8')) as Profile).filter((r) => r.name.includes(filter));
  for (const r of rows.slice(0, top)) process.stdout.write(`${(r.share * 100).toFixed(1).padStart(5)}%  ${String(r.ms).padStart(6)} ms  ${r.name}\n`);
}
