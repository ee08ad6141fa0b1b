// Record and replay (src/record), with a real engine, real feeds and real
// sockets, and the tests' independent protocol client (flatc classes +
// ViewMirror): a recording replayed at max speed rebuilds exactly the books
// the live clients had at the same (epoch, seq); book-at gives the engine's
// book at a moment; a torn recording replays up to the tear; a loop starts a
// new epoch that clients follow without a break.
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { start_feed_service, type FeedService } from '../../src/app.js';
import { digest_of } from '../../src/book/digest.js';
import type { L2Level, L2Snapshot } from '../../src/book/types.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import type { Config } from '../../src/config.js';
import { start_engine } from '../../src/engine/engine.js';
import { book_at } from '../../src/record/book_at.js';
import { start_recorder } from '../../src/record/recorder.js';
import { start_replay, type ReplayOptions } from '../../src/record/replay.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { ProtocolClient } from '../helpers/protocol_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD'];
const depths = [10, 0];

function levels(l: readonly L2Level[]): [number, number, number][] {
  return l.map((x) => [x.price, x.size, x.orders]);
}

/** (epoch, seq) → digest of every frame of a view, as the client recomputed it. */
function digests(c: ProtocolClient, symbol: string, depth: number): Map<string, number> {
  return new Map((c.book(symbol, depth)?.frames ?? []).map((f) => [`${f.epoch}:${f.seq}`, f.digest]));
}

