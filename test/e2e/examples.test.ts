// The SDK's examples (examples/), each tried the way a user gets it: the SDK
// package is packed (npm pack of src/client, which builds it), each example is
// copied to a temporary directory outside the repository and the tarball is
// installed into it with npm (react, react-dom, vite and ws come from the npm
// cache or the registry), the React one is built with Vite, and each runs
// against a live feed: the Node bot as a process (with ws passed in, and with
// Node's global WebSocket), the web ones in Debian's Chromium (vanilla imports
// the bundle the feed serves at /sdk/depthcast.js, no build). Then the engine
// stops, and each must show the feed's final book: the depth-10 view's seq,
// the engine's top ten levels a side, and a digest that the test recomputes
// from what is shown (docs/PROTOCOL.md §6) and that equals the one the feed
// sent for that seq (the SDK verified it).
//
// Cost: ~30-60 s, most of it npm install (the first run on a machine also
// downloads react and react-dom) and Vite; one feed, one Chromium.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import { digest_of } from '../../src/book/digest.js';
import { instrument_spec } from '../../src/engine/instruments.js';
import type { L2Level } from '../../src/book/types.js';
import { test_config, wait_for } from '../helpers/service.js';
import { launch_chromium, type Browser } from './chromium.js';

const repo_root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const symbol = 'BTC-USD';

/**
 * The environment of a user's shell: without the npm_* variables that `npm test` hands down (npm reads
 * npm_config_* as its own settings, so the install in the temp dir would inherit this repository's).
 */
const user_env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_|^INIT_CWD$/i.test(k)));

/** Runs a command to completion; rejects with its output when it fails. */
function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: user_env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${code}:\n${out}`))));
  });
}

/** A copy of examples/<name> in `dir` whose `depthcast` dependency is the packed tarball, installed with npm. */
async function install_example(name: string, dir: string, tarball: string): Promise<string> {
  const target = join(dir, name);
  cpSync(join(repo_root, 'examples', name), target, { recursive: true, filter: (src) => !/node_modules|dist$/.test(src) });
  const manifest_path = join(target, 'package.json');
  if (existsSync(manifest_path)) {
    const manifest = JSON.parse(readFileSync(manifest_path, 'utf8')) as { dependencies: Record<string, string> };
    manifest.dependencies.depthcast = `file:${tarball}`;
    writeFileSync(manifest_path, JSON.stringify(manifest, null, 2));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], target);
  }
  return target;
}

const content_types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Serves `root` over HTTP on a random loopback port (the web examples' own origin, not the feed's). */
function serve_static(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^\/+/, '') || 'index.html';
    const file = join(root, path);
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': content_types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address() as { port: number };
    resolve({ server, url: `http://127.0.0.1:${address.port}` });
  }));
}

/** What a web example shows: table#book's data attributes and rows (see examples/README.md). */
interface Shown {
  state: string;
  seq: number;
  epoch: number;
  digest: number;
  bids: L2Level[];
  asks: L2Level[];
}

function read_shown(page: Page): Promise<Shown | null> {
  return page.evaluate(() => {
    const table = document.querySelector<HTMLTableElement>('table#book');
    if (table === null || table.dataset.seq === undefined) return null;
    const levels = (side: string) => Array.from(table.querySelectorAll<HTMLTableRowElement>(`tr[data-side="${side}"]`))
      .map((tr) => ({ price: Number(tr.dataset.price), size: Number(tr.dataset.size), orders: Number(tr.dataset.orders) }));
    return {
      state: table.dataset.state ?? '', seq: Number(table.dataset.seq), epoch: Number(table.dataset.epoch), digest: Number(table.dataset.digest),
      bids: levels('bid'), asks: levels('ask').reverse(),
    };
  });
}

/** The bot's last line, parsed (examples/node-bot/index.mjs prints one a second). */
interface BotLine {
  state: string;
  seq: number;
  epoch: number;
  digest: number;
  mid: string;
  spread: string;
  staleness_ms: number;
  websocket: string;
}

const bot_line = /^(\S+) (\w+) seq (\d+) epoch (\d+) digest (\d+) mid (\S+) spread (\S+) staleness (\d+) ms(?: BEHIND)? \((.+)\)$/;

class Bot {
  readonly lines: BotLine[] = [];
  output = '';
  readonly child: ChildProcess;

