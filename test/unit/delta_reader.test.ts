// The SDK's hot path (DeltaReader + ClientBook.apply_delta_from) against the
// reference (decode_server_frame + ClientBook.apply_delta), on the decoder
// fuzz corpus: the same frames refused, the same fields read, and, over a
// seeded stream of valid and mutated Deltas on one book, the same verdict and
// the same book after every frame.
import { describe, expect, it } from 'vitest';
import { ClientBook, type Verdict } from '../../src/client/book.js';
import { digest_of } from '../../src/book/digest.js';
import { side_ask, side_bid, type L2Level } from '../../src/book/types.js';
import { seeded_random } from '../../src/util/random.js';
import { body_delta, DeltaReader } from '../../src/wire/delta_reader.js';
import { decode_server_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import type { DeltaMsg, ServerMsg, TradeRec } from '../../src/wire/feed_types.js';
import { WireError } from '../../src/wire/wire_error.js';
import { corpus, mutate } from '../helpers/feed_frame_fuzz.js';

const cases = Number(process.env.DEPTHCAST_FUZZ_CASES ?? 20_000);
const seed = Number(process.env.DEPTHCAST_FUZZ_SEED ?? 0x5eed);

type Outcome = { refused: string } | { msg: ServerMsg };

function reference(bytes: Uint8Array): Outcome {
  try {
    return { msg: decode_server_frame(bytes) };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return { refused: e.message };
  }
}

/** What the SDK's path makes of the bytes, as a DeltaMsg for comparison (built here, not by the SDK). */
function flyweight(reader: DeltaReader, bytes: Uint8Array): Outcome {
  try {
    if (reader.read(bytes) !== body_delta) return { msg: decode_server_frame(bytes) };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return { refused: e.message };
  }
  const side_levels = (side: typeof side_bid | typeof side_ask): L2Level[] => Array.from({ length: reader.level_count(side) },
    (_, i) => ({ price: reader.level_price(side, i), size: reader.level_size(side, i), orders: reader.level_orders(side, i) }));
  const trades: TradeRec[] = Array.from({ length: reader.trade_count }, (_, i) => reader.trade_into(i, { trade_id: 0, price: 0, size: 0, ts_engine_ns: 0, aggressor: side_bid }));
  const msg: DeltaMsg = {
    type: 'delta', symbol: reader.symbol, depth: reader.depth, epoch: reader.epoch, seq_first: reader.seq_first, seq: reader.seq,
    digest: reader.digest, bids: side_levels(side_bid), asks: side_levels(side_ask), trades, trade_aggregate: reader.trade_aggregate,
    updates_merged: reader.updates_merged, conflated: reader.conflated,
    ts_engine_ns: reader.ts_engine_ns, ts_ingest_ns: reader.ts_ingest_ns, ts_send_ns: reader.ts_send_ns,
  };
  return { msg };
}

/** A seeded full-depth book (bids below 1000, asks from 1000: never crossed) and valid frames about it. */
class BookStream {
  readonly enc = new FrameEncoder();
  private readonly bids = new Map<number, L2Level>();
  private readonly asks = new Map<number, L2Level>();
  seq = 1;

  constructor(private readonly r: () => number) {
    for (let i = 0; i < 20; i++) this.change();
  }

  snapshot(): Uint8Array {
    const sorted = (m: Map<number, L2Level>, dir: number) => [...m.values()].sort((a, b) => dir * (a.price - b.price));
    const bids = sorted(this.bids, -1);
    const asks = sorted(this.asks, 1);
    return this.enc.snapshot({ symbol: 'BTC-USD', depth: 0, epoch: 7, seq: this.seq, digest: digest_of(bids, asks), tick_size: '0.01', lot_size: '1',
      price_decimals: 2, size_decimals: 0, bids, asks, ts_engine_ns: 1.7e18, ts_ingest_ns: 1.7e18, ts_send_ns: 1.7e18 });
  }

  /** The next Delta: 1..4 level changes (some removals), a trade now and then. */
  delta(): Uint8Array {
    const seq_first = this.seq + 1;
    const bids: L2Level[] = [];
    const asks: L2Level[] = [];
    for (let k = 1 + Math.floor(this.r() * 4); k > 0; k--) {
      const [side, level] = this.change();
      (side === side_bid ? bids : asks).push(level);
    }
    this.seq += 1 + Math.floor(this.r() * 3);
    const trades = this.r() < 0.3 ? [{ trade_id: this.seq, price: 1000, size: 3, ts_engine_ns: 1.7e18 + this.seq, aggressor: side_ask }] : [];
    return this.enc.delta({ symbol: 'BTC-USD', depth: 0, epoch: 7, seq_first, seq: this.seq, digest: digest_of([...this.bids.values()], [...this.asks.values()]),
      bids, asks, trades, trade_aggregate: null, updates_merged: 1, conflated: false, ts_engine_ns: 1.7e18, ts_ingest_ns: 1.7e18, ts_send_ns: 1.7e18 });
  }

  private change(): [typeof side_bid | typeof side_ask, L2Level] {
    const side = this.r() < 0.5 ? side_bid : side_ask;
    const book = side === side_bid ? this.bids : this.asks;
    const price = side === side_bid ? 990 + Math.floor(this.r() * 10) : 1000 + Math.floor(this.r() * 10);
    const remove = book.has(price) && this.r() < 0.3;
    const level = { price, size: remove ? 0 : 1 + Math.floor(this.r() * 50), orders: remove ? 0 : 1 + Math.floor(this.r() * 5) };
    if (remove) book.delete(price);
    else book.set(price, level);
    return [side, level];
  }
}

function state(b: ClientBook) {
  return { has_snapshot: b.has_snapshot, epoch: b.epoch, seq: b.seq, digest: b.digest, bids: b.bids, asks: b.asks, removals: b.unknown_level_removals, problem: b.last_problem };
}

describe('DeltaReader (the SDK hot path) agrees with decode_server_frame', () => {
  it(`on ${cases} mutated corpus frames: the same refused, the same read`, () => {
    const r = seeded_random(seed);
    const frames = corpus();
    const reader = new DeltaReader();
    const norm = (v: unknown) => JSON.parse(JSON.stringify(v));
    let deltas = 0;
    let refused = 0;
    for (let c = 0; c < cases; c++) {
      const bytes = mutate(r, frames);
      const want = reference(bytes);
      const got = flyweight(reader, bytes);
      expect('refused' in got, `case ${c}: ${JSON.stringify(want)}`).toBe('refused' in want);
      if ('msg' in want && 'msg' in got) {
        expect(norm(got.msg)).toEqual(norm(want.msg));
        if (want.msg.type === 'delta') deltas++;
      } else refused++;
    }
    // Both outcomes, and Deltas among what decodes, or the corpus is not exercising the reader.
    expect(deltas).toBeGreaterThan(cases / 50);
    expect(refused).toBeGreaterThan(cases / 4);
  }, 60_000);

  it(`on a book stream of ${cases} valid, mutated, repeated and lost frames: the same verdicts, the same book after each`, () => {
    const r = seeded_random(seed + 1);
    const stream = new BookStream(r);
    const reader = new DeltaReader();
    const ref_book = new ClientBook('BTC-USD', 0);
    const sdk_book = new ClientBook('BTC-USD', 0);
    const verdicts = new Map<Verdict | 'refused', number>();
    let previous = stream.snapshot();
    for (let c = 0; c < cases; c++) {
      let bytes: Uint8Array;
      const pick = r();
      if (!ref_book.has_snapshot || pick < 0.02) bytes = stream.snapshot();
      else if (pick < 0.05) bytes = previous; // repeated: duplicate or break
      else if (pick < 0.07) { stream.delta(); bytes = stream.delta(); } // one lost: range break
      else if (pick < 0.35) bytes = mutate(r, [stream.delta()]);
      else bytes = stream.delta();
      previous = bytes;
      const want = reference(bytes);
      let ref_verdict: Verdict | 'refused' = 'refused';
      if ('msg' in want && want.msg.type === 'snapshot') ref_verdict = ref_book.load_snapshot(want.msg);
      else if ('msg' in want && want.msg.type === 'delta' && ref_book.has_snapshot) ref_verdict = ref_book.apply_delta(want.msg);
      let sdk_verdict: Verdict | 'refused' = 'refused';
      try {
        if (reader.read(bytes) === body_delta) {
          if (sdk_book.has_snapshot) sdk_verdict = sdk_book.apply_delta_from(reader);
        } else {
          const msg = decode_server_frame(bytes);
          if (msg.type === 'snapshot') sdk_verdict = sdk_book.load_snapshot(msg);
        }
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
      }
      expect(sdk_verdict, `frame ${c}`).toBe(ref_verdict);
      expect(state(sdk_book), `frame ${c}`).toEqual(state(ref_book));
      verdicts.set(ref_verdict, (verdicts.get(ref_verdict) ?? 0) + 1);
    }
    // Every path the comparison is about must have been taken.
    for (const v of ['ok', 'refused', 'digest_mismatch', 'range_break', 'duplicate'] as const) expect(verdicts.get(v) ?? 0, v).toBeGreaterThan(10);
  }, 60_000);
});
