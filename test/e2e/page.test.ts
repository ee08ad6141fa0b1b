// The trading page in Debian's Chromium against a whole service in-process
// (engine + embedded bus + feed serving the page at /). Checks what a user
// sees: the page loads and turns synced; the ladder the canvas drew is the
// SDK's book at the same version, and, with the engine paused, the engine's
// own book; a hidden tab does no drawing work and catches up in one draw; the
// symbol picker and the conflation marker work. Saves artifacts/e2e/page.png.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllInOne } from '../../src/app.js';
import type { Side } from '../../src/book/types.js';
import { DecimalFormat } from '../../src/client/index.js';
import { instrument_spec } from '../../src/engine/instruments.js';
import type { RenderedFrame } from '../../src/ui/renderer.js';
import { wait_for } from '../helpers/service.js';
import { open_page_service, type PageService } from './page_service.js';

const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'];
const repo_root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const screenshot_path = join(repo_root, 'artifacts', 'e2e', 'page.png');

interface Level {
  price: number;
  size: number;
  orders: number;
}

/** The drawn ladder and the SDK's book, read in the same task right after a draw. */
interface DrawSample {
  frame: RenderedFrame;
  book: { symbol: string; version: number; seq: number; epoch: number; state: string; bids: Level[]; asks: Level[]; bid_count: number; ask_count: number };
}

/** Counters the test installs in the page to see what it does while hidden. */
interface Probe {
  raf_calls: number;
  mutations: number;
  set_hidden(hidden: boolean): void;
}

declare global {
  interface Window {
    __probe?: Probe;
  }
}

/** Resolves right after the page's next draw with what it drew and the SDK's book at that moment. */
function sample_after_draw(page: Page): Promise<DrawSample> {
  return page.evaluate(() => new Promise<DrawSample>((resolve) => {
    const hook = window.__depthcast!;
    hook.after_next_draw((frame) => {
      const view = hook.model.view;
      const out = { price: 0, size: 0, orders: 0 };
      const read = (side: Side): Level[] => {
        const levels: Level[] = [];
        for (let r = 0; r < view.level_count(side); r++) {
          const l = view.level_at(side, r, out)!;
          levels.push({ price: l.price, size: l.size, orders: l.orders });
        }
        return levels;
      };
      resolve({
        frame,
        book: {
          symbol: view.symbol, version: view.version, seq: view.seq, epoch: view.epoch, state: view.state,
          bids: read(0), asks: read(1), bid_count: view.level_count(0), ask_count: view.level_count(1),
        },
      });
    });
  }));
}

function levels_of(rows: readonly Level[]): [number, number, number][] {
  return rows.map((l) => [l.price, l.size, l.orders]);
}

