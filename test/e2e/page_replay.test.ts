// The page on a replay, in Debian's Chromium: a recording of a live engine
// (recorded in-process) replayed at 2× into a feed serving the page. The
// header says REPLAY, the speed and a replayed time inside the recording;
// the ladder, the depth chart and the heatmap draw the replayed book.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { start_feed_service, type FeedService } from '../../src/app.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { start_engine } from '../../src/engine/engine.js';
import { start_recorder } from '../../src/record/recorder.js';
import { start_replay, type ReplayHandle } from '../../src/record/replay.js';
import { sleep, test_config } from '../helpers/service.js';
import { launch_chromium, type Browser } from './chromium.js';

const symbols = ['BTC-USD', 'ETH-USD'];
const dir = mkdtempSync(join(tmpdir(), 'dcrec-page-'));
let browser: Browser | undefined;
let feed: FeedService | undefined;
let replay: ReplayHandle | undefined;

afterAll(async () => {
  await browser?.close();
  await replay?.stop();
  await feed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the page on a replay', () => {
  it('says REPLAY with the speed and the replayed time, and draws the replayed book', async () => {
    const config = test_config({ ui: true, symbols, rate_orders_per_s: 2000, recording_dir: dir, engine_heartbeat_interval_ms: 200 });
    const live_bus = new MemoryBus();
    const recorder = start_recorder(config, live_bus);
    const engine = await start_engine(config, live_bus);
    const recorded_from_ms = Date.now();
    await sleep(4000);
    await engine.stop();
    await recorder.stop();
    const recorded_to_ms = Date.now();

    const bus = new MemoryBus();
    replay = start_replay({ recording_dir: dir, subject_prefix: config.subject_prefix, speed: 2, loop: true, chunk_events_max: 4096, heartbeat_interval_ms: 200 }, bus);
    feed = await start_feed_service(config, bus);
    void replay.play();
    browser = await launch_chromium({ width: 1440, height: 960 });
    const page = browser.page;
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://127.0.0.1:${feed.server.port}/?symbol=BTC-USD&heatmap_ms=50`);
    await page.waitForFunction(() => {
      const hook = window.__depthcast;
      return hook !== undefined && hook.model.view.state === 'synced' && hook.model.heatmap.count > 10 && hook.replay.status !== null;
    }, undefined, { timeout: 30_000 });
    const shown = await page.evaluate(() => ({
      badge: document.getElementById('replay')!.textContent ?? '',
      hidden: document.getElementById('replay')!.hidden,
      tag: document.querySelector('.brand .tag')!.textContent,
      replayed_ms: window.__depthcast!.replay.status!.replayed_time_ms,
      depth_points: window.__depthcast!.renderer.depth_chart.frame.bid_count,
      ladder_rows: window.__depthcast!.rendered_rows()?.bids.length ?? 0,
    }));
    expect(shown.hidden).toBe(false);
    expect(shown.badge).toMatch(/^REPLAY 2× · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC/);
    expect(shown.tag).toBe('replay');
    expect(shown.replayed_ms).toBeGreaterThanOrEqual(recorded_from_ms);
    expect(shown.replayed_ms).toBeLessThanOrEqual(recorded_to_ms);
    expect(shown.depth_points).toBeGreaterThan(3);
    expect(shown.ladder_rows).toBeGreaterThan(3);
    expect(errors).toEqual([]);
  });
});
