// Enforces the module boundaries of docs/ARCHITECTURE (DESIGN §1):
//   only src/bus imports NATS, only src/server imports uWebSockets.js,
//   only src/wire imports flatbuffers, src/book is pure (imports only itself),
//   src/client imports no Node-only modules (it runs in browsers),
//   src/feed imports neither prom-client nor the registry (metrics/ reads feed/counters.ts),
//   no console.* in src/ (log with pino).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const rules = [
  { what: 'NATS', test: (spec) => spec.startsWith('@nats-io/') || spec === 'nats', allowed: 'src/bus/' },
  { what: 'uWebSockets.js', test: (spec) => spec.startsWith('uWebSockets.js'), allowed: 'src/server/' },
  { what: 'flatbuffers', test: (spec) => spec === 'flatbuffers', allowed: 'src/wire/' },
];

const import_re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;
const problems = [];
for (const file of walk(src)) {
  const rel = relative(root, file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(import_re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    for (const rule of rules) {
      if (rule.test(spec) && !rel.startsWith(rule.allowed)) problems.push(`${rel}: imports ${rule.what} ('${spec}'); only ${rule.allowed} may`);
    }
    if (rel.startsWith('src/feed/') && (spec === 'prom-client' || spec.endsWith('metrics/registry.js'))) {
      problems.push(`${rel}: src/feed is transport-free and owns its counters; src/metrics reads them ('${spec}')`);
    }
    if (rel.startsWith('src/book/') && !spec.startsWith('./')) problems.push(`${rel}: src/book is pure; it may import only from src/book ('${spec}')`);
    if (rel.startsWith('src/client/') && (spec.startsWith('node:') || ['fs', 'net', 'http', 'os', 'path', 'child_process'].includes(spec))) {
      problems.push(`${rel}: src/client runs in browsers; no Node-only import ('${spec}')`);
    }
  }
  if (!rel.startsWith('src/wire/generated/') && /\bconsole\.(log|info|warn|error|debug)\(/.test(text)) {
    problems.push(`${rel}: uses console.*; log with pino (src/util/log.ts)`);
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  console.error(`check_boundaries: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('check_boundaries: ok');
