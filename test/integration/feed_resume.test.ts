// Resuming views on reconnect (docs/PROTOCOL.md §5.8), checked by the
// independent protocol client (generated-code decoder, ViewMirror checks of
// every range and digest) against a real feed: a client that reconnects with
// the books it holds gets Status resume = Resumed and Deltas that continue
// them, no Snapshot; each refusal says why and is followed by a Snapshot;
// malformed resume vectors get Error 12.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import { error_code } from '../../src/wire/codes.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { ProtocolClient } from '../helpers/protocol_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
// feed.fbs enum Resume
const resumed = 1;
const new_epoch = 2;
const too_old = 3;
const ahead = 4;

describe('resuming views on reconnect', () => {
  let all: AllInOne;

  beforeAll(async () => {
    all = await start_all(test_config({ symbols, rate_orders_per_s: 1500 }));
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    await all?.stop();
  });

  it('a client that reconnects with its books continues them from its seq: Resumed, Deltas only, exact to the end', async () => {
    const url = all.feed_service.url;
    const first = await ProtocolClient.connect(url);
    first.subscribe(symbols, 0);
    first.subscribe(symbols, 10);
    await wait_for('books', () => symbols.every((s) => first.book(s, 0) !== undefined && first.book(s, 10) !== undefined));
    await sleep(300);
    first.close();
    await sleep(400); // the market moves on while it is away
    const held = (d: number) => symbols.map((s) => first.book(s, d)!);
    const snapshots_before = [...held(0), ...held(10)].map((v) => v.snapshots);

    const again = await ProtocolClient.connect(url, { mirror: first.mirror });
    for (const d of [0, 10]) again.subscribe(symbols, d, 0, { epochs: held(d).map((v) => v.epoch), seqs: held(d).map((v) => v.seq) });
    await wait_for('statuses', () => again.statuses.length === 2 * symbols.length);
    expect(again.statuses.map((s) => [s.symbol, s.resume, s.resume_depth])).toEqual([
      ...symbols.map((s) => [s, resumed, 0]), ...symbols.map((s) => [s, resumed, 10]),
    ]);
    await sleep(300);
    await all.engine.pause(60_000);
    await sleep(200);
    // No Snapshot came: every view went on from the seq it held, each frame checked by the mirror.
    expect([...held(0), ...held(10)].map((v) => v.snapshots)).toEqual(snapshots_before);
    for (const s of symbols) {
      const book = all.engine.snapshot(s);
      await wait_for(`${s} at the engine's book`, () => at_engine_book(again.book(s, 0), book) && at_engine_book(again.book(s, 10), book, 10));
      expect(again.sorted(s, 0).bids).toEqual(book.bids.map((l) => [l.price, l.size, l.orders]));
      expect(again.sorted(s, 10).asks).toEqual(book.asks.slice(0, 10).map((l) => [l.price, l.size, l.orders]));
    }
    expect(again.violations).toEqual([]);
    expect(again.errors).toEqual([]);
    again.close();
  });

  it('refusals say why and bring a Snapshot; malformed resume vectors get Error 12', async () => {
    const c = await ProtocolClient.connect(all.feed_service.url);
    const f = all.feed_service.feed.symbols.get('BTC-USD')!;
    // Another epoch; a seq far past the feed's; a seq from before the feed's history began.
    c.subscribe(symbols, 0, 0, { epochs: [f.epoch + 1, f.epoch, f.epoch], seqs: [f.committed_seq, 2 ** 50, 1] });
    await wait_for('statuses and snapshots', () => c.statuses.length === 3 && symbols.every((s) => c.book(s, 0)?.snapshots === 1));
    expect(c.statuses.map((s) => [s.symbol, s.resume])).toEqual([['BTC-USD', new_epoch], ['ETH-USD', ahead], ['SOL-USD', too_old]]);
    c.subscribe(['BTC-USD'], 50, 0, { epochs: [f.epoch], seqs: [] });
    await wait_for('error', () => c.errors.length === 1);
    expect(c.errors[0].code).toBe(error_code.bad_request);
    expect(c.errors[0].message).toMatch(/resume_epochs and resume_seqs/);
    expect(c.violations).toEqual([]);
    c.close();
  });
});
