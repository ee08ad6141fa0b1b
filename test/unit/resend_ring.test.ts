// The engine's resend ring (src/engine/resend_ring.ts): what it hands back
// after a reconnect, in order, and that it stays within its bounds.
import { describe, expect, it } from 'vitest';
import { resend_batches_max, resend_bytes_max, ResendRing } from '../../src/engine/resend_ring.js';

const batch = (id: number, bytes = 8): Uint8Array => new Uint8Array(bytes).fill(id % 256);

function sent_since(ring: ResendRing, from_ns: number): number[] {
  const out: number[] = [];
  ring.since(from_ns, (b) => out.push(b[0]));
  return out;
}

describe('ResendRing', () => {
  it('hands back the batches sent at or after a time, oldest first, the same buffers', () => {
    const ring = new ResendRing();
    const kept: Uint8Array[] = [];
    for (let i = 1; i <= 10; i++) {
      kept.push(batch(i));
      ring.push(kept[i - 1], i * 1000);
    }
    expect(sent_since(ring, 7000)).toEqual([7, 8, 9, 10]);
    expect(sent_since(ring, 0)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(sent_since(ring, 11_000)).toEqual([]);
    const seen: Uint8Array[] = [];
    expect(ring.since(10_000, (b) => seen.push(b))).toBe(1);
    expect(seen[0]).toBe(kept[9]);
  });

  it('keeps the last resend_batches_max batches', () => {
    const ring = new ResendRing();
    const n = resend_batches_max + 37;
    for (let i = 0; i < n; i++) ring.push(batch(i), i);
    const ids = sent_since(ring, 0);
    expect(ids.length).toBe(resend_batches_max);
    expect(ids[0]).toBe(37 % 256);
    expect(ids[ids.length - 1]).toBe((n - 1) % 256);
  });

  it('keeps at most resend_bytes_max bytes, but always the newest batch', () => {
    const ring = new ResendRing();
    const size = Math.floor(resend_bytes_max / 3) + 1;
    for (let i = 0; i < 5; i++) ring.push(batch(i, size), i);
    expect(sent_since(ring, 0)).toEqual([3, 4]);
    ring.push(batch(9, resend_bytes_max * 2), 9);
    expect(sent_since(ring, 0)).toEqual([9]);
  });
});
