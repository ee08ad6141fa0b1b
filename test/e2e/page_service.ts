// A whole service in-process (engine + embedded bus + feed serving the page)
// and Debian's Chromium on its page: the setup the page's end-to-end tests
// share. Collects the page's errors (uncaught exceptions, console errors) so
// a test can say there were none.
import { start_all, type AllInOne } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { test_config, wait_for } from '../helpers/service.js';
import { launch_chromium, type Browser } from './chromium.js';

export interface PageService {
  all: AllInOne;
  browser: Browser;
  /** Page errors and console errors so far. */
  errors: string[];
  close(): Promise<void>;
}

/** Starts the service with `overrides`, waits until every book is live, opens `path` (e.g. '/?symbol=ETH-USD'). */
export async function open_page_service(overrides: Partial<Config>, path: string, viewport?: { width: number; height: number }): Promise<PageService> {
  const all = await start_all(test_config({ ui: true, ...overrides }));
  await wait_for('feed live', () => all.feed_service.feed.health().ready);
  const browser = await launch_chromium(viewport);
  const errors: string[] = [];
  browser.page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  browser.page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  await browser.page.goto(`http://127.0.0.1:${all.feed_service.server.port}${path}`);
  return {
    all, browser, errors,
    async close() {
      await browser.close();
      await all.stop();
    },
  };
}
