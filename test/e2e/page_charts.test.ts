// The depth chart and the liquidity heatmap in Debian's Chromium, against a
// whole service in-process (engine + embedded bus + feed serving the page):
// the depth chart's steps are the SDK's book at the drawn version; the
// heatmap's newest column is the SDK's book bucketed, and its pixels are the
// viridis colour of those sizes; the image is painted incrementally (new
// columns only), not at all while the tab is hidden, and caught up on return;
// with 15,360 cells on screen the frame time stays within budget, read from
// the browser's own performance timeline (long animation frames). Saves
// artifacts/e2e/page_charts.png.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { empty_cell_rgb, scale_index, scale_steps, viridis_rgb } from '../../src/ui/canvas/colour_scale.js';
import { open_page_service, type PageService } from './page_service.js';

const symbols = ['BTC-USD', 'ETH-USD'];
const repo_root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const screenshot_path = join(repo_root, 'artifacts', 'e2e', 'page_charts.png');
const heatmap_ms = 25;
const heatmap_columns = 240;

interface Level { price: number; size: number }

function read_book_in_page(): string {
  // A function body evaluated in the page (kept as text so it runs in the same task as what it compares with).
  return `(view) => { const out = { price: 0, size: 0, orders: 0 }; const read = (side) => { const a = [];
    for (let r = 0; r < view.level_count(side); r++) { const l = view.level_at(side, r, out); a.push({ price: l.price, size: l.size }); } return a; };
    return { version: view.version, bids: read(0), asks: read(1) }; }`;
}

async function hook_ready(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const hook = window.__depthcast;
    return hook !== undefined && hook.model.view.state === 'synced' && hook.renderer.charts_drawn && hook.model.heatmap.count > 0;
  }, undefined, { timeout: 20_000 });
}

