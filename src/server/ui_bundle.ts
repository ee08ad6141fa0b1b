// Bundles the trading page (src/ui/main.ts and the SDK it imports) into one
// ES module, in memory, when the server starts: nothing generated lands in
// the repository, and `npm start` on a fresh clone serves a working page with
// no build step. Takes a few hundred ms once per process (the result is
// shared by every server the process starts).
//
// A build that fails must not take the feed down: the page then gets a module
// that shows the build error instead of a blank screen, and the log says why.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
 * is done; false for any other path, which the caller serves. The first
 * request can come in while the build still runs: it waits for it.
 */
export function serve_ui_bundle(res: HttpResponse, url: string, bundle: Promise<UiBundle>): boolean {
  if (url !== ui_bundle_path && url !== `${ui_bundle_path}.map`) return false;
  let aborted = false;
  res.onAborted(() => { aborted = true; });
  void bundle.then((assets) => {
    if (aborted) return;
    const asset = assets.get(url);
    res.cork(() => {
      if (asset === undefined) res.writeStatus('404 Not Found').end('not found');
      else res.writeStatus('200 OK').writeHeader('content-type', asset.content_type).writeHeader('cache-control', 'no-cache').end(asset.body);
    });
  });
  return true;
}

/** Builds the bundle now (no sharing). Never rejects: a failed build yields a module that reports it. */
export async function build_ui_bundle(entry: string = ui_entry): Promise<UiBundle> {
  const started_ms = Date.now();
  builds_in_flight++;
  try {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      minify: true,
      sourcemap: 'external',
      legalComments: 'none',
      // Never written (write: false); it anchors the paths inside the source map.
      outfile: join(dirname(entry), 'main.js'),
      write: false,
      logLevel: 'silent',
    });
    const assets = new Map<string, UiAsset>();
    for (const file of result.outputFiles) {
      const is_map = file.path.endsWith('.map');
      assets.set(is_map ? `${ui_bundle_path}.map` : ui_bundle_path, { body: file.contents, content_type: is_map ? 'application/json' : js_type });
    }
    log.info({ entry, bytes: assets.get(ui_bundle_path)?.body.byteLength ?? 0, ms: Date.now() - started_ms }, 'page bundled');
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
