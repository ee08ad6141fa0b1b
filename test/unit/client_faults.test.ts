// The SDK against an in-process fake feed that breaks the stream on purpose.
// Each fault must end in a correct book or an explicit state.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, seeded_random, side_ask, side_bid, type BookHandle, type ConnectionState, type FeedClient, type FeedClientError, type FeedClientOptions, type ViewState } from '../../src/client/index.js';
import { client_latency } from '../../src/client/latency.js';
import { FakeFeedServer, type LevelTuple } from '../helpers/fake_feed_server.js';
import { wait_for } from '../helpers/service.js';

const heartbeat_ms = 100;
let server: FakeFeedServer | undefined;
let client: FeedClient | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  await server?.close();
  server = undefined;
});

async function setup(options: FeedClientOptions = {}): Promise<{ server: FakeFeedServer; client: FeedClient }> {
  server = await FakeFeedServer.start({ heartbeat_interval_ms: heartbeat_ms });
  server.update('BTC-USD', { bids: [[100, 5, 1], [99, 3, 2], [98, 1, 1]], asks: [[101, 2, 1], [102, 4, 3]] });
  server.update('ETH-USD', { bids: [[50, 1, 1]], asks: [[52, 1, 1]] });
  // The client's heartbeat setting is generous (2.5x the fake's) so a loaded CI machine does not look half-open.
  client = connect(server.url, { WebSocket, heartbeat_interval_ms: 250, backoff_initial_ms: 20, backoff_max_ms: 200, random: seeded_random(1), ...options });
  return { server, client };
}

/** The book equals the fake's view, and the client says synced. */
function in_sync(s: FakeFeedServer, book: BookHandle): boolean {
  const view = s.view(book.symbol, book.depth);
  return book.state === 'synced' && book.seq === s.seq(book.symbol) && book.epoch === s.epoch
    && JSON.stringify(book.bids) === JSON.stringify(view.bids) && JSON.stringify(book.asks) === JSON.stringify(view.asks);
}

function states_of(book: BookHandle): ViewState[] {
  const seen: ViewState[] = [];
  book.on('state', (s) => seen.push(s));
  return seen;
}

function bids(...l: LevelTuple[]): { bids: LevelTuple[] } {
  return { bids: l };
}

