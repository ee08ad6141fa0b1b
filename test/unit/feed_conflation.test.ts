// Slow consumers inside the feed, with the socket replaced by an in-memory
// transport whose buffered bytes the test controls (a "paused" transport
// buffers every frame it is given). The feed, the engine and the in-process
// bus are the real ones. Every frame is decoded and applied by ViewMirror,
// which checks ranges, digests, crossing and trade-id continuity.
import { afterEach, describe, expect, it } from 'vitest';
import { session_pending_frames_max } from '../../src/feed/session_sender.js';
import { conflation_trades_max } from '../../src/feed/subscription.js';
import { close_code } from '../../src/wire/codes.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { conflation_rig as rig, stop_conflation_rigs, type ConflationRig as Rig } from '../helpers/conflation_rig.js';
import { sleep, wait_for } from '../helpers/service.js';
import { expected_aggregate, type MirrorView } from '../helpers/view_mirror.js';

const enc = new FrameEncoder();

afterEach(() => stop_conflation_rigs());

function top(levels: { price: number; size: number; orders: number }[], depth: number): [number, number, number][] {
  const list = levels.map((l) => [l.price, l.size, l.orders] as [number, number, number]);
  return depth === 0 ? list : list.slice(0, depth);
}

function expect_engine_book(r: Rig, v: MirrorView | undefined, symbol: string, depth: number): void {
  expect(v, `${symbol}|${depth} view`).toBeDefined();
  const snap = r.engine.snapshot(symbol);
  expect(v!.seq).toBe(snap.seq);
  const got = v!.sorted();
  expect(got.bids).toEqual(top(snap.bids, depth));
  expect(got.asks).toEqual(top(snap.asks, depth));
}

const views = [['BTC-USD', 0], ['BTC-USD', 10], ['ETH-USD', 0], ['ETH-USD', 10]] as const;