describe('trading page in Chromium', () => {
  let service: PageService | undefined;
  let all: AllInOne;
  let page: Page;
  let page_errors: string[] = [];

  beforeAll(async () => {
    service = await open_page_service({ symbols, rate_orders_per_s: 2000 }, '/');
    all = service.all;
    page = service.browser.page;
    page_errors = service.errors;
  });

  afterAll(async () => {
    await service?.close();
  });

  it('loads, turns synced, and draws exactly the SDK book, live', async () => {
    await page.waitForFunction(() => {
      const hook = window.__depthcast;
      return hook !== undefined && hook.client.state === 'synced' && hook.model.view.state === 'synced' && (hook.rendered_rows()?.bids.length ?? 0) > 0;
    }, undefined, { timeout: 20_000 });

    const { frame, book } = await sample_after_draw(page);
    expect(frame.symbol).toBe('BTC-USD');
    expect(frame.state).toBe('synced');
    expect(frame.connection).toBe('synced');
    expect(frame.version).toBe(book.version);
    expect(frame.seq).toBe(book.seq);
    expect(frame.epoch).toBe(book.epoch);
    // A depth-10 view fits on the page: every level the SDK holds is drawn, best first.
    expect(book.bid_count).toBeGreaterThanOrEqual(5);
    expect(book.ask_count).toBeGreaterThanOrEqual(5);
    expect(levels_of(frame.bids)).toEqual(levels_of(book.bids));
    expect(levels_of(frame.asks)).toEqual(levels_of(book.asks));
    expect(frame.bids[0].price).toBeLessThan(frame.asks[0].price);

    // The text drawn is the instrument's decimals, computed here from the engine's instrument.
    const instrument = instrument_spec('BTC-USD').instrument;
    const price = new DecimalFormat(instrument.tick_size, instrument.price_decimals);
    const size = new DecimalFormat(instrument.lot_size, instrument.size_decimals);
    for (const side of [frame.bids, frame.asks]) {
      let cum = 0;
      for (const row of side) {
        cum += row.size;
        expect(row.cum).toBe(cum);
        expect(row.price_text).toBe(price.format(row.price));
        expect(row.size_text).toBe(size.format(row.size));
        expect(row.cum_text).toBe(size.format(cum));
      }
    }
    const best_bid = frame.bids[0].price;
    const best_ask = frame.asks[0].price;
    expect(frame.spread_text).toBe(price.format(best_ask - best_bid));
    // A mid between two ticks shows one more decimal: (bid + ask) / 2 ticks of 0.01 = (bid + ask) × 0.005.
    const expected_mid = (best_bid + best_ask) % 2 === 0
      ? price.format((best_bid + best_ask) / 2)
      : new DecimalFormat('0.005', instrument.price_decimals + 1).format(best_bid + best_ask);
    expect(frame.mid_text).toBe(expected_mid);

    // Live: later draws show later books.
    await page.waitForFunction((seq) => (window.__depthcast!.rendered_rows()?.seq ?? 0) > seq, frame.seq, { timeout: 20_000 });
    const later = await sample_after_draw(page);
    expect(later.frame.version).toBe(later.book.version);
    expect(levels_of(later.frame.bids)).toEqual(levels_of(later.book.bids));
    expect(levels_of(later.frame.asks)).toEqual(levels_of(later.book.asks));

    // At most one draw per animation frame.
    const times = await page.evaluate(() => window.__depthcast!.draw_times());
    expect(times.length).toBeGreaterThan(5);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]);

    await page.waitForFunction(() => window.__depthcast!.model.stats.windows >= 2 && window.__depthcast!.model.tape.length > 0, undefined, { timeout: 20_000 });
    mkdirSync(dirname(screenshot_path), { recursive: true });
    await page.screenshot({ path: screenshot_path });
    const c = await page.evaluate(() => ({ ...window.__depthcast!.client.counters }));
    expect(c.digest_mismatches + c.range_breaks + c.crossed_books + c.invalid_frames + c.decode_errors).toBe(0);
    expect(page_errors).toEqual([]);
  });

  it('a hidden tab does no drawing work, and one draw catches up on return', async () => {
    // Headless Chromium keeps every tab visible, so the test plays the browser:
    // document.hidden/visibilityState are overridden and visibilitychange is
    // dispatched. Headless still runs animation frames; a real browser does not
    // for a hidden tab. Either way the page must ask for none and draw nothing.
    await page.evaluate(() => {
      let hidden = false;
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
      const probe: Probe = {
        raf_calls: 0,
        mutations: 0,
        set_hidden(next) {
          hidden = next;
          document.dispatchEvent(new Event('visibilitychange'));
        },
      };
      const raf = window.requestAnimationFrame.bind(window);
      window.requestAnimationFrame = (callback) => {
        probe.raf_calls++;
        return raf(callback);
      };
      new MutationObserver((records) => { probe.mutations += records.length; })
        .observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
      window.__probe = probe;
    });

    const before = await page.evaluate(() => {
      const hook = window.__depthcast!;
      const probe = window.__probe!;
      probe.set_hidden(true);
      probe.raf_calls = 0;
      return {
        draws: hook.scheduler.draws, seq: hook.model.view.seq, version: hook.model.view.version, mutations: probe.mutations,
        frames: hook.client.counters.frames, trades: hook.model.tape.trades_seen, hidden_requests: hook.scheduler.hidden_requests,
      };
    });
    // Let plenty of updates and trades arrive while hidden.
    await page.waitForFunction((b) => {
      const hook = window.__depthcast!;
      return hook.model.view.version >= b.version + 100 && hook.model.tape.trades_seen > b.trades;
    }, before, { timeout: 20_000, polling: 100 });
    const during = await page.evaluate(() => {
      const hook = window.__depthcast!;
      return {
        draws: hook.scheduler.draws, raf_calls: window.__probe!.raf_calls, mutations: window.__probe!.mutations, pending: hook.scheduler.is_pending,
        hidden_requests: hook.scheduler.hidden_requests, frames: hook.client.counters.frames, seq: hook.model.view.seq,
        tape_length: hook.model.tape.length, tape_capacity: hook.model.tape.capacity,
      };
    });
    expect(during.frames).toBeGreaterThan(before.frames);
    expect(during.hidden_requests).toBeGreaterThan(before.hidden_requests);   // updates came, and were turned away
    expect(during.draws).toBe(before.draws);
    expect(during.raf_calls).toBe(0);
    expect(during.pending).toBe(false);
    expect(during.mutations).toBe(before.mutations);
    expect(during.tape_length).toBeLessThanOrEqual(during.tape_capacity);

    const after = await page.evaluate(() => new Promise<{ draws_at_show: number; draws: number; raf_calls: number; frame: RenderedFrame; book_version: number; book_seq: number }>((resolve) => {
      const hook = window.__depthcast!;
      const probe = window.__probe!;
      const draws_at_show = hook.scheduler.draws;
      probe.set_hidden(false);
      hook.after_next_draw((frame) => resolve({
        draws_at_show, draws: hook.scheduler.draws, raf_calls: probe.raf_calls, frame, book_version: hook.model.view.version, book_seq: hook.model.view.seq,
      }));
    }));
    expect(after.raf_calls).toBe(1);
    expect(after.draws).toBe(after.draws_at_show + 1);
    expect(after.frame.version).toBe(after.book_version);
    expect(after.frame.seq).toBe(after.book_seq);
    expect(after.frame.seq).toBeGreaterThanOrEqual(during.seq);
    expect(after.frame.seq).toBeGreaterThan(before.seq);
    expect(page_errors).toEqual([]);
  });

  it('switches symbol from the picker and marks conflated updates', async () => {
    await page.getByRole('button', { name: 'ETH-USD' }).click();
    await page.waitForFunction(() => {
      const f = window.__depthcast!.rendered_rows();
      return f !== null && f.symbol === 'ETH-USD' && f.state === 'synced' && f.bids.length > 0;
    }, undefined, { timeout: 20_000 });
    // One view per symbol: the shown one, and a ticker for each of the others (BTC-USD got its ticker back).
    const views = await page.evaluate(() => window.__depthcast!.client.books().map((b) => `${b.symbol}/${b.depth}/${b.interval_ms}/${b.state}`).sort());
    expect(views).toEqual(['BTC-USD/10/0/synced', 'ETH-USD/10/0/synced', 'SOL-USD/10/0/synced', 'XRP-USD/10/0/synced']);
    expect(new URL(page.url()).searchParams.get('symbol')).toBe('ETH-USD');
    const drawn = await sample_after_draw(page);
    expect(drawn.book.symbol).toBe('ETH-USD');
    expect(levels_of(drawn.frame.bids)).toEqual(levels_of(drawn.book.bids));

    // No conflated marker unless the feed did conflate this connection (a page on a loaded 2-core machine may lag: that is the marker's job).
    const marked = (await sample_after_draw(page)).frame.conflated_marker;
    expect(marked && all.feed_service.feed.counters.conflation_episodes_total === 0).toBe(false);
    await page.getByRole('button', { name: '100 ms' }).click();
    await page.waitForFunction(() => {
      const f = window.__depthcast!.rendered_rows();
      return f !== null && f.symbol === 'ETH-USD' && f.state === 'synced' && f.conflated_marker;
    }, undefined, { timeout: 20_000 });
    const conflated = await sample_after_draw(page);
    expect(conflated.frame.version).toBe(conflated.book.version);
    expect(levels_of(conflated.frame.asks)).toEqual(levels_of(conflated.book.asks));
    expect(await page.evaluate(() => window.__depthcast!.model.view.interval_ms)).toBe(100);
    expect(page_errors).toEqual([]);
  });

  it('with the engine paused, the drawn ladder is the engine\'s own book', async () => {
    await page.evaluate(() => window.__depthcast!.select({ symbol: 'SOL-USD', depth: 10, interval_ms: 0 }));
    await page.waitForFunction(() => {
      const f = window.__depthcast!.rendered_rows();
      return f !== null && f.symbol === 'SOL-USD' && f.state === 'synced';
    }, undefined, { timeout: 20_000 });
    // Paused for longer than the wait may take: the predicate needs a still engine, and a loaded box draws late.
    all.engine.pause(60_000);
    let matched: { drawn: DrawSample; engine_seq: number } | null = null;
    await wait_for('the page to draw the engine\'s final book', async () => {
      const engine_seq = all.engine.snapshot('SOL-USD').seq;
      // The depth-10 view's seq stays at the last version that changed its window, which may
      // be before the engine's last seq (a deep-book change): wait until the feed has taken
      // every event, then for the page to draw the view's last frame.
      // The view moves at the feed's flush, a turn after the ingest: its seq is read again after the draw, and
      // must not have moved (read once, before, it could be the seq before the last flush, which the page had drawn).
      const feed_symbol = all.feed_service.feed.symbols.get('SOL-USD')!;
      if (feed_symbol.committed_seq !== engine_seq) return false;
      const view_seq = () => {
        const stats = all.feed_service.feed.stats() as { symbols: Record<string, { views: { depth: number; group: number; seq: number }[] }> };
        return stats.symbols['SOL-USD'].views.find((v) => v.depth === 10 && v.group === 1)?.seq;
      };
      const seq_before = view_seq();
      const drawn = await sample_after_draw(page);
      if (drawn.frame.seq !== seq_before || view_seq() !== seq_before || all.engine.snapshot('SOL-USD').seq !== engine_seq) return false;
      matched = { drawn, engine_seq };
      return true;
    }, 30_000, 100);
    const { drawn } = matched!;
    expect(drawn.frame.seq).toBeLessThanOrEqual(matched!.engine_seq);
    const engine_book = all.engine.snapshot('SOL-USD');
    expect(drawn.frame.epoch).toBe(engine_book.epoch);
    expect(levels_of(drawn.frame.bids)).toEqual(levels_of(engine_book.bids.slice(0, 10)));
    expect(levels_of(drawn.frame.asks)).toEqual(levels_of(engine_book.asks.slice(0, 10)));
    expect(page_errors).toEqual([]);
  });
});
