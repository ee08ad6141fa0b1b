import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HistogramLogReader } from 'hdr-histogram-js';
import { HopHistograms, HopHistogramsError, latency_us_max, type HopName } from '../../src/metrics/hop_histograms.js';
import { HlogWriter } from '../../src/metrics/hlog.js';

const hop: HopName = 'engine_to_receive';

// Deterministic latency-like samples (ns): mostly 50-500 µs with a long tail.
function samples_ns(seed: number, n: number): number[] {
  let x = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    const u = x / 2 ** 32;
    out.push(u < 0.99 ? 50_000 + u * 450_000 : 1e6 + u * 2e9);
  }
  return out;
}

describe('HopHistograms', () => {
  it('merged across instances equals one histogram fed the same values', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 2, max: 6 }), (seed, workers) => {
      const values = samples_ns(seed, 3000);
      const single = new HopHistograms();
      const parts = Array.from({ length: workers }, () => new HopHistograms(['engine_to_receive', 'send_to_receive']));
      values.forEach((v, i) => {
        single.record(hop, v);
        parts[i % workers].record(hop, v);
      });
      // Ship through the worker path: encode → structured JSON → decode → merge.
      const parent = new HopHistograms();
      for (const part of parts) parent.merge_from(HopHistograms.decode(JSON.parse(JSON.stringify(part.encode()))));
      expect(parent.percentiles(hop)).toEqual(single.percentiles(hop));
      expect(parent.count(hop)).toBe(values.length);
      expect(parent.count('send_to_receive')).toBe(0);
    }), { seed: 42, numRuns: 15 });
  });

  it('clamps negative samples to 0 and counts them per hop; never throws on skew or overflow', () => {
    const h = new HopHistograms();
    h.record(hop, -5_000);
    h.record(hop, -1);
    h.record(hop, Number.NaN);
    h.record(hop, 10_000);
    h.record('engine_to_send', -3);
    h.record(hop, 3600e9); // an hour: above the 60 s range
    const p = h.percentiles(hop);
    expect(p.count).toBe(5);
    expect(p.negative_samples).toBe(3);
    expect(p.overflow_samples).toBe(1);
    expect(h.negative_samples('engine_to_send')).toBe(1);
    expect(h.histogram(hop).getValueAtPercentile(50)).toBe(0);
    expect(h.histogram(hop).minNonZeroValue).toBe(10);
    expect(p.max).toBeGreaterThanOrEqual(latency_us_max * 0.999);
    // counts survive the encode/decode trip
    const back = HopHistograms.decode(h.encode());
    expect(back.negative_samples(hop)).toBe(3);
    expect(back.overflow_samples(hop)).toBe(1);
  });

  it('records ns as µs with 3 significant digits', () => {
    const h = new HopHistograms(['engine_to_send']);
    for (let i = 1; i <= 1000; i++) h.record('engine_to_send', i * 1000); // 1..1000 µs
    const p = h.percentiles('engine_to_send');
    expect(p.p50).toBe(500);
    expect(p.p99).toBe(990);
    expect(p.max).toBe(1000);
    expect(p.mean).toBeCloseTo(500.5, 0);
  });

  it('encode/decode round-trips percentiles, counts and time range', () => {
    const h = new HopHistograms(['engine_to_ingest', 'engine_to_send'], { start_ms: 1_000 });
    for (const v of samples_ns(7, 5000)) h.record('engine_to_send', v);
    h.record('engine_to_ingest', 42_000);
    h.take_interval(2_000);
    const enc = h.encode();
    expect(enc.format).toBe('depthcast.hop_histograms.v1');
    expect(typeof enc.hops.engine_to_send?.histogram_b64).toBe('string');
    const back = HopHistograms.decode(enc);
    expect(back.hops).toEqual(['engine_to_ingest', 'engine_to_send']);
    expect(back.summary()).toEqual(h.summary());
    expect([back.start_ms, back.end_ms]).toEqual([1_000, 2_000]);
  });

  it('refuses malformed encodings and unknown hops with HopHistogramsError', () => {
    expect(() => HopHistograms.decode({ format: 'x' } as never)).toThrow(HopHistogramsError);
    expect(() => HopHistograms.decode({ format: 'depthcast.hop_histograms.v1', start_ms: 0, end_ms: 0, hops: { nope: { histogram_b64: '', negative_samples: 0, overflow_samples: 0 } } } as never)).toThrow(/unknown hop/);
    expect(() => HopHistograms.decode({ format: 'depthcast.hop_histograms.v1', start_ms: 0, end_ms: 0, hops: { engine_to_send: { histogram_b64: 'not base64 histogram', negative_samples: 0, overflow_samples: 0 } } })).toThrow(HopHistogramsError);
    const client_only = new HopHistograms(['engine_to_receive']);
    expect(() => client_only.record('engine_to_send', 1)).toThrow(/not tracked/);
    expect(() => client_only.merge_from(new HopHistograms(['engine_to_send']))).toThrow(/cannot merge/);
  });

  it('take_interval hands out the interval and starts a new one; totals keep everything; reset clears', () => {
    const h = new HopHistograms(['engine_to_receive'], { start_ms: 0 });
    h.record(hop, 1e6);
    h.record(hop, -1);
    const first = h.take_interval(1_000);
    h.record(hop, 2e6);
    const second = h.take_interval(2_000);
    expect([first.count(hop), first.negative_samples(hop), first.start_ms, first.end_ms]).toEqual([2, 1, 0, 1_000]);
    expect([second.count(hop), second.negative_samples(hop), second.start_ms, second.end_ms]).toEqual([1, 0, 1_000, 2_000]);
    expect(h.count(hop)).toBe(3);
    expect(() => first.take_interval()).toThrow(/track_intervals/);
    h.reset(5_000);
    expect(h.count(hop)).toBe(0);
    expect(h.take_interval(6_000).count(hop)).toBe(0);
  });
});

