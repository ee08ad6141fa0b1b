// The fuzz corpus of server and client frames and the mutations applied to
// them (random, truncated, bit-flipped, overwritten, spliced), shared by the
// decoder fuzz test and the test that the SDK's DeltaReader refuses and reads
// exactly what decode_server_frame does. Test code; seeded by the caller.
import { side_ask } from '../../src/book/types.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';

/** One valid frame of every body, server and client. */
export function corpus(): Uint8Array[] {
  const enc = new FrameEncoder();
  const levels = (n: number, base: number) => Array.from({ length: n }, (_, i) => ({ price: base + i, size: 10 * i + 1, orders: i + 1 }));
  return [
    enc.snapshot({ symbol: 'BTC-USD', depth: 10, epoch: 3, seq: 1000, digest: 0xabcdef01, tick_size: '0.01', lot_size: '0.0001', price_decimals: 2, size_decimals: 4, bids: levels(10, 100), asks: levels(10, 200), ts_engine_ns: 1.7e18, ts_ingest_ns: 1.7e18 + 5000, ts_send_ns: 1.7e18 + 9000 }),
    enc.delta({ symbol: 'ETH-USD', depth: 0, epoch: 1, seq_first: 5, seq: 9, digest: 7, bids: levels(3, 50), asks: levels(2, 60), trades: [{ trade_id: 1, price: 55, size: 2, ts_engine_ns: 1.7e18, aggressor: side_ask }], trade_aggregate: { count: 3, first_trade_id: 1, last_trade_id: 3, volume: 9, vwap: 55.5, high: 56, low: 55, last: 56, buy_volume: 4 }, updates_merged: 4, conflated: true, ts_engine_ns: 1, ts_ingest_ns: 2, ts_send_ns: 3 }),
    enc.delta({ symbol: 'X', depth: 50, epoch: 1, seq_first: 10, seq: 10, digest: 0, bids: [], asks: levels(1, 5), trades: [], trade_aggregate: null, updates_merged: 1, conflated: false, ts_engine_ns: 0, ts_ingest_ns: 0, ts_send_ns: 0 }),
    enc.heartbeat({ server_time_ns: 1.7e18 }),
    enc.status({ symbols: [{ symbol: 'BTC-USD', state: 'live', epoch: 1, seq: 2 }, { symbol: 'ETH-USD', state: 'recovering', epoch: 4, seq: 0 }] }),
    enc.error({ code: 4, message: 'unknown symbol: ZZZ', symbol: 'ZZZ' }),
    enc.pong({ nonce: 12, client_time_ns: 1.7e18, server_time_ns: 1.7e18 + 1 }),
    enc.subscribe({ symbols: ['BTC-USD', 'ETH-USD', 'SOL-USD'], depth: 10, interval_ms: 100 }),
    enc.unsubscribe({ symbols: ['BTC-USD'], depth: 0 }),
    enc.resync({ symbol: 'ETH-USD', depth: 50 }),
    enc.ping({ nonce: 99, client_time_ns: 1.7e18 }),
  ];
}

const interesting_u32 = [0, 1, 2, 3, 4, 8, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff];

/** A mutated copy of one of `frames` (or random bytes); `r` is a seeded PRNG in [0, 1). */
export function mutate(r: () => number, frames: Uint8Array[]): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  const base = frames[pick(frames.length)];
  switch (pick(6)) {
    case 0: {
      const out = new Uint8Array(pick(300));
      for (let i = 0; i < out.length; i++) out[i] = pick(256);
      return out;
    }
    case 1:
      return base.slice(0, pick(base.length));
    case 2: {
      const out = base.slice();
      for (let k = 1 + pick(4); k > 0; k--) out[pick(out.length)] ^= 1 << pick(8);
      return out;
    }
    case 3: {
      const out = base.slice();
      const at = pick(out.length >> 2) << 2;
      const values = [...interesting_u32, out.length, out.length - 4, pick(2 ** 32)];
      new DataView(out.buffer).setUint32(at, values[pick(values.length)], true);
      return out;
    }
    case 4: {
      const out = base.slice();
      const at = pick(out.length >> 1) << 1;
      new DataView(out.buffer).setUint16(at, [0, 2, 4, 0xffff, 0x7ffe, pick(65536)][pick(6)], true);
      return out;
    }
    default: {
      const other = frames[pick(frames.length)];
      const out = new Uint8Array(base.length);
      out.set(base);
      const at = pick(base.length);
      out.set(other.subarray(0, Math.min(other.length, base.length - at)), at);
      return out;
    }
  }
}