describe('depth chart and liquidity heatmap in Chromium', () => {
  let service: PageService | undefined;
  let page: Page;
  let page_errors: string[] = [];

  beforeAll(async () => {
    service = await open_page_service({ symbols, rate_orders_per_s: 2000 }, `/?symbol=BTC-USD&depth=50&heatmap_ms=${heatmap_ms}`, { width: 1440, height: 960 });
    page = service.browser.page;
    page_errors = service.errors;
    await hook_ready(page);
  });

  afterAll(async () => {
    await service?.close();
  });

  it('draws the depth chart as the SDK book at the same version', async () => {
    const got = await page.evaluate((reader) => new Promise<{ frame: { version: number; bids: { price: number; cum: number }[]; asks: { price: number; cum: number }[]; bid_count: number; ask_count: number }; book: { version: number; bids: Level[]; asks: Level[] } }>((resolve) => {
      const hook = window.__depthcast!;
      const read = (0, eval)(reader) as (v: unknown) => { version: number; bids: Level[]; asks: Level[] };
      hook.after_next_draw(() => {
        const f = hook.renderer.depth_chart.frame;
        resolve({
          frame: { version: f.version, bids: f.bids.slice(0, f.bid_count).map((p) => ({ ...p })), asks: f.asks.slice(0, f.ask_count).map((p) => ({ ...p })), bid_count: f.bid_count, ask_count: f.ask_count },
          book: read(hook.model.view),
        });
      });
    }), read_book_in_page());
    expect(got.frame.version).toBe(got.book.version);
    expect(got.book.bids.length).toBeGreaterThan(10);
    const cumulative = (levels: Level[]) => { let c = 0; return levels.map((l) => ({ price: l.price, cum: (c += l.size) })); };
    expect(got.frame.bids).toEqual(cumulative(got.book.bids));
    expect(got.frame.asks).toEqual(cumulative(got.book.asks));
    expect(got.frame.bids[0].price).toBeLessThan(got.frame.asks[0].price);
  });

  it("the heatmap's newest column is the SDK book bucketed, and its pixels are those sizes in viridis", async () => {
    const got = await page.evaluate((reader) => new Promise<{
      sizes: number[]; expected: number[]; pixels: number[][]; size_top: number; trade_rows: number[]; best_rows: number[]; tpr: number;
    }>((resolve) => {
      const hook = window.__depthcast!;
      const hm = hook.model.heatmap;
      const read = (0, eval)(reader) as (v: unknown) => { version: number; bids: Level[]; asks: Level[] };
      // Sample and read the book in one task: the column must be exactly this book.
      hook.model.sample_heatmap(Date.now());
      const index = hm.count - 1;
      const slot = index % hm.columns;
      const book = read(hook.model.view);
      const expected = new Array<number>(hm.rows).fill(0);
      for (const l of [...book.bids, ...book.asks]) {
        const r = Math.floor((l.price - hm.price_lo) / hm.ticks_per_row);
        if (r >= 0 && r < hm.rows) expected[r] += l.size;
      }
      const sizes = Array.from({ length: hm.rows }, (_, r) => hm.cell(slot, r));
      const trade_rows: number[] = [];
      for (let i = 0; i < hm.trade_counts[slot]; i++) trade_rows.push(Math.floor((hm.trades[slot * 48 + i * 3] - hm.price_lo) / hm.ticks_per_row));
      const best_rows = [hm.best_bid[slot], hm.best_ask[slot]].map((p) => Math.floor((p - hm.price_lo) / hm.ticks_per_row));
      hook.after_next_draw(() => {
        const panel = hook.renderer.heatmap;
        const image = panel.image!;
        const c = image.getContext('2d')!;
        const age = hm.count - 1 - index;
        // A column the page's own timer sampled after ours is painted after it, and its trade marks
        // (up to a row high, wider than a column) may reach into ours: their rows are not compared either.
        for (let a = 0; a < age; a++) {
          const s = hm.slot(a);
          for (let i = 0; i < hm.trade_counts[s]; i++) trade_rows.push(Math.floor((hm.trades[s * 48 + i * 3] - hm.price_lo) / hm.ticks_per_row));
        }
        const x = image.width - (age + 1) * panel.frame.column_px + Math.floor(panel.frame.column_px / 2);
        const pixels = sizes.map((_, r) => Array.from(c.getImageData(x, Math.floor(image.height - (r + 0.5) * panel.frame.row_px), 1, 1).data.slice(0, 3)));
        resolve({ sizes, expected, pixels, size_top: panel.frame.size_top, trade_rows, best_rows, tpr: hm.ticks_per_row });
      });
    }), read_book_in_page());
    expect(got.sizes).toEqual(got.expected);
    expect(got.sizes.filter((s) => s > 0).length).toBeGreaterThan(10);
    let compared = 0;
    for (let r = 0; r < got.sizes.length; r++) {
      // Marks (the best bid/ask lines, trades) are drawn over their rows.
      if ([...got.trade_rows, ...got.best_rows].some((m) => Math.abs(m - r) <= 2)) continue;
      const want = got.sizes[r] > 0 ? viridis_rgb(scale_index(got.sizes[r], got.size_top) / (scale_steps - 1)) : [...empty_cell_rgb];
      expect(got.pixels[r], `row ${r} size ${got.sizes[r]}`).toEqual(want);
      compared++;
    }
    expect(compared).toBeGreaterThan(30);
  });

  it('the grouping selector shows the grouped view: ladder and depth chart are its buckets, as the SDK holds them', async () => {
    await page.click('#group button:text-is("10")');
    await page.waitForFunction(() => {
      const hook = window.__depthcast!;
      return hook.model.view.group === 10 && hook.model.view.state === 'synced' && (hook.rendered_rows()?.bids.length ?? 0) > 0;
    }, undefined, { timeout: 20_000 });
    const got = await page.evaluate((reader) => new Promise<{ url: string; pressed: string | null; ladder: number[]; chart: number[]; book: { version: number; bids: Level[] }; frame_version: number }>((resolve) => {
      const hook = window.__depthcast!;
      const read = (0, eval)(reader) as (v: unknown) => { version: number; bids: Level[]; asks: Level[] };
      hook.after_next_draw((frame) => {
        const chart = hook.renderer.depth_chart.frame;
        resolve({
          url: location.search, pressed: document.querySelector('#group button[aria-pressed="true"]')?.textContent ?? null,
          ladder: frame.bids.map((l) => l.price), chart: chart.bids.slice(0, chart.bid_count).map((p) => p.price),
          book: read(hook.model.view), frame_version: frame.version,
        });
      });
    }), read_book_in_page());
    expect(got.url).toContain('group=10');
    expect(got.pressed).toBe('10');
    expect(got.frame_version).toBe(got.book.version);
    expect(got.ladder.length).toBeGreaterThan(3);
    for (const p of [...got.ladder, ...got.chart]) expect(p % 10).toBe(0);
    expect(got.chart).toEqual(got.book.bids.map((l) => l.price));
    expect(got.ladder).toEqual(got.book.bids.slice(0, got.ladder.length).map((l) => l.price));
    await page.click('#group button:text-is("1")');
    await page.waitForFunction(() => window.__depthcast!.model.view.group === 1 && window.__depthcast!.model.view.state === 'synced', undefined, { timeout: 20_000 });
  });

  it('paints new columns only, none while hidden, the missed ones on return; 15,360 cells within the frame budget', async () => {
    // The window fills up: 240 columns of 64 rows.
    await page.waitForFunction((n) => window.__depthcast!.model.heatmap.count >= n, heatmap_columns, { timeout: 30_000 });
    await page.evaluate(() => {
      (window as unknown as { __loaf: number[] }).__loaf = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) (window as unknown as { __loaf: number[] }).__loaf.push(e.duration);
      }).observe({ type: 'long-animation-frame', buffered: false });
    });
    const counters = () => page.evaluate(() => {
      const hook = window.__depthcast!;
      const f = hook.renderer.heatmap.frame;
      return { sampled: hook.model.heatmap.count, painted: f.painted_total, full: f.full_repaints, draws: hook.scheduler.draws, layout: hook.model.heatmap.layout_version };
    });
    const a = await counters();
    await new Promise((r) => setTimeout(r, 3000));
    const b = await counters();
    const perf = await page.evaluate(() => {
      const f = window.__depthcast!.renderer.heatmap.frame;
      return { durations: window.__depthcast!.draw_durations(), paints: Array.from(f.incremental_paint_ms.subarray(0, Math.min(f.incremental_paints, f.incremental_paint_ms.length))), loaf: (window as unknown as { __loaf: number[] }).__loaf };
    });
    // Incremental: the painted columns are the sampled ones, plus whole repaints only when the layout moved.
    const sampled = b.sampled - a.sampled;
    expect(sampled).toBeGreaterThan(50);
    expect(b.draws - a.draws).toBeGreaterThan(20);
    expect(b.full - a.full).toBeLessThanOrEqual(b.layout - a.layout + 1);
    // +1: a column may be painted between the two counter reads (seen once in CI: 115 vs 114).
    expect(b.painted - a.painted).toBeLessThanOrEqual(sampled + 1 + (b.full - a.full) * heatmap_columns);
    // Frame budget. The heatmap's own work per frame (scroll + the new columns, 64 buckets each; the canvas
    // may raster it later, at the drawImage that takes it, which the whole draw includes) is a sliver of a
    // 60 Hz frame; the whole draw's median fits in one; and the browser's own timeline (Long Animation
    // Frames) shows no stall of 200 ms or more. (2 shared cores: the service, this Chromium and other test
    // files run beside it, so these are guards, not a benchmark: quiet, incremental paints measured
    // p50 0.1 ms / p95 0.2 ms and no long animation frame at all.)
    const draws = [...perf.durations].sort((x, y) => x - y);
    expect(draws[draws.length >> 1], JSON.stringify(draws)).toBeLessThan(16);
    const paints = [...perf.paints].sort((x, y) => x - y);
    expect(paints.length).toBeGreaterThan(20);
    expect(paints[Math.floor(paints.length * 0.95)], JSON.stringify(paints)).toBeLessThan(4);
    expect(perf.loaf.filter((d) => d >= 200)).toEqual([]);

    // Hidden: the model keeps sampling, nothing is painted; on return one draw paints what was missed.
    await page.evaluate(() => {
      let hidden = false;
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
      (window as unknown as { __hide: (h: boolean) => void }).__hide = (h) => { hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
      (window as unknown as { __hide: (h: boolean) => void }).__hide(true);
    });
    const h0 = await counters();
    await new Promise((r) => setTimeout(r, 1000));
    const h1 = await counters();
    expect(h1.sampled - h0.sampled).toBeGreaterThan(10);
    expect(h1.painted).toBe(h0.painted);
    expect(h1.draws).toBe(h0.draws);
    const back = await page.evaluate(() => new Promise<{ painted_columns: number; full: boolean; missed: number }>((resolve) => {
      const hook = window.__depthcast!;
      const before = hook.renderer.heatmap.frame.painted_total;
      (window as unknown as { __hide: (h: boolean) => void }).__hide(false);
      hook.after_next_draw(() => {
        const f = hook.renderer.heatmap.frame;
        resolve({ painted_columns: f.painted_columns, full: f.full_repaint, missed: f.painted_total - before });
      });
    }));
    expect(back.painted_columns).toBeGreaterThan(10);
    expect(back.missed).toBe(back.painted_columns);

    // A crosshair with its tooltip, for the screenshot.
    const plot = await page.evaluate(() => window.__depthcast!.renderer.heatmap.frame.plot);
    await page.mouse.move(plot.x + plot.w * 0.7, plot.y + plot.h * 0.5);
    await new Promise((r) => setTimeout(r, 200));
    mkdirSync(dirname(screenshot_path), { recursive: true });
    await page.screenshot({ path: screenshot_path });
    expect(page_errors).toEqual([]);
  });
});
