// Same seed and config → byte-identical published stream (virtual clock);
// a different seed → a different stream. Also checks the stream's framing:
// seq contiguous per symbol, batch bounds, and batches ending on end markers.
import { describe, expect, it } from 'vitest';
import { type BookEvent, event_execute, flag_end_of_engine_event, new_book_event } from '../../src/book/types.js';
import { type Config, default_config } from '../../src/config.js';
import { generate_event_batches, type GeneratedBatch } from '../../src/engine/engine.js';
import { EventBatchReader } from '../../src/wire/engine_codec.js';

function config(overrides: Partial<Config>): Config {
  return { ...default_config(), rate_orders_per_s: 20_000, ...overrides };
}

function concatenated(batches: GeneratedBatch[]): Buffer {
  return Buffer.concat(batches.flatMap((b) => [Buffer.from(b.subject), Buffer.from(b.bytes)]));
}

interface Framing { events: number; trades: number; full_batches_cut_mid_event: number }

/** Decodes every batch and checks the invariants of the stream; returns counts. */
function check_framing(batches: GeneratedBatch[], c: Config, epoch: number): Framing {
  const reader = new EventBatchReader();
  const ev: BookEvent = new_book_event();
  const last_seq = new Map<string, number>();
  const last_trade = new Map<string, number>();
  const framing: Framing = { events: 0, trades: 0, full_batches_cut_mid_event: 0 };
  for (const { subject, bytes } of batches) {
    reader.read(bytes);
    expect(subject).toBe(`${c.subject_prefix}.events.${reader.symbol}`);
    expect(reader.epoch).toBe(epoch);
    expect(reader.count).toBeLessThanOrEqual(c.batch_events_max);
    expect(bytes.byteLength).toBeLessThanOrEqual(c.batch_bytes_max);
    expect(reader.seq_first).toBe((last_seq.get(reader.symbol) ?? 0) + 1);
    last_seq.set(reader.symbol, reader.seq_first + reader.count - 1);
    let ends = 0;
    for (let i = 0; i < reader.count; i++) {
      reader.event(i, ev);
      if ((ev.flags & flag_end_of_engine_event) !== 0) ends++;
      if (ev.kind === event_execute) {
        expect(ev.trade_id).toBe((last_trade.get(reader.symbol) ?? 0) + 1);
        last_trade.set(reader.symbol, ev.trade_id);
        framing.trades++;
      }
    }
    framing.events += reader.count;
    if ((ev.flags & flag_end_of_engine_event) === 0) {
      // Allowed only inside one engine event larger than a batch: the batch is
      // full and holds no end marker (no earlier boundary to cut at).
      framing.full_batches_cut_mid_event++;
      const full_by_bytes = bytes.byteLength + 72 > c.batch_bytes_max;
      expect(reader.count === c.batch_events_max || full_by_bytes).toBe(true);
      expect(ends).toBe(0);
    }
  }
  expect([...last_seq.keys()].sort()).toEqual([...c.symbols].sort());
  return framing;
}

describe('engine determinism', () => {
  it('gives byte-identical batches for the same seed and config', () => {
    const c = config({ seed: 42 });
    const a = generate_event_batches(c, { orders: 30_000, epoch: 1234 });
    const b = generate_event_batches(c, { orders: 30_000, epoch: 1234 });
    expect(a.length).toBeGreaterThan(100);
    expect(concatenated(a).equals(concatenated(b))).toBe(true);
    const framing = check_framing(a, c, 1234);
    expect(framing.trades).toBeGreaterThan(1000);
  });

  it('gives a different stream for a different seed', () => {
    const a = generate_event_batches(config({ seed: 1 }), { orders: 5_000, epoch: 1 });
    const b = generate_event_batches(config({ seed: 2 }), { orders: 5_000, epoch: 1 });
    expect(concatenated(a).equals(concatenated(b))).toBe(false);
  });

  it('keeps batches within tight bounds and cuts them at engine-event boundaries, splitting only oversized engine events', () => {
    const c = config({ seed: 3, batch_events_max: 8, batch_bytes_max: 1024, batch_interval_ms_max: 50 });
    const batches = generate_event_batches(c, { orders: 20_000, epoch: 9 });
    const framing = check_framing(batches, c, 9);
    // Sweeps of more than 8 makers happen in this stream and must have been split.
    expect(framing.full_batches_cut_mid_event).toBeGreaterThan(0);
  });

  it('sends a batch per engine event when batch_interval_ms_max is 0', () => {
    const c = config({ seed: 5, batch_interval_ms_max: 0 });
    const batches = generate_event_batches(c, { orders: 2_000, epoch: 2 });
    const reader = new EventBatchReader();
    const ev = new_book_event();
    for (const { bytes } of batches) {
      reader.read(bytes);
      let ends = 0;
      for (let i = 0; i < reader.count; i++) if ((reader.event(i, ev).flags & flag_end_of_engine_event) !== 0) ends++;
      expect(ends).toBe(1);
    }
  });
});
