// Builds the SDK package (src/client, npm name `depthcast`) into src/client/dist:
// a clean dist, then tsc with src/client/tsconfig.build.json (ESM JavaScript,
// .d.ts and declaration maps, one file per source file; the wire codec, book
// verification and helpers the SDK imports are compiled beside it). About 5 s
// of one core. Prints what it wrote.
//
// Usage: node scripts/build_client.mjs   (npm run build:client; npm pack of the package runs it too)
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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
  const run = spawnSync(process.execPath, [tsc, '-p', join(package_dir, 'tsconfig.build.json')], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`build_client: tsc failed\n${run.stdout}${run.stderr}`);
  return files_under(dist_dir);
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
