// The project's seeded pseudo-random generators, one module for every user:
// the client's backoff jitter, the engine's order flow, the load generator's
// plans, the fuzzers, benches and tests. No Node imports: the browser SDK
// uses it too. Not for anything secret (no cryptographic quality).
//
//   seeded_random(seed)   mulberry32 as a () => number in [0, 1): one 32-bit
//                         state word; for jitter, sampling, test data
//   Prng(seed, stream)    sfc32 (passes PractRand), with normal() and
//                         exponential(): the order flow's generator, one
//                         independent stream per symbol
//   fnv1a(text)           32-bit FNV-1a: a stream number from a name that does
//                         not depend on the order names are met in
//
// Cost: a few integer operations per draw; no allocation after construction.
// Invariants: the same seed (and stream) gives the same sequence on every
// machine and run: tests, benches and simulations replay from their seed.

/** A source of uniform numbers in [0, 1). */
export type RandomSource = () => number;

/** mulberry32: a tiny seeded generator, uniform in [0, 1). */
export function seeded_random(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** sfc32: small, fast, passes PractRand; 32-bit state words. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;
  private spare_normal = NaN;

  constructor(seed: number, stream: number) {
    this.a = seed >>> 0;
    this.b = stream >>> 0;
    this.c = 0x9e3779b9;
    for (let i = 0; i < 16; i++) this.next_u32();
  }

  next_u32(): number {
    const t0 = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const t = (t0 + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.next_u32() / 4294967296;
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (!Number.isNaN(this.spare_normal)) {
      const z = this.spare_normal;
      this.spare_normal = NaN;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.next()));
    const theta = 2 * Math.PI * this.next();
    this.spare_normal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
}

/** 32-bit FNV-1a of a string: a per-symbol PRNG stream that does not depend on symbol order. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
