// The trading page across a rebuild within the epoch (issue 24, PROTOCOL.md
// §5.5), in Debian's Chromium. A batch carrying trades is really lost on the
// feed's only path (a FaultBus in front of the embedded bus, as in
// test/integration/rebuild_delta.test.ts); the feed rebuilds the book from the
// engine's snapshot of the same epoch and continues the page's view with one
// Delta that names the trades it never had. What the page must show:
// - the tape: a row saying how many trades were missed and which ids, drawn
//   where the hole is, and the header counting them;
// - the book: continued, not replaced (the page's SDK counted one Snapshot, the
//   subscribe's; no resync, no digest mismatch, the same epoch) and, once the
//   engine stops, drawn equal to the engine's final book, SYNCED.
// The feed says Recovering (a Status) while it rebuilds: the page may show it,
// and the test reports what the page went through.
//
// Cost: ~6-10 s (a service, Chromium, one rebuild).
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_feed_service, type FeedService } from '../../src/app.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { Subjects } from '../../src/bus/subjects.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { missing_row_text } from '../../src/ui/panel_tape.js';
import type { RenderedFrame } from '../../src/ui/renderer.js';
import { FaultBus, lose_next_trades } from '../helpers/fault_bus.js';
import { rows } from '../helpers/raw_client.js';
import { test_config, wait_for } from '../helpers/service.js';
import { launch_chromium, type Browser } from './chromium.js';

const symbol = 'BTC-USD';
const depth = 10;

/** What the page went through, recorded in the page. */
interface PageLog {
  missing: { first_trade_id: number; last_trade_id: number }[];
  /** The first draw after each trades_missing event: the rows it drew, and where the missing row was in the tape. */
  drawn_after_missing: { tape_missing_rows: string[]; tape_note: string; trades_shown: number; missing_row_age: number }[];
  states: string[];
  feed_states: string[];
}

declare global {
  interface Window {
    __rebuild?: PageLog;
  }
}

const level_rows = (levels: readonly { price: number; size: number; orders: number }[]) => levels.map((l) => [l.price, l.size, l.orders]);