  constructor(dir: string, node_args: string[], feed_url: string) {
    this.child = spawn(process.execPath, [...node_args, 'index.mjs', feed_url, symbol], { cwd: dir, env: user_env });
    const take = (d: Buffer) => {
      this.output += d.toString();
      for (const line of d.toString().split('\n')) {
        const m = bot_line.exec(line.trim());
        if (m) {
          this.lines.push({ state: m[2], seq: Number(m[3]), epoch: Number(m[4]), digest: Number(m[5]), mid: m[6], spread: m[7], staleness_ms: Number(m[8]), websocket: m[9] });
        }
      }
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
  }

  get last(): BotLine | undefined {
    return this.lines[this.lines.length - 1];
  }
}

/** price × tick with price_decimals + 1 digits, as the bot prints it. */
function bot_price(ticks: number, tick_size: string, price_decimals: number): string {
  return (ticks * Number(tick_size)).toFixed(price_decimals + 1);
}

describe('SDK examples, installed from the packed tarball and run against a live feed', () => {
  let work_dir: string;
  let all: AllInOne;
  let browser: Browser;
  let feed_url: string;
  const servers: Server[] = [];
  const bots: Bot[] = [];
  const pages: { name: string; page: Page; errors: string[] }[] = [];

  beforeAll(async () => {
    work_dir = mkdtempSync(join(tmpdir(), 'depthcast-examples-'));
    const packed = (await run('npm', ['pack', '--pack-destination', work_dir], join(repo_root, 'src', 'client'))).trim().split('\n').pop()!;
    const tarball = join(work_dir, packed);
    expect(existsSync(tarball)).toBe(true);
    const started = start_all(test_config({ ui: true, symbols: [symbol], rate_orders_per_s: 400 }));
    const [vanilla_dir, react_dir, bot_dir] = await Promise.all(['vanilla', 'react', 'node-bot'].map((name) => install_example(name, work_dir, tarball)));
    await run(join(react_dir, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], react_dir);
    all = await started;
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
    feed_url = `ws://127.0.0.1:${all.feed_service.server.port}/ws`;

    bots.push(new Bot(bot_dir, [], feed_url), new Bot(bot_dir, ['--experimental-websocket', '--no-warnings'], feed_url));
    browser = await launch_chromium({ width: 800, height: 700 });
    for (const [name, root] of [['vanilla', vanilla_dir], ['react', join(react_dir, 'dist')]] as const) {
      const { server, url } = await serve_static(root);
      servers.push(server);
      const page = name === 'vanilla' ? browser.page : await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
      await page.goto(`${url}/index.html?feed=${encodeURIComponent(feed_url)}&symbol=${symbol}`);
      pages.push({ name, page, errors });
    }
  }, 180_000);

  afterAll(async () => {
    for (const bot of bots) bot.child.kill('SIGTERM');
    await browser?.close();
    for (const server of servers) server.close();
    await all?.stop();
    if (work_dir) rmSync(work_dir, { recursive: true, force: true });
  });

  it('each shows a synced book that follows the live feed', async () => {
    for (const bot of bots) {
      const first = await (async () => {
        await wait_for(`bot: a synced line\n${bot.output}`, () => bot.last?.state === 'synced', 20_000, 50);
        return bot.last!;
      })();
      await wait_for(`bot: the book moves\n${bot.output}`, () => (bot.last?.seq ?? 0) > first.seq, 20_000, 50);
    }
    expect(bots.map((b) => b.last!.websocket)).toEqual(['ws', 'global WebSocket']);
    for (const { name, page, errors } of pages) {
      await wait_for(`${name}: synced`, async () => (await read_shown(page))?.state === 'synced', 20_000, 100);
      const first = (await read_shown(page))!;
      await wait_for(`${name}: the book moves`, async () => ((await read_shown(page))?.seq ?? 0) > first.seq, 20_000, 100);
      expect(errors, name).toEqual([]);
    }
  });

  it('with the engine stopped, each shows the feed\'s final book at the view\'s seq, confirmed by its digest', async () => {
    await all.engine.stop();
    const engine_book = all.engine.snapshot(symbol);
    const feed_symbol = all.feed_service.feed.symbols.get(symbol)!;
    await wait_for('the feed took every engine event', () => feed_symbol.committed_seq === engine_book.seq);
    // The depth-10 view's seq is the last version that changed its window (it may be before the engine's seq).
    const stats = all.feed_service.feed.stats() as { symbols: Record<string, { views: { depth: number; group: number; seq: number }[] }> };
    const view_seq = stats.symbols[symbol].views.find((v) => v.depth === 10 && v.group === 1)!.seq;
    const plain = (levels: readonly L2Level[]) => levels.slice(0, 10).map((l) => ({ price: l.price, size: l.size, orders: l.orders }));
    const want = { bids: plain(engine_book.bids), asks: plain(engine_book.asks) };
    const want_digest = digest_of(want.bids, want.asks);

    for (const { name, page, errors } of pages) {
      await wait_for(`${name}: the final seq ${view_seq}`, async () => (await read_shown(page))?.seq === view_seq, 20_000, 100);
      const shown = (await read_shown(page))!;
      expect(shown.state, name).toBe('synced');
      expect(shown.epoch, name).toBe(engine_book.epoch);
      expect({ bids: shown.bids, asks: shown.asks }, name).toEqual(want);
      expect(digest_of(shown.bids, shown.asks), name).toBe(shown.digest);
      expect(shown.digest, name).toBe(want_digest);
      expect(errors, name).toEqual([]);
    }

    const { tick_size, price_decimals } = instrument_spec(symbol).instrument;
    const best_bid = want.bids[0].price;
    const best_ask = want.asks[0].price;
    for (const bot of bots) {
      await wait_for(`bot (${bot.last?.websocket}): the final seq ${view_seq}\n${bot.output}`, () => bot.last?.seq === view_seq, 20_000, 50);
      const line = bot.last!;
      expect(line.state).toBe('synced');
      expect(line.digest).toBe(want_digest);
      expect(line.mid).toBe(bot_price((best_bid + best_ask) / 2, tick_size, price_decimals));
      expect(line.spread).toBe(bot_price(best_ask - best_bid, tick_size, price_decimals));
      expect(line.staleness_ms).toBeGreaterThanOrEqual(0);
    }
  });
});
