// Bundles the trading page (src/ui/main.ts and the SDK it imports as
// `depthcast/client`) into one ES module, and the SDK alone into another
// (/sdk/depthcast.js: the package's `depthcast/client` entry with flatbuffers
// inside, for a plain <script type="module"> with no build step), in memory,
// when the server starts: nothing generated lands in the repository, and
// `npm start` on a fresh clone serves both with no build step. Takes a few
// hundred ms once per process (the result is shared by every server the
// process starts).
//
// A build that fails must not take the feed down: the page then gets a module
// that shows the build error instead of a blank screen, and the log says why.
import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logger_for } from '../util/log.js';
import type { HttpResponse } from './uws.js';

const log = logger_for('ui_bundle');

export interface UiAsset {
  body: Uint8Array;
  content_type: string;
}

/** URL path (e.g. "/main.js") → asset. */
export type UiBundle = ReadonlyMap<string, UiAsset>;

/**
 * src/ui of the checkout this code runs from: the nearest ancestor holding it, so the
 * same code finds it from src/server (tsx) and from dist/ (the build, scripts/build_server.mjs).
 */
export const ui_dir = find_ui_dir(dirname(fileURLToPath(import.meta.url)));

function find_ui_dir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'src', 'ui');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) return join(from, '..', 'ui');
  }
}
export const ui_entry = join(ui_dir, 'main.ts');
export const ui_bundle_path = '/main.js';
/** The SDK's entry (the package's `depthcast/client`), served whole as one ES module. */
export const sdk_entry = join(ui_dir, '..', 'client', 'index.ts');
/** Where the feed serves the SDK bundle: a stable path (docs/SDK.md, examples/vanilla). */
export const sdk_bundle_path = '/sdk/depthcast.js';
const served_paths: ReadonlySet<string> = new Set([ui_bundle_path, `${ui_bundle_path}.map`, sdk_bundle_path, `${sdk_bundle_path}.map`]);

const js_type = 'text/javascript; charset=utf-8';
const utf8 = new TextEncoder();
let shared: Promise<UiBundle> | null = null;

/** The page's bundle, built on first use and then shared. Never rejects. */
export function ui_bundle(): Promise<UiBundle> {
  shared ??= build_ui_bundle();
  return shared;
}

/**
 * Answers a request for the bundle (main.js or its source map) once the build
 * is done (`get_bundle` starts it if it has not started yet); false for any other path, which the caller serves. The first
 * request can come in while the build still runs: it waits for it.
 */
export function serve_ui_bundle(res: HttpResponse, url: string, get_bundle: () => Promise<UiBundle>): boolean {
  if (!served_paths.has(url)) return false;
  const bundle = get_bundle();
  let aborted = false;
  res.onAborted(() => { aborted = true; });
  void bundle.then((assets) => {
    if (aborted) return;
    const asset = assets.get(url);
    res.cork(() => {
      if (asset === undefined) res.writeStatus('404 Not Found').end('not found');
      else {
        // The SDK bundle may be imported from a page on another origin (examples, a UI served elsewhere).
        if (url.startsWith('/sdk/')) res.writeHeader('access-control-allow-origin', '*');
        res.writeStatus('200 OK').writeHeader('content-type', asset.content_type).writeHeader('cache-control', 'no-cache').end(asset.body);
      }
    });
  });
  return true;
}

/** Builds both bundles now (no sharing). Never rejects: a failed build yields a page module that reports it. */
export async function build_ui_bundle(entry: string = ui_entry): Promise<UiBundle> {
  const started_ms = Date.now();
  builds_in_flight++;
  try {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      // Output names are the served paths (less .js), relative to src/ui.
      entryPoints: { [ui_bundle_path.slice(1, -3)]: entry, [sdk_bundle_path.slice(1, -3)]: sdk_entry },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      minify: true,
      sourcemap: 'external',
      legalComments: 'none',
      // Never written (write: false); it anchors the paths inside the source maps.
      outdir: dirname(entry),
      write: false,
      logLevel: 'silent',
    });
    const assets = new Map<string, UiAsset>();
    for (const file of result.outputFiles) {
      const path = `/${relative(dirname(entry), file.path).split(sep).join('/')}`;
      assets.set(path, { body: file.contents, content_type: path.endsWith('.map') ? 'application/json' : js_type });
    }
    log.info({ entry, bytes: assets.get(ui_bundle_path)?.body.byteLength ?? 0, sdk_bytes: assets.get(sdk_bundle_path)?.body.byteLength ?? 0, ms: Date.now() - started_ms }, 'page and SDK bundled');
    return assets;
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    log.error({ entry, err: message }, 'cannot bundle the page; it will show this error');
    const script = `document.body.textContent = ${JSON.stringify(`depthcast: the page could not be built on the server:\n${message}`)};`
      + 'document.body.style.cssText = "white-space:pre-wrap;color:#ff5f6d;background:#090c11;font:13px monospace;padding:24px";';
    return new Map([[ui_bundle_path, { body: utf8.encode(script), content_type: js_type }]]);
  } finally {
    // esbuild runs as a child process (~20 MB RSS) that would stay for the life of the service: stop it after the last build.
    if (--builds_in_flight === 0) await import('esbuild').then((e) => e.stop(), () => undefined);
  }
}

let builds_in_flight = 0;
