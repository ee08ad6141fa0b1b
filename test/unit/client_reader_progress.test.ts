// The SDK's side of slow readers: Ack cadence (at most one per interval, one
// trailing after a burst, none for nothing new, counting from zero on each
// connection) and its own staleness without clock agreement.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReaderProgress } from '../../src/client/reader_progress.js';

describe('ReaderProgress', () => {
  let now_ns = 0;
  const clock = () => now_ns;
  beforeEach(() => {
    vi.useFakeTimers();
    now_ns = 1e12;
  });
  afterEach(() => vi.useRealTimers());

  function advance(ms: number): void {
    now_ns += ms * 1e6;
    vi.advanceTimersByTime(ms);
  }

  it('acks what was processed: the first frame at once, then at most one per interval, and one after a burst ends', () => {
    const acks: number[] = [];
    const p = new ReaderProgress(100, (b) => acks.push(b), clock);
    p.processed(1000, 0, now_ns);
    expect(acks).toEqual([1000]);
    for (let i = 0; i < 10; i++) {
      advance(5);
      p.processed(100, 0, now_ns);
    }
    expect(acks).toEqual([1000]); // within the interval: held back
    advance(60); // 110 ms after the first ack: the trailing timer fires
    expect(acks).toEqual([1000, 2000]);
    advance(500);
    expect(acks).toEqual([1000, 2000]); // nothing new: no ack
    p.processed(10, 0, now_ns);
    expect(acks).toEqual([1000, 2000, 2010]);
  });

  it('counts from zero on each connection, and sends nothing when acks are off', () => {
    const acks: number[] = [];
    const p = new ReaderProgress(100, (b) => acks.push(b), clock);
    p.processed(500, 0, now_ns);
    p.reset();
    advance(1);
    p.processed(70, 0, now_ns);
    expect(acks).toEqual([500, 70]);
    const off = new ReaderProgress(100, null, clock);
    off.processed(500, 0, now_ns);
    expect(off.bytes_processed).toBe(500);
    expect(off.acks_sent).toBe(0);
  });

  it('staleness: how much older the newest state is than on an idle path, whatever the clock offset', () => {
    const offset_ns = 3_600e9; // the server's clock an hour ahead of ours
    const p = new ReaderProgress(100, null, clock);
    expect(p.staleness_ms(now_ns)).toBe(0);
    // Frames that arrive 2 ms after they were sent: the path.
    for (let i = 0; i < 5; i++) {
      p.processed(100, now_ns + offset_ns - 2e6, now_ns);
      advance(10);
    }
    expect(p.staleness_ms(now_ns)).toBeCloseTo(10, 0); // 10 ms since the last frame's state
    // A frame processed 3 s after it was sent (the page was busy): 3 s stale.
    p.processed(100, now_ns + offset_ns - 3002e6, now_ns);
    expect(p.staleness_ms(now_ns)).toBeCloseTo(10, 0); // not newer than what it had: no change
    advance(3000);
    p.processed(100, now_ns + offset_ns - 2e6 - 1500e6, now_ns);
    expect(p.staleness_ms(now_ns)).toBeCloseTo(1500, 0);
  });
});
