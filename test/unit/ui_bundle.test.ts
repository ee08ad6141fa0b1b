// The page's in-memory bundle: one browser ES module with the SDK inside and
// nothing of the server in it; a build that fails yields a module that shows
// the error instead of taking the feed down.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build_ui_bundle, sdk_bundle_path, ui_bundle_path } from '../../src/server/ui_bundle.js';

const decoder = new TextDecoder();

describe('ui bundle', () => {
  it('bundles the page and the SDK into one module with a source map, and no server code', async () => {
    const bundle = await build_ui_bundle();
    const js = bundle.get(ui_bundle_path);
    const map = bundle.get(`${ui_bundle_path}.map`);
    expect(js?.content_type).toMatch(/^text\/javascript/);
    expect(map?.content_type).toBe('application/json');
    const code = decoder.decode(js!.body);
    expect(code.length).toBeGreaterThan(10_000);
    expect(code).not.toMatch(/from\s*["']node:|require\(["']node:/);
    const sources = (JSON.parse(decoder.decode(map!.body)) as { sources: string[] }).sources;
    // Paths are relative to src/ui, where the bundle would sit.
    expect(sources).toContain('main.ts');
    expect(sources.some((s) => s.endsWith('client/feed_client.ts'))).toBe(true);
    for (const banned of ['uWebSockets', 'pino', '@nats-io', '../server/', '../feed/', '../bus/', '../engine/']) {
      expect(sources.filter((s) => s.includes(banned)), banned).toEqual([]);
    }
  });

  it('bundles the SDK alone into one self-contained module that runs as is (no imports, no HDR histograms)', async () => {
    const bundle = await build_ui_bundle();
    const js = bundle.get(sdk_bundle_path);
    expect(js?.content_type).toMatch(/^text\/javascript/);
    // Imported below from a directory outside the repository (no node_modules to resolve from): self-contained.
    const sources = (JSON.parse(decoder.decode(bundle.get(`${sdk_bundle_path}.map`)!.body)) as { sources: string[] }).sources;
    expect(sources.some((s) => s.includes('node_modules/flatbuffers/'))).toBe(true);
    expect(sources.filter((s) => /hdr-histogram|pako|hop_histograms/.test(s))).toEqual([]);
    expect(sources).not.toContain('main.ts');
    const dir = mkdtempSync(join(tmpdir(), 'depthcast-sdk-bundle-'));
    try {
      const file = join(dir, 'depthcast.js');
      writeFileSync(file, js!.body);
      const sdk = await import(pathToFileURL(file).href) as typeof import('../../src/client/index.js');
      expect(typeof sdk.connect).toBe('function');
      expect(() => sdk.connect('http://x')).toThrow(/ws:\/\/ or wss:\/\//);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns a failed build into a module that reports it', async () => {
    const bundle = await build_ui_bundle('/nonexistent/depthcast/main.ts');
    const code = decoder.decode(bundle.get(ui_bundle_path)!.body);
    expect(code).toContain('the page could not be built on the server');
    expect(code).toContain('nonexistent');
  });
});
