// The service and CLI as one JavaScript file: esbuild bundles
// src/bin/depthcast.ts (and everything of ours it imports) into
// dist/depthcast.js, with npm packages left external (uWS is native; the rest
// load from node_modules as they are), plus source maps so that stack traces
// name TypeScript lines (bin/depthcast.mjs turns source maps on). Code
// splitting: what the code imports dynamically (NATS only with --nats-url,
// jose only with access control, the recorder, …) goes into dist/chunks/ and
// is loaded only when used, so `npm start` does not pay for it.
// Cost: about 0.1–0.2 s of esbuild on this machine; the staleness check is one
// stat per input listed in the last build's metafile (~150 files, ~2 ms).
//
// Usage: node scripts/build_server.mjs        (what `npm run build:server` runs)
// As a module: build_server(), server_build_stale() for bin/depthcast.mjs.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const server_entry = join(root, 'src', 'bin', 'depthcast.ts');
const dist_dir = join(root, 'dist');
export const server_outfile = join(dist_dir, 'depthcast.js');
const metafile_path = join(root, 'dist', 'depthcast.meta.json');
/** Besides the inputs esbuild reports, a change here or to the dependencies means a new build. */
const build_inputs_extra = [fileURLToPath(import.meta.url), join(root, 'package.json'), join(root, 'tsconfig.json')];

function mtime_ms(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Why dist/ must be rebuilt ('' if it is current): missing, or an input of the
 * last build (or the build script, package.json, tsconfig.json) is newer than
 * it or gone. Without the sources (a deployment of dist/ alone) it is current.
 */
export function server_build_stale() {
  if (mtime_ms(server_entry) === undefined) return '';
  const built_ms = mtime_ms(server_outfile);
  if (built_ms === undefined) return 'no build yet';
  let inputs;
  try {
    inputs = Object.keys(JSON.parse(readFileSync(metafile_path, 'utf8')).inputs).map((p) => join(root, p));
  } catch {
    return 'no metafile from the last build';
  }
  for (const input of [...inputs, ...build_inputs_extra]) {
    const m = mtime_ms(input);
    if (m === undefined) return `${input} is gone`;
    if (m > built_ms) return `${input} changed`;
  }
  return '';
}

/** Builds dist/depthcast.js (+ .map, + metafile). Throws with esbuild's messages on an error. */
export async function build_server() {
  const esbuild = await import('esbuild');
  // Chunks are named by their hash: old ones would pile up.
  rmSync(join(dist_dir, 'chunks'), { recursive: true, force: true });
  try {
    const result = await esbuild.build({
      entryPoints: [server_entry],
      outdir: dist_dir,
      entryNames: '[name]',
      chunkNames: 'chunks/[name]-[hash]',
      splitting: true,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      sourcemap: true,
      // Paths in the map relative to dist/, so a stack trace reads src/feed/session.ts:123.
      sourceRoot: '',
      metafile: true,
      logLevel: 'warning',
      absWorkingDir: root,
    });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(metafile_path, JSON.stringify(result.metafile));
  } finally {
    // The esbuild service is a child process: never leave it running beside the service.
    await esbuild.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started_ms = Date.now();
  await build_server();
  process.stderr.write(`built ${server_outfile} in ${Date.now() - started_ms} ms\n`);
}