describe('the trading page across a rebuild within the epoch', () => {
  let engine: EngineHandle | undefined;
  let service: FeedService | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const page_errors: string[] = [];
  const fault = new FaultBus(new MemoryBus());
  const config = test_config({ ui: true, symbols: [symbol], rate_orders_per_s: 400, engine_heartbeat_interval_ms: 100 });

  beforeAll(async () => {
    engine = await start_engine(config, fault.inner);
    service = await start_feed_service(config, fault);
    await wait_for('feed live', () => service!.feed.health().ready);
    // Tall: the tape shows ~40 rows, so the missing row stays on screen past the trades listed after it.
    browser = await launch_chromium({ width: 1440, height: 1400 });
    page = browser.page;
    page.on('pageerror', (err) => page_errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') page_errors.push(`console: ${msg.text()}`); });
    await page.goto(`http://127.0.0.1:${service.server.port}/?symbol=${symbol}&depth=${depth}`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await engine?.stop();
    await fault.inner.close();
  });

  it('shows the trades it missed in the tape and continues the book without a Snapshot', async () => {
    await page.waitForFunction(() => window.__depthcast?.model.view.state === 'synced' && (window.__depthcast.rendered_rows()?.bids.length ?? 0) > 0,
      undefined, { timeout: 30_000 });
    await page.evaluate(() => {
      const hook = window.__depthcast!;
      const log: PageLog = (window.__rebuild = { missing: [], drawn_after_missing: [], states: [], feed_states: [] });
      const view = hook.model.view;
      view.on('state', (s) => log.states.push(s));
      hook.client.on('status', () => {
        if (log.feed_states[log.feed_states.length - 1] !== view.feed_state) log.feed_states.push(view.feed_state);
      });
      view.on('trades_missing', (range) => {
        log.missing.push({ ...range });
        hook.after_next_draw((frame) => {
          // Where the missing row is in the tape now (0 = newest), to tell "not drawn" from "pushed below the rows shown".
          const tape = hook.model.tape;
          const row = { kind: 0, price: 0, size: 0, ts_engine_ns: 0, aggressor: 0 as 0 | 1, folded: 0, vwap: 0, first_trade_id: 0, last_trade_id: 0 };
          let age = 0;
          while (tape.read(age, row) && !(row.kind === 2 && row.first_trade_id === range.first_trade_id)) age++;
          log.drawn_after_missing.push({ tape_missing_rows: frame.tape_missing_rows, tape_note: frame.tape_note, trades_shown: frame.trades_shown, missing_row_age: age });
        });
      });
    });
    const epoch_before = await page.evaluate(() => window.__depthcast!.model.view.epoch);

    // Lose the next batch that carries a trade (an Execute event), so trades are missing, not merely late.
    const lost_trade_ids = lose_next_trades(fault, new Subjects(config.subject_prefix).events(symbol));
    const f = service!.feed.symbols.get(symbol)!;
    await wait_for('rebuilt and continued', () => f.stats.rebuilds_continued >= 1 && f.state === 'live', 20_000);
    await page.waitForFunction(() => (window.__rebuild?.drawn_after_missing.length ?? 0) > 0, undefined, { timeout: 20_000 });

    // The engine stops: the page's book must come to the engine's final one (a last event that changes nothing in
    // the view sends no frame, PROTOCOL §5.2: so equal books at a seq no later than the engine's, not equal seqs).
    await engine!.stop();
    const final = engine!.snapshot(symbol);
    const want = { epoch: final.epoch, bids: rows(final.bids, depth), asks: rows(final.asks, depth) };
    const drawn = await page.waitForFunction((w) => {
      const frame = window.__depthcast!.rendered_rows();
      const same = (a: { price: number; size: number; orders: number }[], b: number[][]) =>
        a.length === b.length && a.every((l, i) => l.price === b[i][0] && l.size === b[i][1] && l.orders === b[i][2]);
      return frame !== null && frame.epoch === w.epoch && frame.state === 'synced' && same(frame.bids, w.bids) && same(frame.asks, w.asks) ? frame : null;
    }, want, { timeout: 20_000 }).then((h) => h.jsonValue() as Promise<RenderedFrame>)
      .catch(async (err: Error) => {
        const at = await page.evaluate(() => ({ seq: window.__depthcast!.rendered_rows()?.seq, state: window.__depthcast!.model.view.state }));
        throw new Error(`${err.message} (engine seq ${final.seq}, feed ${f.committed_seq}, page drew ${JSON.stringify(at)})`);
      });

    const after = await page.evaluate(() => ({
      log: window.__rebuild!,
      counters: { ...window.__depthcast!.client.counters },
      view: { seq: window.__depthcast!.model.view.seq, epoch: window.__depthcast!.model.view.epoch },
    }));
    const report = JSON.stringify({ lost: lost_trade_ids.length, states: after.log.states, feed_states: after.log.feed_states, drawn: after.log.drawn_after_missing });
    process.stdout.write(`page rebuild: ${report}\n`);

    // The book: continued in its epoch (one Snapshot: the subscribe's), every frame's digest and range verified by
    // the SDK, drawn equal to the engine's final book at the SDK's own seq, and never resynced.
    expect(drawn.seq, report).toBeLessThanOrEqual(final.seq);
    expect(drawn.seq).toBe(after.view.seq);
    expect(level_rows(drawn.bids)).toEqual(want.bids);
    expect(level_rows(drawn.asks)).toEqual(want.asks);
    expect([after.view.epoch, drawn.state_label]).toEqual([epoch_before, 'SYNCED']);
    const c = after.counters;
    expect({ snapshots: c.snapshots, digest: c.digest_mismatches, range: c.range_breaks, resyncs: c.resyncs, crossed: c.crossed_books }, report)
      .toEqual({ snapshots: 1, digest: 0, range: 0, resyncs: 0, crossed: 0 });
    expect(after.log.states, report).not.toContain('resyncing');
    expect(service!.feed.counters.client_resyncs_total).toBe(0);

    // The tape: exactly the lost batch's trades named missing, once, and the row that says so drawn where the hole is.
    const range = { first_trade_id: Math.min(...lost_trade_ids), last_trade_id: Math.max(...lost_trade_ids) };
    expect(after.log.missing).toEqual([range]);
    expect(c.trades_missing).toBe(lost_trade_ids.length);
    const first_draw = after.log.drawn_after_missing[0];
    // The trades listed after the hole in the same Delta sit above it; the tape shows trades_shown rows.
    expect(first_draw.missing_row_age, `${report}: the missing row was pushed below the rows shown`).toBeLessThan(first_draw.trades_shown);
    expect(first_draw.tape_missing_rows).toEqual([missing_row_text(range.first_trade_id, range.last_trade_id)]);
    expect(first_draw.tape_note).toMatch(new RegExp(` · ${lost_trade_ids.length} missed$`));
    expect(page_errors).toEqual([]);
  }, 90_000);
});
