#!/usr/bin/env node
// The `depthcast` command: runs the build (dist/depthcast.js) in this very
// process, with source maps on so that logged stack traces name TypeScript
// lines. In a clone it first rebuilds when the sources changed since the last
// build (scripts/build_server.mjs), so `npm start` on a fresh clone builds
// once and then starts straight away. No tsx, no second Node process (esbuild
// is its own short-lived native process while it builds).
// Cost of a build on the way to /health: esbuild's ~0.2 s runs beside this
// thread, which meanwhile loads the service's npm packages (~0.15 s of module
// loading it would otherwise do after the build), so the two overlap.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build_script = join(root, 'scripts', 'build_server.mjs');
const built = join(root, 'dist', 'depthcast.js');

if (existsSync(build_script)) {
  const { build_server, server_build_stale, service_packages } = await import(pathToFileURL(build_script).href);
  const why = server_build_stale();
  if (why !== '') {
    const started_ms = Date.now();
    const building = build_server();
    // The same module instances the build will import (resolved from this
    // repository's node_modules). A package that fails to load here fails
    // again, with its real error, when the service imports it.
    for (const name of service_packages) await import(name).catch(() => undefined);
    await building;
    process.stderr.write(`depthcast: built dist/ in ${Date.now() - started_ms} ms (${why})\n`);
  }
} else if (!existsSync(built)) {
  process.stderr.write(`depthcast: ${built} is missing: run 'npm run build' first\n`);
  process.exit(2);
}
process.setSourceMapsEnabled(true);
await import(pathToFileURL(built).href);
