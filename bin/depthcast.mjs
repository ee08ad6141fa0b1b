#!/usr/bin/env node
// The `depthcast` command: runs the build (dist/depthcast.js) in this very
// process, with source maps on so that logged stack traces name TypeScript
// lines. In a clone it first rebuilds when the sources changed since the last
// build (scripts/build_server.mjs; ~0.2 s), so `npm start` on a fresh clone
// builds once and then starts straight away. No tsx, no second Node process.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build_script = join(root, 'scripts', 'build_server.mjs');
const built = join(root, 'dist', 'depthcast.js');

if (existsSync(build_script)) {
  const { build_server, server_build_stale } = await import(pathToFileURL(build_script).href);
  const why = server_build_stale();
  if (why !== '') {
    const started_ms = Date.now();
    await build_server();
    process.stderr.write(`depthcast: built dist/ in ${Date.now() - started_ms} ms (${why})\n`);
  }
} else if (!existsSync(built)) {
  process.stderr.write(`depthcast: ${built} is missing: run 'npm run build' first\n`);
  process.exit(2);
}
process.setSourceMapsEnabled(true);
await import(pathToFileURL(built).href);