describe('record, replay, book-at', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });

  async function clients(feed: FeedService): Promise<ProtocolClient[]> {
    const out: ProtocolClient[] = [];
    for (const depth of depths) {
      const c = await ProtocolClient.connect(feed.url);
      cleanup.push(() => c.close());
      c.subscribe(symbols, depth);
      out.push(c);
    }
    return out;
  }

  /** Records a live engine for `ms`, then pauses it; returns the live clients and the engine's final books. */
  async function record_live(ms: number) {
    const dir = mkdtempSync(join(tmpdir(), 'dcrec-it-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const config: Readonly<Config> = test_config({
      symbols, rate_orders_per_s: 3000, recording_dir: dir, record_checkpoint_interval_ms: 300,
      record_segment_bytes_max: 256 * 1024, engine_heartbeat_interval_ms: 200,
    });
    const bus = new MemoryBus();
    const recorder = start_recorder(config, bus);
    const engine = await start_engine(config, bus);
    cleanup.push(() => engine.stop());
    const feed = await start_feed_service(config, bus);
    cleanup.push(() => feed.stop());
    const live = await clients(feed);
    await sleep(ms);
    engine.pause(600_000);
    await sleep(300);
    const at_ms = Date.now();
    const final: Record<string, L2Snapshot> = {};
    for (const s of symbols) final[s] = engine.snapshot(s);
    // A view's seq stays at its last change (no frame for the rest): the full book's too (engine_book.ts).
    for (const s of symbols) await wait_for(`live full-book client at ${s}'s book of seq ${final[s].seq}`, () => at_engine_book(live[1].book(s, 0), final[s]));
    await sleep(100);
    await recorder.stop();
    expect(recorder.stats().segments_started).toBeGreaterThan(1); // rotation was exercised
    return { dir, config, live, final, at_ms };
  }

  async function replay_into_new_feed(config: Readonly<Config>, options: Partial<ReplayOptions> = {}) {
    const bus = new MemoryBus();
    const feed = await start_feed_service(config, bus);
    cleanup.push(() => feed.stop());
    const replayed = await clients(feed);
    const replay = start_replay({
      recording_dir: config.recording_dir, subject_prefix: config.subject_prefix, speed: 'max', loop: false,
      chunk_events_max: 1, heartbeat_interval_ms: 200, ...options,
    }, bus);
    cleanup.push(() => replay.stop());
    // Ready before playing: the feed goes live at the recording's start from the replay's snapshots.
    for (const [i, c] of replayed.entries()) {
      for (const s of symbols) await wait_for(`replay feed live for ${s}@${depths[i]}`, () => c.book(s, depths[i]) !== undefined);
    }
    return { feed, replayed, replay };
  }

  it('replayed at max speed, an independent client rebuilds the live books at every common (epoch, seq); book-at is the engine\'s book', async () => {
    const { config, live, final, at_ms, dir } = await record_live(2500);

    for (const s of symbols) {
      const b = book_at(dir, at_ms, s);
      expect([b.epoch, b.seq]).toEqual([final[s].epoch, final[s].seq]);
      expect(levels(b.bids)).toEqual(levels(final[s].bids));
      expect(levels(b.asks)).toEqual(levels(final[s].asks));
      expect(b.digest).toBe(digest_of(final[s].bids, final[s].asks));
      // Earlier moments: the full book's digest at the seq book-at lands on is the depth-0 client's there.
      const full_view = digests(live[1], s, 0);
      let compared = 0;
      for (let back_ms = 300; back_ms <= 2000; back_ms += 100) {
        const earlier = book_at(dir, at_ms - back_ms, s);
        const seen = full_view.get(`${earlier.epoch}:${earlier.seq}`);
        if (seen === undefined) continue; // that version reached the client merged into a later frame
        expect(earlier.digest).toBe(seen);
        compared++;
      }
      expect(compared).toBeGreaterThan(3);
    }

    const { replayed, replay } = await replay_into_new_feed(config);
    await replay.play();
    expect(replay.status().events).toBeGreaterThan(1000);
    for (const [i, c] of replayed.entries()) {
      const depth = depths[i];
      for (const s of symbols) {
        // The replay may merge the last events into one update where the live feed sent two: its last seq may be lower.
        await wait_for(`replayed ${s}@${depth} at the engine's last book`, () => at_engine_book(c.book(s, depth), final[s], depth));
        const want = digests(live[i], s, depth);
        const got = digests(c, s, depth);
        let common = 0;
        for (const [key, digest] of got) {
          if (!want.has(key)) continue;
          expect(digest, `${s}@${depth} at ${key}`).toBe(want.get(key));
          common++;
        }
        expect(common).toBeGreaterThan(10);
        expect(c.sorted(s, depth)).toEqual(live[i].sorted(s, depth));
        expect(c.book(s, depth)!.epoch).toBe(final[s].epoch);
      }
      expect(c.violations).toEqual([]);
    }
  });

  it('--from/--to (ms): the feed goes live at the book of --from, the replay ends at the book of --to', async () => {
    const { config, dir, at_ms } = await record_live(2500);
    const from_ms = at_ms - 2000;
    const to_ms = at_ms - 900;
    const { replayed, replay } = await replay_into_new_feed(config, { from_ns: from_ms * 1e6, to_ns: to_ms * 1e6 });
    await replay.play();
    expect(replay.status().state).toBe('ended');
    const c0 = replayed[1];
    for (const s of symbols) {
      const at_from = book_at(dir, from_ms, s);
      const before_from = book_at(dir, from_ms - 1, s);
      const at_to = book_at(dir, to_ms, s);
      await wait_for(`${s} at the book of --to (seq ${at_to.seq})`, () => at_engine_book(c0.book(s, 0), at_to));
      const frames = c0.book(s, 0)!.frames;
      // The first frame (the feed's snapshot from the ready replay) is the book just before --from.
      expect(frames[0].kind).toBe('snapshot');
      expect(frames[0].seq).toBeGreaterThanOrEqual(before_from.seq);
      expect(frames[0].seq).toBeLessThanOrEqual(at_from.seq);
      expect(c0.book(s, 0)!.digest).toBe(at_to.digest);
      expect(c0.book(s, 0)!.epoch).toBe(at_to.epoch);
      expect(Math.max(...frames.map((f) => f.seq))).toBeLessThanOrEqual(at_to.seq); // not past --to (a last no-op version sends no frame)
    }
    for (const c of replayed) expect(c.violations).toEqual([]);
  });

  it('a torn recording replays up to the tear; a loop is a new epoch the clients follow', async () => {
    const { config, dir } = await record_live(1500);
    const torn_dir = mkdtempSync(join(tmpdir(), 'dcrec-torn-'));
    cleanup.push(() => rmSync(torn_dir, { recursive: true, force: true }));
    cpSync(dir, torn_dir, { recursive: true });
    const last = readdirSync(torn_dir).filter((n) => n.endsWith('.dcrec')).sort().at(-1)!;
    const size = statSync(join(torn_dir, last)).size;
    truncateSync(join(torn_dir, last), Math.floor(size * 0.6) + 3); // mid-record, almost surely
    const end = Date.now() + 60_000;
    const at_tear = Object.fromEntries(symbols.map((s) => [s, book_at(torn_dir, end, s)]));
    expect(at_tear[symbols[0]].torn_tails).toBe(1);
    // Never past the whole recording (the cut may fall after the last event record, so it may lose none).
    const whole = Object.fromEntries(symbols.map((s) => [s, book_at(dir, end, s)]));
    expect(symbols.every((s) => at_tear[s].seq <= whole[s].seq), JSON.stringify(symbols.map((s) => [at_tear[s].seq, whole[s].seq]))).toBe(true);

    const { replayed, replay } = await replay_into_new_feed({ ...config, recording_dir: torn_dir }, { loop: true, speed: 5 });
    void replay.play();
    // Each pass ends at the tear: the recorded epoch first, then a newer one per loop, no protocol violation
    // on the way (the frames' history is read, so no moment has to be caught).
    await wait_for('third pass', () => replay.status().pass >= 2, 30_000);
    const c0 = replayed[1];
    // A pass's last frame (the tear's book; its seq may be below the tear's when the last version changed
    // nothing in the view, engine_book.ts): the recorded epoch's, and the next epoch's once a third has begun.
    const epochs = (s: string) => [...new Set(c0.book(s, 0)!.frames.map((f) => f.epoch))].sort((x, y) => x - y);
    await wait_for('the client in its third epoch', () => symbols.every((s) => epochs(s).length >= 3), 30_000);
    for (const s of symbols) {
      const want = digest_of(at_tear[s].bids, at_tear[s].asks);
      const frames = c0.book(s, 0)!.frames;
      const [first_epoch, looped_epoch] = epochs(s);
      expect(first_epoch).toBe(at_tear[s].epoch);
      expect(looped_epoch).toBeGreaterThan(at_tear[s].epoch);
      const first = frames.filter((f) => f.epoch === first_epoch).at(-1)!;
      const looped = frames.filter((f) => f.epoch === looped_epoch).at(-1)!;
      expect(first.digest).toBe(want);
      expect(looped.digest).toBe(want);
      // Never past the tear.
      expect(Math.max(...frames.map((f) => f.seq))).toBeLessThanOrEqual(at_tear[s].seq);
    }
    for (const c of replayed) expect(c.violations).toEqual([]);
  });
});