describe('HlogWriter', () => {
  it('writes an interval log that HdrHistogram log readers parse back to the same counts', () => {
    const h = new HopHistograms(client_hops_for_test(), { start_ms: 1_700_000_000_000 });
    let text = '';
    const log = new HlogWriter((s) => { text += s; }, 1_700_000_000_000);
    log.output_header(['depthcast loadgen test']);
    const expected: number[] = [];
    for (let i = 0; i < 3; i++) {
      const values = samples_ns(100 + i, 200 * (i + 1));
      for (const v of values) h.record('engine_to_receive', v);
      h.record('send_to_receive', 5_000);
      expected.push(values.length);
      log.output_interval(h.take_interval(1_700_000_000_000 + (i + 1) * 1000));
    }
    expect(text).toMatch(/^#depthcast loadgen test\n#\[Histogram log format version 1\.3\]\n#\[StartTime: 1700000000\.000 \(seconds since epoch\), .*\]\n#\[BaseTime: 1700000000\.000 \(seconds since epoch\)\]\n"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n/);
    expect(text).not.toMatch(/\n\n/);
    const reader = new HistogramLogReader(text);
    const got: { tag: string; count: number; start: number; end: number }[] = [];
    for (let hist = reader.nextIntervalHistogram(); hist !== null; hist = reader.nextIntervalHistogram()) {
      got.push({ tag: hist.tag, count: hist.totalCount, start: hist.startTimeStampMsec, end: hist.endTimeStampMsec });
    }
    expect(got.filter((g) => g.tag === 'engine_to_receive').map((g) => g.count)).toEqual(expected);
    expect(got.filter((g) => g.tag === 'send_to_receive').map((g) => g.count)).toEqual([1, 1, 1]);
    expect(got[0].start).toBe(1_700_000_000_000);
    expect(got[got.length - 1].end).toBe(1_700_000_003_000);
  });

  it('a recorder resolved once keeps recording into totals and the current interval across take_interval and reset', () => {
    const h = new HopHistograms(client_hops_for_test(), { start_ms: 0 });
    const rec = h.recorder('send_to_receive');
    rec.record(5_000);
    rec.record(-1);
    const first = h.take_interval(1000);
    rec.record(7_000_000_000_000);
    const second = h.take_interval(2000);
    expect([first.count('send_to_receive'), second.count('send_to_receive'), h.count('send_to_receive')]).toEqual([2, 1, 3]);
    expect([first.negative_samples('send_to_receive'), second.overflow_samples('send_to_receive')]).toEqual([1, 1]);
    expect(h.count('engine_to_receive')).toBe(0);
    h.reset(3000);
    rec.record(9_000);
    expect(h.percentiles('send_to_receive')).toMatchObject({ count: 1, p50: 9 });
    expect(() => h.recorder('reader_lag')).toThrow(HopHistogramsError);
  });
});

function client_hops_for_test(): HopName[] {
  return ['engine_to_receive', 'send_to_receive'];
}
