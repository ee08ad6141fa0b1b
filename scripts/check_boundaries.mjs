// Enforces the module table of docs/ARCHITECTURE.md: every file under src/
// belongs to one row (a directory or a file), and may import its own module
// plus exactly what that row's "may import" column lists. The table is read
// from the document each run, so the document is the one definition of the
// rules. Also: no console.* in src/ (log with pino), generated code aside.
//
// Usage: node scripts/check_boundaries.mjs [repo root]   (exit 1 on a problem)
// As a module: check_boundaries(root) → problems (strings); parse_module_table(markdown).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const table_header = '| module | role | may import |';

/** The module rows of the table: [{ module: 'src/engine', allowed: ['src/book', 'flatbuffers', …] }]. */
export function parse_module_table(markdown) {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === table_header);
  if (start < 0) throw new Error(`docs/ARCHITECTURE.md: no module table (a line '${table_header}')`);
  const rows = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== 3) throw new Error(`docs/ARCHITECTURE.md: module table row without 3 cells: ${line}`);
    const module = /`([^`]+)`/.exec(cells[0])?.[1];
    if (module === undefined || !module.startsWith('src/')) throw new Error(`docs/ARCHITECTURE.md: module cell must name a src/ path in backticks: ${line}`);
    const allowed = [...cells[2].matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    rows.push({ module, allowed });
  }
  if (rows.length === 0) throw new Error('docs/ARCHITECTURE.md: the module table has no rows');
  return rows;
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    // A package's build output (src/client/dist: .d.ts files) is not source.
    if (name === 'dist' || name === 'node_modules') return [];
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** path (repo-relative, .ts) is the entry or below it. */
function covers(entry, path) {
  return path === entry || path.startsWith(`${entry}/`);
}

function package_allowed(entry, spec) {
  if (entry.endsWith('*')) return spec.startsWith(entry.slice(0, -1));
  return spec === entry || spec.startsWith(`${entry}/`);
}

// Static imports and re-exports start a line; import() and require() may stand anywhere.
const import_re = /^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Code without comment lines (headers show example imports that are not imports). */
function code_of(text) {
  return text.split('\n').filter((l) => !/^\s*(\/\/|\/\*|\*)/.test(l)).join('\n');
}

export function check_boundaries(root) {
  const rows = parse_module_table(readFileSync(join(root, 'docs', 'ARCHITECTURE.md'), 'utf8'));
  const problems = [];
  for (const file of walk(join(root, 'src'))) {
    const rel = relative(root, file);
    const text = readFileSync(file, 'utf8');
    if (!rel.startsWith('src/wire/generated/') && /\bconsole\.(log|info|warn|error|debug)\(/.test(code_of(text))) {
      problems.push(`${rel}: uses console.*; log with pino (src/util/log.ts)`);
    }
    // The most specific row: a file row beats its directory's.
    const row = rows.filter((r) => covers(r.module, rel)).sort((a, b) => b.module.length - a.module.length)[0];
    if (row === undefined) {
      problems.push(`${rel}: no row of the module table in docs/ARCHITECTURE.md covers this file`);
      continue;
    }
    for (const m of code_of(text).matchAll(import_re)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
      if (spec.startsWith('.')) {
        const target = normalize(join(dirname(rel), spec)).replace(/\.js$/, '.ts');
        if (covers(row.module, target)) continue;
        if (row.allowed.some((e) => e.startsWith('src/') && covers(e, target))) continue;
        problems.push(`${rel}: imports ${target}, which the row of ${row.module} in docs/ARCHITECTURE.md does not allow`);
      } else if (!row.allowed.some((e) => !e.startsWith('src/') && package_allowed(e, spec))) {
        problems.push(`${rel}: imports the package '${spec}', which the row of ${row.module} in docs/ARCHITECTURE.md does not allow`);
      }
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
  const problems = check_boundaries(root);
  if (problems.length) {
    console.error(problems.join('\n'));
    console.error(`check_boundaries: ${problems.length} problem(s)`);
    process.exit(1);
  }
  console.log('check_boundaries: ok');
}
