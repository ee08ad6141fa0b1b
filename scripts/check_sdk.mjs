// The SDK package's CI check (issue 21): builds src/client/dist, then
//   size     `depthcast/client` bundled for a browser (esbuild, minified) with
//            everything it exports kept, gzipped: must stay <= core_gzip_bytes_max;
//            the number is printed every run.
//   opt-in   a page that imports only `connect` carries no HDR histograms
//            (hdr-histogram-js, pako): the latency entry tree-shakes away.
//   publint  package.json, exports and files are consistent (strict).
//   attw     the types resolve as the JavaScript does for every ESM consumer
//            (node16 ESM, bundler); CommonJS is not offered (ESM only).
//   api      the public API of each entry (api-extractor, from dist's .d.ts)
//            equals its committed report, src/client/api/*.api.md: a change to
//            the API fails here until the report is updated and reviewed.
//   typedoc  the API reference (docs/api, not committed) builds with warnings
//            as errors (src/client/typedoc.json).
// Offline after npm ci: every tool is a devDependency. About 25 s of one core.
//
// Usage: node scripts/check_sdk.mjs [--skip-build] [--update-api] [--api-only]   (npm run check:sdk; exit 1 on any failure)
//   --update-api rewrites the API reports (npm run api:update); commit them with the change.
//   --api-only   builds and compares the API reports only (~8 s): `npm run lint` runs it, so a change to the
//                SDK's API is seen before it is merged, not first in CI.
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build_client, package_dir, repo_root } from './build_client.mjs';

/** The core client's budget, minified and gzipped (issue 21: 25 KB). */
export const core_gzip_bytes_max = 25 * 1024;

/** Bundles `source` (an ES module importing the package by name) for a browser; returns its bytes and inputs. */
export async function browser_bundle(source) {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    stdin: { contents: source, resolveDir: repo_root, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    // Resolve `depthcast/client` as a consumer does (node_modules/depthcast → its exports → dist), not via the
    // repository's tsconfig paths to the sources.
    tsconfigRaw: {},
  });
  const code = result.outputFiles[0].contents;
  return { bytes: code.byteLength, gzip_bytes: gzipSync(code, { level: 9 }).byteLength, inputs: Object.keys(result.metafile.inputs) };
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

/** Runs a devDependency's command (node_modules/.bin); prints its output when it fails. */
function run_tool(name, bin, args) {
  const run = spawnSync(join(repo_root, 'node_modules', '.bin', bin), args, { cwd: repo_root, encoding: 'utf8' });
  const out = `${run.stdout}${run.stderr}`.trim();
  console.log(`check_sdk: ${name}: ${run.status === 0 ? 'ok' : 'FAILED'}`);
  if (run.status !== 0 || process.env.CHECK_SDK_VERBOSE) console.log(out.replace(/^/gm, '  '));
  return run.status === 0;
}

async function main() {
  const failures = [];
  if (!process.argv.includes('--skip-build')) build_client();
  const dir = relative(repo_root, package_dir);
  const update = process.argv.includes('--update-api');
  const api_only = process.argv.includes('--api-only');
  for (const entry of ['client', 'latency', 'node']) {
    const config = join(dir, 'api', `extractor.${entry}.json`);
    if (!run_tool(`api report (${entry})`, 'api-extractor', ['run', '-c', config, ...(update ? ['--local'] : [])])) {
      failures.push(`api report (${entry}): the SDK's public API changed; review the difference, then npm run api:update and commit src/client/api/`);
    }
  }
  if (api_only) return failures;

  const core = await browser_bundle("export * from 'depthcast/client';");
  const within = core.gzip_bytes <= core_gzip_bytes_max;
  console.log(`check_sdk: size: depthcast/client (all exports) ${kb(core.bytes)} minified, ${kb(core.gzip_bytes)} min+gz `
    + `(budget ${kb(core_gzip_bytes_max)}): ${within ? 'ok' : 'OVER BUDGET'}`);
  if (!within) failures.push('size');
  const latency = await browser_bundle("export * from 'depthcast/client'; export * from 'depthcast/client/latency';");
  console.log(`check_sdk: size: with depthcast/client/latency ${kb(latency.bytes)} minified, ${kb(latency.gzip_bytes)} min+gz (opt-in)`);

  const page = await browser_bundle("import { connect } from 'depthcast/client'; globalThis.c = connect;");
  const heavy = page.inputs.filter((i) => /hdr-histogram-js|pako|hop_histograms/.test(i));
  const through_dist = page.inputs.some((i) => i.includes('src/client/dist/client/feed_client.js'));
  console.log(`check_sdk: opt-in: a page importing connect only: ${kb(page.gzip_bytes)} min+gz, `
    + `${heavy.length === 0 && through_dist ? 'no HDR histograms: ok' : `FAILED (${heavy.length ? heavy.join(', ') : 'not resolved through the package exports'})`}`);
  if (heavy.length > 0 || !through_dist) failures.push('opt-in');

  if (!run_tool('publint', 'publint', ['run', dir, '--strict'])) failures.push('publint');
  if (!run_tool('attw', 'attw', ['--pack', dir, '--profile', 'esm-only', '--format', 'table-flipped'])) failures.push('attw');

  if (!run_tool('typedoc', 'typedoc', ['--options', join(dir, 'typedoc.json'), '--logLevel', 'Warn'])) failures.push('typedoc');

  return failures;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const failures = await main();
  if (failures.length) {
    console.error(`check_sdk: FAILED: ${failures.join('; ')}`);
    process.exit(1);
  }
  console.log('check_sdk: ok');
}
