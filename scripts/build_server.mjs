// The service and CLI as JavaScript: esbuild bundles src/bin/depthcast.ts
// (and everything of ours it imports) into dist/depthcast.js, with npm
// packages left external (uWS is native; the rest load from node_modules as
// they are), plus source maps so that stack traces name TypeScript lines
// (bin/depthcast.mjs turns source maps on; the maps carry no sources content:
// a stack trace needs only the mappings, and the maps are 4x smaller to write
// and to load). Code splitting: what the code imports dynamically (NATS only
// with --nats-url, jose only with access control, the recorder, …) goes into
// dist/chunks/ and is loaded only when used, so `npm start` does not pay for it.
// esbuild runs as its own binary (the CLI, not its JS API): nothing to load in
// this thread, which bin/depthcast.mjs keeps free to load the service's
// packages (service_packages) while the build runs.
// Cost: about 0.2 s of esbuild (cold, on its own process; ~0.1 s of it is
// esbuild's start); the staleness check is one stat per input listed in the
// last build's metafile (~150 files, ~2 ms).
//
// Usage: node scripts/build_server.mjs        (what `npm run build:server` runs)
// As a module: build_server(), server_build_stale(), service_packages for bin/depthcast.mjs.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const server_entry = join(root, 'src', 'bin', 'depthcast.ts');
const dist_dir = join(root, 'dist');
export const server_outfile = join(dist_dir, 'depthcast.js');
export const metafile_path = join(dist_dir, 'depthcast.meta.json');
/** Besides the inputs esbuild reports, a change here or to the dependencies means a new build. */
const build_inputs_extra = [fileURLToPath(import.meta.url), join(root, 'package.json'), join(root, 'tsconfig.json')];

/**
 * The npm packages the service imports on its way to /health 200 (`depthcast
 * all`): bin/depthcast.mjs loads them while esbuild builds, so the build's
 * time and theirs overlap. build.test checks this list against what the build
 * imports statically from src/bin/depthcast.ts and src/app.ts.
 */
export const service_packages = ['pino', 'uWebSockets.js', 'prom-client', 'hdr-histogram-js', 'flatbuffers'];

/** The build, as esbuild's command line (run from the repository root). */
const esbuild_args = [
  'src/bin/depthcast.ts', '--bundle', '--platform=node', '--format=esm', '--target=node20', '--packages=external',
  '--splitting', '--outdir=dist', '--entry-names=[name]', '--chunk-names=chunks/[name]-[hash]',
  // Paths in the map relative to dist/, so a stack trace reads src/feed/session.ts:123.
  '--sourcemap', '--source-root=', '--sources-content=false',
  `--metafile=${join('dist', 'depthcast.meta.json')}`, '--log-level=warning',
];

/**
 * esbuild's native binary: ESBUILD_BINARY_PATH (esbuild's own override), else
 * the platform package esbuild installs (@esbuild/linux-x64, …), else the
 * esbuild package's launcher.
 */
function esbuild_binary() {
  const override = process.env.ESBUILD_BINARY_PATH ?? '';
  if (override !== '') return override;
  const require = createRequire(import.meta.url);
  const platform_package = `@esbuild/${process.platform}-${process.arch}`;
  try {
    return require.resolve(process.platform === 'win32' ? `${platform_package}/esbuild.exe` : `${platform_package}/bin/esbuild`);
  } catch {
    return require.resolve('esbuild/bin/esbuild');
  }
}

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

/**
 * Builds dist/depthcast.js (+ .map, + metafile) in esbuild's own process, which
 * exits when done (nothing left running beside the service). esbuild's
 * messages go to stderr; rejects when the build fails.
 */
export function build_server() {
  // Chunks are named by their hash: old ones would pile up.
  rmSync(join(dist_dir, 'chunks'), { recursive: true, force: true });
  return new Promise((resolve, reject) => {
    const esbuild = spawn(esbuild_binary(), esbuild_args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    esbuild.once('error', (err) => reject(new Error(`cannot run esbuild: ${err.message}`, { cause: err })));
    esbuild.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`the build failed (esbuild exited with ${code ?? signal}; its messages are above)`));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started_ms = Date.now();
  await build_server();
  process.stderr.write(`built ${server_outfile} in ${Date.now() - started_ms} ms\n`);
}
