import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/client/backoff.js';
import { seeded_random } from '../../src/util/random.js';
import { Emitter } from '../../src/client/emitter.js';

describe('Backoff', () => {
  it('full jitter under a ceiling that doubles up to the cap, reproducible from the seed', () => {
    const a = new Backoff(100, 1000, seeded_random(42));
    const b = new Backoff(100, 1000, seeded_random(42));
    const ceilings: number[] = [];
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      ceilings.push(a.ceiling_ms());
      const d = a.next_delay_ms();
      delays.push(d);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(ceilings[i]);
      expect(b.next_delay_ms()).toBe(d);
    }
    expect(ceilings).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
    expect(new Set(delays).size).toBeGreaterThan(4); // jittered, not a fixed schedule
    a.reset();
    expect([a.ceiling_ms(), a.attempts()]).toEqual([100, 0]);
  });

  it('spreads a reconnect storm over the whole window', () => {
    const r = seeded_random(7);
    const delays = Array.from({ length: 2000 }, () => new Backoff(1000, 1000, r).next_delay_ms());
    const buckets = [0, 0, 0, 0];
    for (const d of delays) buckets[Math.floor(d / 250)]++;
    for (const n of buckets) expect(n).toBeGreaterThan(400);
  });

  it('refuses nonsense settings', () => {
    expect(() => new Backoff(0, 10)).toThrow(RangeError);
    expect(() => new Backoff(100, 10)).toThrow(RangeError);
  });
});

describe('Emitter', () => {
  it('calls listeners in order, supports once/off, and isolates a throwing listener', () => {
    const failures: string[] = [];
    const e = new Emitter<{ tick: (n: number) => void }>((_err, event) => failures.push(event));
    const got: string[] = [];
    const a = (n: number) => got.push(`a${n}`);
    e.on('tick', a);
    e.on('tick', () => { throw new Error('x'); });
    e.once('tick', (n) => got.push(`once${n}`));
    e.emit('tick', 1);
    e.off('tick', a);
    e.emit('tick', 2);
    expect(got).toEqual(['a1', 'once1']);
    expect(failures).toEqual(['tick', 'tick']);
    expect(e.has_listeners('tick')).toBe(true);
    e.remove_all();
    expect(e.has_listeners('tick')).toBe(false);
  });
});
