// The boundary check (scripts/check_boundaries.mjs) against the module table
// of docs/ARCHITECTURE.md: for every row, a tree that imports only what the
// row allows passes, and a planted import the row does not allow fails,
// naming the file. Rows come from the document, so a new row is tested too.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { check_boundaries, parse_module_table } from '../../scripts/check_boundaries.mjs';

type Row = { module: string; allowed: string[] };
const repo = new URL('../..', import.meta.url).pathname;
const architecture = readFileSync(join(repo, 'docs', 'ARCHITECTURE.md'), 'utf8');
const rows: Row[] = parse_module_table(architecture);
const packages = ['flatbuffers', '@nats-io/transport-node', 'uWebSockets.js', 'node:fs', 'prom-client', 'pino', 'hdr-histogram-js', 'esbuild', 'left-pad'];

let roots: string[] = [];
afterEach(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
});

/** A repo with the real docs/ARCHITECTURE.md and the given src files (path → text). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'boundaries-'));
  roots.push(root);
  mkdirSync(join(root, 'docs'));
  writeFileSync(join(root, 'docs', 'ARCHITECTURE.md'), architecture);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const file_of = (module: string) => (module.endsWith('.ts') ? module : `${module}/planted.ts`);
const target_in = (entry: string) => (entry.endsWith('.ts') ? entry : `${entry}/target.ts`);
const under = (entry: string, path: string) => path === entry || path.startsWith(`${entry}/`);

function import_line(from_file: string, spec_or_path: string): string {
  if (!spec_or_path.startsWith('src/')) return `import '${spec_or_path}';\n`;
  let rel = relative(dirname(from_file), spec_or_path).replace(/\.ts$/, '.js');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return `import { x } from '${rel}';\n`;
}

/** Imports the row does not allow: one file of another module, one package. */
function violations(row: Row): string[] {
  const internal = rows.map((r) => target_in(r.module)).find((t) => !under(row.module, t) && !row.allowed.some((e) => under(e, t)));
  const pkg = packages.find((p) => !row.allowed.some((e) => (e.endsWith('*') ? p.startsWith(e.slice(0, -1)) : p === e)));
  return [internal, pkg].filter((v): v is string => v !== undefined);
}

describe('check_boundaries', () => {
  it('reads a row per module, each with what it may import', () => {
    expect(rows.map((r) => r.module)).toEqual(expect.arrayContaining(['src/book', 'src/wire', 'src/bus', 'src/client', 'src/feed', 'src/server']));
    expect(rows.find((r) => r.module === 'src/book')!.allowed).toEqual([]);
    expect(rows.find((r) => r.module === 'src/wire')!.allowed).toContain('flatbuffers');
  });

  it('passes the repository and a tree importing exactly what each row allows', () => {
    expect(check_boundaries(repo)).toEqual([]);
    const files: Record<string, string> = {};
    for (const row of rows) {
      const file = file_of(row.module);
      files[file] = row.allowed.map((e) => import_line(file, e.endsWith('*') ? `${e.slice(0, -1)}x` : e.startsWith('src/') ? target_in(e) : e)).join('');
    }
    expect(check_boundaries(tree(files))).toEqual([]);
  });

  for (const row of rows) {
    it(`fails on an import the row of ${row.module} does not allow`, () => {
      const planted = violations(row);
      expect(planted.length).toBeGreaterThan(0);
      for (const v of planted) {
        const file = file_of(row.module);
        const problems: string[] = check_boundaries(tree({ [file]: import_line(file, v) }));
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain(`${file}: imports`);
        expect(problems[0]).toContain(v.startsWith('src/') ? v : `'${v}'`);
      }
    });
  }

  it('fails on a file no row covers and on console.* in src', () => {
    expect(check_boundaries(tree({ 'src/nowhere/x.ts': 'export const x = 1;\n' }))).toEqual([
      'src/nowhere/x.ts: no row of the module table in docs/ARCHITECTURE.md covers this file',
    ]);
    const problems: string[] = check_boundaries(tree({ 'src/book/x.ts': "// console.log('a comment is fine')\nconsole.log('x');\n" }));
    expect(problems).toEqual(['src/book/x.ts: uses console.*; log with pino (src/util/log.ts)']);
  });
});
