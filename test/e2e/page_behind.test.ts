// A page whose main thread is blocked for 5 s, in Debian's Chromium against
// the whole service in-process. The browser's network thread keeps reading
// (and answering pings) while the page cannot run; what bounds its backlog is
// the SDK's Ack frames (bytes the page has processed): the server stops
// streaming and conflates. After the block the page must show BEHIND (not
// SYNCED) while its book is old, process at most the bounded backlog, then a
// catch-up, and be live again within a second or two of having processed
// that backlog (which a loaded machine's renderer may take longer for).
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';
import { LoopLagMeter } from '../../loadgen/loop_lag.js';
import { launch_chromium, type Browser } from './chromium.js';

interface Drawn {
  at: number;
  label: string;
  staleness_ms: number;
}

interface Processed {
  at: number;
  kind: string;
  conflated: boolean;
  bytes: number;
}

declare global {
  interface Window {
    __drawn?: Drawn[];
    __processed?: Processed[];
  }
}

describe('a page whose main thread is blocked', () => {
  let all: AllInOne;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    all = await start_all(test_config({ ui: true, symbols: ['BTC-USD', 'ETH-USD'], rate_orders_per_s: 2000 }));
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
    browser = await launch_chromium();
    page = browser.page;
    await page.goto(`http://127.0.0.1:${all.feed_service.server.port}/?symbol=BTC-USD&depth=0`);
  });

  afterAll(async () => {
    await browser?.close();
    await all?.stop();
  });

  it('resumes with a catch-up, not seconds of backlog, and says BEHIND while it is', async () => {
    await page.waitForFunction(() => window.__depthcast?.model.view.state === 'synced', undefined, { timeout: 20_000 });
    // Record every draw's state pill and every update the page processed (time, kind, bytes so far).
    await page.evaluate(() => {
      const hook = window.__depthcast!;
      const drawn: Drawn[] = (window.__drawn = []);
      const processed: Processed[] = (window.__processed = []);
      const again = () => hook.after_next_draw((f) => {
        drawn.push({ at: Date.now(), label: f.state_label, staleness_ms: f.staleness_ms });
        again();
      });
      again();
      hook.client.on('update', (_book, info) => {
        processed.push({ at: Date.now(), kind: info.kind, conflated: info.conflated, bytes: hook.client.counters.bytes });
      });
    });
    await sleep(3000);
    const before = await page.evaluate(() => {
      const p = window.__processed!;
      const d = window.__drawn!;
      return { first: p[0], last: p[p.length - 1], labels: [...new Set(d.map((x) => x.label))], acks: window.__depthcast!.client.acks_sent };
    });
    const stream_bytes_per_s = ((before.last.bytes - before.first.bytes) * 1000) / (before.last.at - before.first.at);
    expect(before.labels).toEqual(['SYNCED']);
    expect(before.acks).toBeGreaterThan(0);

    const loop = new LoopLagMeter(); // this process (the feed) while the page is blocked and catches up
    const blocked_until = await page.evaluate(() => {
      const end = Date.now() + 5000;
      while (Date.now() < end) { /* the page's main thread is busy */ }
      return end;
    });
    await page.waitForFunction((t) => {
      const d = window.__drawn!;
      const last = d[d.length - 1];
      return last.at > t + 500 && last.label === 'SYNCED' && last.staleness_ms < 1000;
    }, blocked_until, { timeout: 30_000 }); // a hang guard: the bound is asserted below
    const feed_stall_ms = Math.round(loop.total_ms);
    loop.stop();
    await sleep(500);

    const after = await page.evaluate((t) => ({
      drawn: window.__drawn!.filter((x) => x.at >= t),
      processed: window.__processed!.filter((x) => x.at >= t),
      bytes_at_unblock: window.__processed!.filter((x) => x.at < t).pop()?.bytes ?? 0,
      counters: { ...window.__depthcast!.client.counters },
    }), blocked_until);
    // It said BEHIND while its book was old, then SYNCED again.
    expect(after.drawn[0].label).toMatch(/^BEHIND/);
    expect(after.drawn[0].staleness_ms).toBeGreaterThan(3000);
    const synced_at = after.drawn.find((x) => x.label === 'SYNCED' && x.staleness_ms < 1000)!.at;
    // What it processed after the block: the bounded backlog, then a catch-up (conflated), then the stream.
    const first_catch_up = after.processed.findIndex((x) => x.conflated || x.kind === 'snapshot');
    expect(first_catch_up).toBeGreaterThanOrEqual(0);
    const backlog_bytes = (first_catch_up === 0 ? after.bytes_at_unblock : after.processed[first_catch_up - 1].bytes) - after.bytes_at_unblock;
    // Synced again takes the page's part (processing the bounded backlog, at the pace of a loaded machine's
    // renderer) and the feed's (its Acks say it is done; one catch-up; the next draw). The feed's part is bounded,
    // plus however long this process (the feed) was measurably held up; the page's is reported.
    const backlog_done_at = first_catch_up === 0 ? blocked_until : after.processed[first_catch_up - 1].at;
    const summary = JSON.stringify({
      stream_bytes_per_s: Math.round(stream_bytes_per_s), backlog_bytes, frames_after: after.processed.length,
      synced_after_ms: synced_at - blocked_until, backlog_done_after_ms: backlog_done_at - blocked_until, feed_stall_ms,
    });
    process.stdout.write(`page behind: ${summary}\n`);
    expect(synced_at - backlog_done_at, summary).toBeLessThan(2000 + feed_stall_ms);
    // Five seconds of this stream would be 5 x stream_bytes_per_s. What the server guarantees is the
    // in-flight ceiling (in_flight_bytes_max, plus the flush that crossed it); the lag gate usually stops it
    // sooner, at about 0.75 s of stream, but not always for a page (its pongs come from the browser's
    // network thread, only its Acks lag): seen at 1.0-1.3 s of stream here, left open on issue 10.
    const in_flight_bytes_max = test_config().in_flight_bytes_max; // the service runs with the default
    expect(backlog_bytes, summary).toBeLessThan(Math.max(stream_bytes_per_s, in_flight_bytes_max + 16 * 1024));
    expect(backlog_bytes, summary).toBeLessThan(2 * stream_bytes_per_s);
    expect(after.counters.digest_mismatches).toBe(0);
    expect(after.counters.range_breaks).toBe(0);
    expect(after.counters.crossed_books).toBe(0);
  }, 60_000);
});
