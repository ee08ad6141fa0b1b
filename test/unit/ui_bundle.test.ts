// The page's in-memory bundle: one browser ES module with the SDK inside and
// nothing of the server in it; a build that fails yields a module that shows
// the error instead of taking the feed down.
import { describe, expect, it } from 'vitest';
import { build_ui_bundle, ui_bundle_path } from '../../src/server/ui_bundle.js';

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

  it('turns a failed build into a module that reports it', async () => {
    const bundle = await build_ui_bundle('/nonexistent/depthcast/main.ts');
    const code = decoder.decode(bundle.get(ui_bundle_path)!.body);
    expect(code).toContain('the page could not be built on the server');
    expect(code).toContain('nonexistent');
  });
});