describe('slow consumer: conflation inside the feed', () => {
  it('switches once each way (hysteresis), queues nothing while conflating, then sends one exact catch-up per view', async () => {
    const r = await rig({});
    const slow = r.connect();
    const fast = r.connect();
    for (const c of [slow, fast]) {
      r.subscribe(c.session, ['BTC-USD', 'ETH-USD'], 0);
      r.subscribe(c.session, ['BTC-USD', 'ETH-USD'], 10);
    }
    await wait_for('snapshots', () => views.every(([s, d]) => slow.t.mirror.view(s, d) && fast.t.mirror.view(s, d)));
    slow.t.paused = true;
    await wait_for('conflating', () => slow.session.slow);
    const frames_at_switch = slow.t.mirror.frames;
    const last_seq = new Map(views.map(([s, d]) => [`${s}|${d}`, slow.t.mirror.view(s, d)!.seq]));
    expect(r.feed.counters.conflating_connections).toBe(1);

    // Half drained: between exit and enter, nothing changes (hysteresis).
    slow.t.buffered = Math.floor((r.config.slow_enter_bytes + r.config.slow_exit_bytes) / 2);
    r.feed.on_drain(slow.session);
    for (let i = 0; i < 10; i++) {
      await sleep(30);
      for (const sub of slow.session.subs.values()) {
        expect(sub.mode).toBe('accumulating');
        expect(sub.dirty_levels).toBeLessThanOrEqual(r.config.conflation_levels_max);
        expect(sub.held_trades).toBeLessThanOrEqual(conflation_trades_max);
      }
    }
    expect(slow.session.slow).toBe(true);
    expect(slow.session.slow_episodes).toBe(1);
    expect(slow.t.mirror.frames).toBe(frames_at_switch); // not one frame queued per update while conflating
    expect(fast.session.slow).toBe(false);

    slow.t.resume();
    r.feed.on_drain(slow.session);
    expect(slow.session.slow).toBe(false);
    await r.quiesce();

    expect(slow.session.slow_episodes).toBe(1);
    expect(r.feed.counters.conflation_episodes_total).toBe(1);
    expect(r.feed.counters.conflating_connections).toBe(0);
    expect(slow.t.mirror.violations).toEqual([]);
    expect(fast.t.mirror.violations).toEqual([]);
    let merged_total = 0;
    for (const [s, d] of views) {
      const key = `${s}|${d}`;
      const v = slow.t.mirror.view(s, d)!;
      const after = v.frames.filter((f) => f.seq_first > last_seq.get(key)!);
      // The first frame after the pause is the one catch-up: conflated, from the last seq sent + 1.
      expect(after[0], key).toMatchObject({ kind: 'delta', conflated: true, seq_first: last_seq.get(key)! + 1 });
      expect(v.count((f) => f.conflated), key).toBe(1);
      const catch_up = after[0];
      merged_total += catch_up.updates_merged;
      // It merged exactly the updates the fast client got one by one over the same range.
      const fast_view = fast.t.mirror.view(s, d)!;
      const same_range = fast_view.frames.filter((f) => f.kind === 'delta' && f.seq_first >= catch_up.seq_first && f.seq <= catch_up.seq);
      expect(same_range[0].seq_first, key).toBe(catch_up.seq_first);
      expect(same_range[same_range.length - 1].seq, key).toBe(catch_up.seq);
      expect(same_range.reduce((n, f) => n + f.updates_merged, 0), key).toBe(catch_up.updates_merged);
      expect(same_range.reduce((n, f) => n + f.trades_listed, 0), key).toBe(catch_up.trades_listed + catch_up.trades_folded);
      // Afterwards it streams again, unconflated; the fast client never saw a conflated frame.
      expect(after.slice(1).every((f) => !f.conflated), key).toBe(true);
      expect(fast_view.count((f) => f.conflated), key).toBe(0);
      expect(v.last_trade_id, key).toBe(fast_view.last_trade_id);
      expect(v.trades_listed + v.trades_folded, key).toBe(fast_view.trades.filter((t) => t.trade_id >= v.first_trade_id).length);
      expect_engine_book(r, v, s, d);
      expect_engine_book(r, fast_view, s, d);
    }
    expect(r.feed.counters.conflated_frames_total).toBe(views.length);
    expect(r.feed.counters.conflated_updates_merged_total).toBe(merged_total);
  });

  it('keeps memory O(levels changed): past conflation_levels_max the catch-up is a Snapshot carrying the missed trades as an exact aggregate', async () => {
    const r = await rig({ symbols: ['BTC-USD'], conflation_levels_max: 12 });
    const slow = r.connect();
    const fast = r.connect();
    for (const c of [slow, fast]) r.subscribe(c.session, ['BTC-USD'], 0);
    await wait_for('snapshots', () => slow.t.mirror.view('BTC-USD', 0) !== undefined && fast.t.mirror.view('BTC-USD', 0) !== undefined);
    slow.t.paused = true;
    await wait_for('conflating', () => slow.session.slow);
    const sub = [...slow.session.subs.values()][0];
    const seq_before = slow.t.mirror.view('BTC-USD', 0)!.seq;
    let dirty_max = 0;
    let held_max = 0;
    let kept_max = 0;
    await wait_for('overflowed and trades folded', async () => {
      dirty_max = Math.max(dirty_max, sub.dirty_levels);
      kept_max = Math.max(kept_max, sub.channel.changed.live);
      held_max = Math.max(held_max, sub.held_trades);
      await sleep(5);
      return sub.overflowed && sub.folded_trades > 0;
    });
    expect(dirty_max).toBeLessThanOrEqual(12);
    expect(kept_max).toBeLessThanOrEqual(12); // the view's shared log: O(levels changed), bounded
    expect(held_max).toBeLessThanOrEqual(conflation_trades_max);
    expect(sub.dirty_levels).toBe(0); // past the bound the catch-up is a snapshot: no prices to list
    slow.t.resume();
    r.feed.on_drain(slow.session);
    await r.quiesce();

    const v = slow.t.mirror.view('BTC-USD', 0)!;
    const fv = fast.t.mirror.view('BTC-USD', 0)!;
    expect(slow.t.mirror.violations).toEqual([]);
    expect(fast.t.mirror.violations).toEqual([]);
    const catch_up = v.frames.find((f) => f.seq > seq_before)!;
    expect(catch_up.kind).toBe('snapshot');
    expect(catch_up.trades_folded).toBeGreaterThan(conflation_trades_max);
    expect(r.feed.counters.catch_up_snapshots_total).toBe(1);
    // The aggregate equals the fold of the very trades the fast client saw one by one.
    expect(v.aggregates.length).toBe(1);
    const got = v.aggregates[0];
    expect(got.count).toBe(catch_up.trades_folded);
    const folded = fv.trades.filter((t) => t.trade_id >= got.first_trade_id && t.trade_id <= got.last_trade_id);
    expect(folded.length).toBe(got.count);
    const want = expected_aggregate(folded);
    expect({ ...got, vwap: 0 }).toEqual({ ...want, vwap: 0 });
    expect(got.vwap).toBeCloseTo(want.vwap, 6);
    expect(v.last_trade_id).toBe(fv.last_trade_id);
    expect_engine_book(r, v, 'BTC-USD', 0);
  });

  it("policy 'close': closes with 4008 at the crossing, sends nothing after the decision and releases the subscriptions", async () => {
    const r = await rig({ slow_policy: 'close' });
    const slow = r.connect();
    const opted_in = r.connect({ slow_policy: 'conflate' }); // per-connection override (/ws?slow=conflate)
    for (const c of [slow, opted_in]) r.subscribe(c.session, ['BTC-USD', 'ETH-USD'], 0);
    await wait_for('snapshots', () => slow.t.mirror.view('ETH-USD', 0) !== undefined && opted_in.t.mirror.view('ETH-USD', 0) !== undefined);
    slow.t.paused = true;
    opted_in.t.paused = true;
    await wait_for('decided', () => slow.t.ended !== null && opted_in.session.slow);
    expect(slow.t.ended!.code).toBe(close_code.slow_consumer);
    expect(slow.session.close_decision).toBe(close_code.slow_consumer);
    const sent_at_decision = slow.session.frames_sent;
    expect(slow.t.mirror.frames).toBe(sent_at_decision);
    await sleep(200); // the engine keeps going; the feed must not touch the closed session
    expect(slow.t.sends_after_end).toBe(0);
    expect(slow.session.frames_sent).toBe(sent_at_decision);
    expect(slow.session.subs.size).toBe(0);
    expect(r.feed.counters.subscriptions).toBe(2); // the opted-in connection's two views
    expect(r.feed.counters.slow_closes_total.get(close_code.slow_consumer)).toBe(1);
    expect(opted_in.t.ended).toBeNull();
    r.feed.close_session(slow.session, close_code.slow_consumer); // what the server's close handler does
    expect(r.feed.counters.closes_total.get(close_code.slow_consumer)).toBe(1);
    expect(r.feed.sessions.has(slow.session)).toBe(false);
  });

  it('closes with 4009 past the hard cap whatever the policy, and when the socket refuses a send (never a silent skip)', async () => {
    const r = await rig({});
    const capped = r.connect();
    const refused = r.connect();
    for (const c of [capped, refused]) r.subscribe(c.session, ['BTC-USD'], 0);
    await wait_for('snapshots', () => capped.t.mirror.view('BTC-USD', 0) !== undefined && refused.t.mirror.view('BTC-USD', 0) !== undefined);
    capped.t.paused = true;
    await wait_for('conflating', () => capped.session.slow);
    capped.t.buffered = r.config.send_buffer_bytes_max + 1; // e.g. a burst of Status/Pong/Snapshot frames while conflating
    r.feed.on_drain(capped.session);
    expect(capped.t.ended?.code).toBe(close_code.send_buffer_overflow);

    refused.t.refuse = true;
    await wait_for('refused send closes', () => refused.t.ended !== null);
    expect(refused.t.ended!.code).toBe(close_code.send_buffer_overflow);
    expect(r.feed.counters.sends_dropped_total).toBe(1);
    expect(r.feed.counters.slow_closes_total.get(close_code.send_buffer_overflow)).toBe(2);
    const frames = refused.t.mirror.frames;
    refused.t.refuse = false;
    await sleep(100);
    expect(refused.t.mirror.frames).toBe(frames);
    expect(refused.t.mirror.violations).toEqual([]);
  });

  it('a connection that drains while its own flush is sending still gets its catch-up and streams on', async () => {
    const r = await rig({});
    const c = r.connect();
    r.subscribe(c.session, ['BTC-USD', 'ETH-USD'], 10);
    await wait_for('snapshots', () => c.t.mirror.view('ETH-USD', 10) !== undefined);
    c.t.paused = true;
    await wait_for('conflating', () => c.session.slow);
    await sleep(50);
    // The socket drains exactly while the next frame (a Pong) goes out: the exit is decided inside
    // the session's flush, whose catch-ups must still be flushed (not left pending forever).
    c.t.drain_on_next_send = true;
    const batches_before = c.t.corked_batches.length;
    c.session.queue(enc.pong({ nonce: 1, client_time_ns: 1, server_time_ns: 1 }));
    await wait_for('catch-ups sent', () => c.t.mirror.views.size === 2 && [...c.t.mirror.views.values()].every((v) => v.count((f) => f.conflated) === 1));
    const deltas = c.t.mirror.view('BTC-USD', 10)!.frames.length;
    await wait_for('streaming again', () => c.t.mirror.view('BTC-USD', 10)!.frames.length > deltas + 5);
    expect(c.session.slow).toBe(false);
    // Frames went out turn by turn: none were held back until the pending queue was full.
    expect(Math.max(...c.t.corked_batches.slice(batches_before))).toBeLessThan(session_pending_frames_max / 4);
    expect(c.t.mirror.violations).toEqual([]);
  });

  it('interval_ms: one conflated Delta per interval, changed mid-stream by subscribing again (acknowledged with Status)', async () => {
    const r = await rig({ symbols: ['BTC-USD'] });
    const c = r.connect();
    r.subscribe(c.session, ['BTC-USD'], 0, 100);
    await wait_for('snapshot', () => c.t.mirror.view('BTC-USD', 0) !== undefined);
    const v = c.t.mirror.view('BTC-USD', 0)!;
    await sleep(1000);
    const at_interval = v.count((f) => f.kind === 'delta');
    expect(at_interval).toBeGreaterThanOrEqual(3);
    expect(at_interval).toBeLessThanOrEqual(13); // at most one per 100 ms, generously
    expect(v.frames.filter((f) => f.kind === 'delta').every((f) => f.conflated)).toBe(true);

    const statuses = c.t.mirror.other.filter((m) => m.type === 'status').length;
    const frames_before = v.frames.length;
    r.subscribe(c.session, ['BTC-USD'], 0, 0); // back to every update
    await wait_for('acknowledged', () => c.t.mirror.other.filter((m) => m.type === 'status').length === statuses + 1);
    await wait_for('streaming', () => v.frames.slice(frames_before).filter((f) => !f.conflated).length >= 10);
    const streamed = v.frames.slice(frames_before);
    const first_streamed = streamed.findIndex((f) => !f.conflated);
    // At most an interval frame already on its way, then the catch-up to where the view is (if it moved); then every update.
    expect(first_streamed).toBeLessThanOrEqual(2);
    expect(streamed.slice(first_streamed).every((f) => !f.conflated)).toBe(true);

    r.subscribe(c.session, ['BTC-USD'], 0, 250); // and to an interval again
    await sleep(100);
    const before = v.frames.length;
    await sleep(1000);
    const later = v.frames.slice(before);
    expect(later.length).toBeGreaterThanOrEqual(1);
    expect(later.length).toBeLessThanOrEqual(6); // at most one per 250 ms, generously
    expect(later.every((f) => f.conflated)).toBe(true);
    await r.quiesce();
    await sleep(300); // the last interval tick
    expect(c.t.mirror.violations).toEqual([]);
    expect_engine_book(r, v, 'BTC-USD', 0);
    expect(c.session.slow_episodes).toBe(0);
  });
});
