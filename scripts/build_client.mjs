// Builds the SDK package (src/client, npm name `depthcast`) into src/client/dist:
// a clean dist, then tsc with src/client/tsconfig.build.json (the browser entries;
// then tsconfig.build.node.json adds the Node entry, depthcast/client/node) (ESM JavaScript,
// .d.ts and declaration maps, one file per source file; the wire codec, book
// verification and helpers the SDK imports are compiled beside it). Then the
// TypeScript sources the declaration maps name are copied to dist/src/ (the
// maps rewritten to point there), so "go to definition" in a consumer's editor
// lands in the real source, inside the package, not in a path of this
// repository. About 10 s of one core. Prints what it wrote.
//
// Usage: node scripts/build_client.mjs   (npm run build:client; npm pack of the package runs it too)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo_root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const package_dir = join(repo_root, 'src', 'client');
export const dist_dir = join(package_dir, 'dist');

function files_under(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files_under(p) : [p];
  });
}

/** Builds dist/; throws with tsc's output when the build fails. Returns the files written. */
export function build_client() {
  rmSync(dist_dir, { recursive: true, force: true });
  const tsc = createRequire(join(repo_root, 'package.json')).resolve('typescript/bin/tsc');
  // Twice into the same dist: the browser entries without Node's types (nothing there may lean on Node), then
  // with them for the Node entry (the shared files come out the same).
  for (const config of ['tsconfig.build.json', 'tsconfig.build.node.json']) {
    const run = spawnSync(process.execPath, [tsc, '-p', join(package_dir, config)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`build_client: tsc -p ${config} failed\n${run.stdout}${run.stderr}`);
  }
  ship_map_sources();
  return files_under(dist_dir);
}

/** Copies each source a declaration map names into dist/src/ (its path below the repository's src/) and repoints the map. */
function ship_map_sources() {
  const src_root = join(repo_root, 'src');
  const shipped_root = join(dist_dir, 'src');
  for (const map_file of files_under(dist_dir).filter((f) => f.endsWith('.d.ts.map'))) {
    const map = JSON.parse(readFileSync(map_file, 'utf8'));
    map.sources = map.sources.map((source) => {
      const original = resolve(dirname(map_file), map.sourceRoot ?? '', source);
      const below_src = relative(src_root, original);
      if (below_src.startsWith('..')) throw new Error(`build_client: ${map_file} names a source outside src/: ${original}`);
      const shipped = join(shipped_root, below_src);
      mkdirSync(dirname(shipped), { recursive: true });
      copyFileSync(original, shipped);
      return relative(dirname(map_file), shipped).split(sep).join('/');
    });
    map.sourceRoot = '';
    writeFileSync(map_file, JSON.stringify(map));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started_ms = Date.now();
  try {
    const files = build_client();
    const js = files.filter((f) => f.endsWith('.js'));
    const bytes = js.reduce((sum, f) => sum + statSync(f).size, 0);
    console.log(`build_client: ${files.length} files in src/client/dist (${js.length} .js, ${(bytes / 1024).toFixed(1)} KB unminified) in ${Date.now() - started_ms} ms`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