describe('FeedClient against a fake feed', () => {
  it('subscribes, gets the snapshot then deltas at two depths, and records latency per hop', async () => {
    const hops = client_latency();
    const { server: s, client: c } = await setup({ hops });
    const deep = c.subscribe('BTC-USD', { depth: 0 });
    const top = c.subscribe('BTC-USD', { depth: 10 });
    const eth = c.subscribe('ETH-USD', { depth: 10 });
    expect(c.subscribe('BTC-USD', { depth: 10 })).toBe(top);
    await wait_for('snapshots', () => in_sync(s, deep) && in_sync(s, top) && in_sync(s, eth));
    expect(c.state).toBe('synced');
    const updates: number[] = [];
    top.on('update', (info) => updates.push(info.seq));
    const trades: number[] = [];
    c.on('trade', (_book, t) => trades.push(t.trade_id));
    for (let i = 0; i < 20; i++) s.update('BTC-USD', bids([97 - i, 1 + i, 1]));
    s.update('BTC-USD', { asks: [[101, 1, 1]], trades: [{ trade_id: 7, price: 101, size: 1, aggressor: side_bid }] });
    await wait_for('deltas', () => in_sync(s, deep) && in_sync(s, top) && top.seq === s.seq('BTC-USD'));
    expect(deep.bids.length).toBe(23);
    expect(top.bids.length).toBe(10);
    expect([top.best_bid_price(), top.best_ask_price(), top.spread(), top.mid()]).toEqual([100, 101, 1, 100.5]);
    expect(top.format_price(top.best_bid_price()!)).toBe('1.00');
    expect(trades).toEqual([7, 7]); // once per view (depth 0 and 10)
    expect(updates[updates.length - 1]).toBe(s.seq('BTC-USD'));
    expect(c.counters.digest_mismatches + c.counters.range_breaks + c.counters.resyncs).toBe(0);
    expect(c.hops).toBe(hops);
    expect(hops.count('engine_to_receive')).toBeGreaterThan(0);
    expect(hops.count('send_to_receive')).toBe(hops.count('engine_to_receive'));
    expect(c.counters.frames).toBeGreaterThan(c.counters.deltas);
    expect(c.counters.bytes).toBeGreaterThan(0);
  });

  it('gap: that symbol alone resyncs in-band and ends synced with the right book; others keep flowing', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    const eth = c.subscribe('ETH-USD');
    await wait_for('initial sync', () => in_sync(s, btc) && in_sync(s, eth));
    const btc_states = states_of(btc);
    const eth_states = states_of(eth);
    const errors: FeedClientError[] = [];
    c.on('error', (e) => errors.push(e));
    s.inject('drop', 'BTC-USD');
    s.update('BTC-USD', bids([100, 9, 3]));   // lost
    s.update('BTC-USD', bids([99, 8, 1]));    // arrives after a gap
    s.update('ETH-USD', bids([50, 2, 2]));
    await wait_for('resync after gap', () => c.counters.range_breaks === 1 && in_sync(s, btc) && in_sync(s, eth));
    expect(btc_states).toEqual(['resyncing', 'synced']);
    expect(eth_states).toEqual([]);
    expect(c.counters.resyncs).toBe(1);
    expect(s.received.filter((r) => r.msg.type === 'resync')).toEqual([{ conn: 1, msg: { type: 'resync', symbol: 'BTC-USD', depth: 10 } }]);
    expect(errors.map((e) => [e.kind, e.verdict, e.symbol])).toEqual([['verify', 'range_break', 'BTC-USD']]);
    expect(btc.bids[0]).toEqual({ price: 100, size: 9, orders: 3 });
  });

  it('corrupt digest: digest_mismatches 1, resync, then the right book', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD', { depth: 50 });
    await wait_for('initial sync', () => in_sync(s, btc));
    s.inject('corrupt_digest', 'BTC-USD');
    s.update('BTC-USD', bids([100, 1, 1]));
    s.update('BTC-USD', bids([96, 4, 1]));
    await wait_for('resync after digest mismatch', () => c.counters.digest_mismatches === 1 && in_sync(s, btc));
    expect(c.counters.resyncs).toBe(1);
    expect(c.counters.range_breaks).toBe(0);
  });

  it('duplicate: detected and ignored, the book stays right without a resync', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    s.inject('duplicate', 'BTC-USD');
    s.update('BTC-USD', bids([100, 6, 2]));
    s.update('BTC-USD', bids([100, 7, 3]));
    await wait_for('duplicate seen', () => c.counters.duplicates === 1 && in_sync(s, btc));
    expect(c.counters.resyncs).toBe(0);
    expect(btc.bids[0]).toEqual({ price: 100, size: 7, orders: 3 });
  });

  it('reordering: a break, a resync, the late frame discarded, then the right book', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    s.inject('reorder', 'BTC-USD');
    s.update('BTC-USD', bids([100, 6, 2])); // held back
    s.update('BTC-USD', bids([99, 1, 1]));  // sent first, then the held one
    await wait_for('resync after reorder', () => c.counters.range_breaks === 1 && in_sync(s, btc));
    expect(c.counters.resyncs).toBe(1);
    expect(c.counters.discarded_deltas).toBe(1); // the late frame, before the resync snapshot
  });

  it('a delta of another epoch without a snapshot is a break', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    s.inject('wrong_epoch', 'BTC-USD');
    s.update('BTC-USD', bids([100, 6, 2]));
    await wait_for('resync after epoch change', () => c.counters.epoch_changes === 1 && in_sync(s, btc));
  });

  it('deltas arriving before the resync snapshot are discarded; the snapshot replaces the book', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    s.pause_snapshots();
    s.inject('drop', 'BTC-USD');
    s.update('BTC-USD', bids([100, 6, 2]));
    s.update('BTC-USD', bids([99, 1, 1]));   // break → Resync (snapshot held)
    await wait_for('resync asked', () => btc.state === 'resyncing' && s.received.some((r) => r.msg.type === 'resync'));
    s.update('BTC-USD', bids([98, 7, 1]));   // reaches the client before the snapshot
    s.update('BTC-USD', { asks: [[101, 0, 0]] });
    await wait_for('deltas discarded', () => c.counters.discarded_deltas === 2);
    expect(btc.state).toBe('resyncing');
    s.release_snapshots();
    await wait_for('synced after the held snapshot', () => in_sync(s, btc));
    expect(btc.asks[0].price).toBe(102);
  });

  it('restart: reconnects with backoff, resubscribes, and replaces the book (never merges)', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD', { depth: 0 });
    const eth = c.subscribe('ETH-USD', { depth: 10, interval_ms: 100 });
    await wait_for('initial sync', () => in_sync(s, btc) && in_sync(s, eth));
    const conn_states: ConnectionState[] = [];
    c.on('state', (st) => conn_states.push(st));
    s.restart({ down_ms: 150 });
    // The engine restarted with a different book: levels 99 and 98 are gone.
    s.reset_book('BTC-USD', { bids: [[100, 1, 1]], asks: [[103, 2, 1]] });
    s.update('BTC-USD', bids([97, 5, 1]));
    await wait_for('synced after restart', () => in_sync(s, btc) && in_sync(s, eth));
    expect(btc.epoch).toBe(2);
    expect(btc.bids.map((l) => l.price)).toEqual([100, 97]);
    expect(btc.asks.map((l) => l.price)).toEqual([103]);
    expect(conn_states[0]).toBe('connecting');
    expect(conn_states[conn_states.length - 1]).toBe('synced');
    expect(c.counters.reconnects).toBeGreaterThanOrEqual(1);
    expect(s.refused).toBeGreaterThanOrEqual(1); // it did retry while the server was down
    const subs = s.received.filter((r) => r.msg.type === 'subscribe' && r.conn > 1).map((r) => r.msg);
    // Each view offers the (epoch, seq) it held; this fake feed knows no resume and answers with Snapshots, which replace the books.
    expect(subs).toEqual(expect.arrayContaining([
      { type: 'subscribe', symbols: ['BTC-USD'], depth: 0, interval_ms: 0, resume: [{ epoch: 1, seq: expect.any(Number) }] },
      { type: 'subscribe', symbols: ['ETH-USD'], depth: 10, interval_ms: 100, resume: [{ epoch: 1, seq: expect.any(Number) }] },
    ]));
  });

  it('half-open socket: stale after 2 heartbeat intervals, then closed and reconnected', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    const conn_states: ConnectionState[] = [];
    c.on('state', (st) => conn_states.push(st));
    const book_states = states_of(btc);
    s.half_open();
    s.update('BTC-USD', bids([100, 2, 1])); // never reaches the client
    await wait_for('stale detected', () => c.counters.stale_connections === 1);
    await wait_for('reconnected and synced', () => in_sync(s, btc) && c.state === 'synced');
    expect(conn_states.slice(0, 2)).toEqual(['stale', 'connecting']);
    expect(book_states).toEqual(['stale', 'synced']);
    expect(c.counters.reconnects).toBe(1);
    expect(btc.bids[0]).toEqual({ price: 100, size: 2, orders: 1 });
  });

  it('a process held up past the stale deadline reads what waited in its socket before judging it: no reconnect', async () => {
    const { server: s, client: c } = await setup(); // stale after 500 ms of silence
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    for (let i = 0; i < 3; i++) {
      s.update('BTC-USD', bids([100, 6 + i, 1])); // in the client's socket, unread, while this process is held up
      // Held up in the check phase: the next loop turn runs its due timers (the watchdog) before it reads sockets.
      await new Promise<void>((resolve) => setImmediate(() => {
        const until = Date.now() + 700;
        while (Date.now() < until) { /* no timer runs, no socket is read */ }
        resolve();
      }));
      await new Promise((r) => setTimeout(r, 100));
    }
    await wait_for('last update applied', () => in_sync(s, btc));
    expect(c.counters.stale_connections).toBe(0);
    expect(c.counters.reconnects).toBe(0);
  });

  it('garbage and text frames are counted, the connection and books carry on', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    const errors: FeedClientError[] = [];
    c.on('error', (e) => errors.push(e));
    s.send_raw(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    s.send_raw('hello');
    s.update('BTC-USD', bids([100, 2, 1]));
    await wait_for('decode errors counted', () => c.counters.decode_errors === 2 && in_sync(s, btc));
    expect(errors.every((e) => e.kind === 'decode')).toBe(true);
    expect(c.counters.resyncs).toBe(0);
  });

  it('an unknown symbol is refused by the server: the view closes with an error, others are served', async () => {
    const { server: s, client: c } = await setup();
    const errors: FeedClientError[] = [];
    c.on('error', (e) => errors.push(e));
    const nope = c.subscribe('NOPE-USD');
    const btc = c.subscribe('BTC-USD');
    await wait_for('refusal', () => nope.state === 'closed' && in_sync(s, btc));
    expect(c.book('NOPE-USD')).toBeUndefined();
    expect(errors.map((e) => [e.kind, e.code, e.symbol])).toEqual([['refused', 4, 'NOPE-USD']]);
  });

  it('unsubscribe stops a view; close() ends everything without reconnecting', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    const eth = c.subscribe('ETH-USD');
    await wait_for('initial sync', () => in_sync(s, btc) && in_sync(s, eth));
    c.unsubscribe('BTC-USD');
    await wait_for('unsubscribe sent', () => s.received.some((r) => r.msg.type === 'unsubscribe'));
    expect(btc.state).toBe('closed');
    s.update('ETH-USD', bids([50, 3, 1]));
    await wait_for('eth still flows', () => in_sync(s, eth));
    const rtt = await c.ping();
    expect(rtt).toBeGreaterThan(0);
    c.close();
    expect([c.state, eth.state]).toEqual(['closed', 'closed']);
    await wait_for('socket closed', () => s.connection_count() === 0);
    expect(() => c.subscribe('ETH-USD')).toThrow(/closed/);
  });

  it('conflated deltas: counted, merged versions reported, folded trades arrive as an aggregate', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    const infos: { conflated: boolean; updates_merged: number }[] = [];
    btc.on('update', (i) => infos.push({ conflated: i.conflated, updates_merged: i.updates_merged }));
    const aggregates: number[] = [];
    btc.on('trade_aggregate', (a) => aggregates.push(a.count));
    s.pause_deltas();
    for (let i = 0; i < 5; i++) s.update('BTC-USD', { bids: [[100, 10 + i, 1]], trades: [{ trade_id: 100 + i, price: 101, size: 1, aggressor: side_bid }] });
    s.flush_conflated();
    await wait_for('conflated delta applied', () => in_sync(s, btc) && aggregates.length === 1);
    expect(infos).toEqual([{ conflated: true, updates_merged: 5 }]);
    expect(aggregates).toEqual([5]);
    expect([c.counters.conflated_frames, c.counters.trades_folded, c.counters.trades]).toEqual([1, 5, 0]);
  });

  it('a catch-up snapshot replaces the book and delivers the folded trades', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    const aggregates: number[] = [];
    btc.on('trade_aggregate', (a) => aggregates.push(a.last_trade_id));
    s.pause_deltas();
    for (let i = 0; i < 3; i++) s.update('BTC-USD', { bids: [[99, 0, 0]], trades: [{ trade_id: 200 + i, price: 99, size: 2, aggressor: side_ask }] });
    s.flush_conflated({ as_snapshot: true });
    await wait_for('catch-up snapshot', () => in_sync(s, btc) && aggregates.length === 1);
    expect(aggregates).toEqual([202]);
    expect(c.counters.trades_folded).toBe(3);
    expect(btc.bids.map((l) => l.price)).toEqual([100, 98]);
  });

  it('trades the feed never had: trades_missing comes once, in trade id order among the trades listed around it', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    const on_book: string[] = [];
    const on_client: string[] = [];
    btc.on('trade', (t) => on_book.push(`trade ${t.trade_id}`));
    btc.on('trades_missing', (r) => on_book.push(`missing ${r.first_trade_id}-${r.last_trade_id}`));
    c.on('trade', (_b, t) => on_client.push(`trade ${t.trade_id}`));
    c.on('trades_missing', (b, r) => on_client.push(`${b === btc ? '' : 'another book: '}missing ${r.first_trade_id}-${r.last_trade_id}`));
    // A catch-up can list trades from before the hole and after it (PROTOCOL.md §5.5): the hole is said where it is.
    const trade = (trade_id: number) => ({ trade_id, price: 100, size: 1, aggressor: side_bid });
    s.update('BTC-USD', { bids: [[100, 7, 1]], trades: [trade(40), trade(41), trade(60), trade(61)], missing_trades: { first_trade_id: 42, last_trade_id: 59 } });
    // Only after it: the hole comes first.
    s.update('BTC-USD', { bids: [[100, 8, 1]], trades: [trade(70)], missing_trades: { first_trade_id: 62, last_trade_id: 69 } });
    await wait_for('both deltas applied', () => in_sync(s, btc) && on_book.length === 7);
    const expected = ['trade 40', 'trade 41', 'missing 42-59', 'trade 60', 'trade 61', 'missing 62-69', 'trade 70'];
    expect(on_book).toEqual(expected);
    expect(on_client).toEqual(expected);
    expect([c.counters.trades, c.counters.trades_missing, c.counters.digest_mismatches, c.counters.resyncs]).toEqual([5, 26, 0, 0]);
  });

  it('Status Recovering: the book shows stale until the fresh snapshot', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    const eth = c.subscribe('ETH-USD');
    await wait_for('initial sync', () => in_sync(s, btc) && in_sync(s, eth));
    s.status([{ symbol: 'BTC-USD', state: 'recovering', epoch: 1, seq: 1 }]);
    await wait_for('status applied', () => btc.feed_state === 'recovering');
    expect([btc.state, eth.state]).toEqual(['stale', 'synced']);
    s.status([{ symbol: 'BTC-USD', state: 'live', epoch: 1, seq: 1 }]);
    s.pause_deltas();
    s.flush_conflated({ as_snapshot: true });
    await wait_for('synced after the fresh snapshot', () => in_sync(s, btc));
    expect(c.counters.statuses).toBe(2);
  });

  it('a view whose snapshot does not come asks again after snapshot_timeout_ms', async () => {
    const { server: s, client: c } = await setup({ snapshot_timeout_ms: 100 });
    s.pause_snapshots();
    const btc = c.subscribe('BTC-USD');
    await wait_for('snapshot timeout', () => c.counters.snapshot_timeouts >= 1);
    // The client asks again on the timeout; the server sees it one socket hop later.
    await wait_for('subscribe sent again', () => s.received.filter((r) => r.msg.type === 'subscribe').length >= 2);
    expect(btc.state).toBe('connecting');
    s.release_snapshots();
    await wait_for('synced once snapshots flow', () => in_sync(s, btc));
  });

  it('close code 4003 (unauthorized) is final: no reconnect, state closed, an error says why', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    const errors: FeedClientError[] = [];
    c.on('error', (e) => errors.push(e));
    s.close_all(4003, 'token expired');
    await wait_for('closed', () => c.state === 'closed');
    expect(btc.state).toBe('closed');
    expect(errors.map((e) => [e.kind, e.code])).toEqual([['socket', 4003]]);
    expect(c.counters.reconnects).toBe(0);
  });

  it('close code 4008 (slow consumer) reconnects and resubscribes', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    await wait_for('initial sync', () => in_sync(s, btc));
    s.close_all(4008, 'slow');
    s.update('BTC-USD', bids([100, 1, 1]));
    await wait_for('reconnected', () => c.counters.reconnects === 1 && in_sync(s, btc));
  });

  it('a listener that throws does not break frame processing', async () => {
    const { server: s, client: c } = await setup();
    const btc = c.subscribe('BTC-USD');
    btc.on('update', () => { throw new Error('boom'); });
    await wait_for('sync despite a throwing listener', () => in_sync(s, btc));
    s.update('BTC-USD', bids([100, 2, 1]));
    await wait_for('still applying', () => in_sync(s, btc));
    expect(c.counters.listener_errors).toBeGreaterThanOrEqual(2);
  });
});
