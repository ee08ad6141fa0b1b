// peek_batch_range (src/wire/batch_peek.ts): the range a feed arbitrates two
// NATS paths on, read without decoding. It must agree with the full reader on
// every batch the encoder makes (heartbeats included) and never throw or
// report a range for bytes that are not an EventBatch (the full reader then
// says why).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { new_book_event } from '../../src/book/types.js';
import { peek_batch_range, type BatchRange } from '../../src/wire/batch_peek.js';
import { EventBatchEncoder, EventBatchReader, encode_heartbeat_batch } from '../../src/wire/engine_codec.js';

function batch(symbol: string, epoch: number, seq_first: number, count: number): Uint8Array {
  const encoder = new EventBatchEncoder(2);
  encoder.begin(symbol, epoch);
  for (let i = 0; i < count; i++) encoder.add({ ...new_book_event(), seq: seq_first + i, price: 100 + i, qty: 1, remaining: 1 });
  return encoder.finish(1.7e18);
}

describe('peek_batch_range', () => {
  it('reads what the full reader reads, for batches and heartbeats', () => {
    fc.assert(fc.property(
      fc.constantFrom('BTC-USD', 'X', 'A-VERY-LONG-SYMBOL-NAME'), fc.integer({ min: 0, max: 2 ** 52 }),
      fc.integer({ min: 1, max: 2 ** 52 }), fc.integer({ min: 0, max: 40 }),
      (symbol, epoch, seq_first, count) => {
        const bytes = count === 0 ? encode_heartbeat_batch(symbol, epoch, seq_first, 1.7e18) : batch(symbol, epoch, seq_first, count);
        const reader = new EventBatchReader();
        reader.read(bytes);
        const out: BatchRange = { epoch: -1, seq_first: -1, count: -1 };
        expect(peek_batch_range(bytes, out)).toBe(true);
        expect(out).toEqual({ epoch: reader.epoch, seq_first: reader.seq_first, count: reader.count });
      }));
  });

  it('says no (never throws) for truncated and random bytes', () => {
    const good = batch('BTC-USD', 7, 1000, 3);
    const out: BatchRange = { epoch: 0, seq_first: 0, count: 0 };
    for (let n = 0; n < 8; n++) expect(peek_batch_range(good.subarray(0, n), out)).toBe(false);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      expect(() => peek_batch_range(bytes, out)).not.toThrow();
    }));
    // A root offset past the end.
    const bad = good.slice();
    bad[0] = 0xfc; bad[1] = 0xff;
    expect(peek_batch_range(bad, out)).toBe(false);
  });
});
