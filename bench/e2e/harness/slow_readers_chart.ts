// The HTML page of the slow-reader bench (bench/results/slow_readers.html):
// one SVG bar chart of the staleness phase, p50/p99/max per read rate and for
// the paused reader once live again, reader flow beside buffer-only
// detection, on a log scale from 10 ms to 120 s with the 1 s goal drawn;
// the phase's JSON below it.
//
// Cost: string building once per run; no dependency, no script in the page.

/** The two detection modes the bench compares. */
export type ReaderModeName = 'reader_flow' | 'buffer_only';

export interface StalenessChartSpec {
  /** The readers' view. */
  symbol: string;
  depth: number;
  /** Slow readers read 1/f of the stream, for each f. */
  fractions: readonly number[];
  pause_s: number;
}

export function staleness_chart_html(staleness: Record<ReaderModeName, Record<string, unknown>>, spec: StalenessChartSpec): string {
  const { symbol, depth, fractions, pause_s } = spec;
  const groups = [...fractions.map((f) => `1/${f}`), 'paused'];
  const series = ['p50_ms', 'p99_ms', 'max_ms'] as const;
  const colors: Record<ReaderModeName, string[]> = { reader_flow: ['#7bd88f', '#3fae5a', '#1f6b33'], buffer_only: ['#f2a3a3', '#d65f5f', '#8f2b2b'] };
  const value = (mode: ReaderModeName, g: string, s: (typeof series)[number]): number => {
    const r = staleness[mode] as { readers: Record<string, Record<string, number>>; paused: { staleness_after_resume: Record<string, number> } };
    return g === 'paused' ? r.paused.staleness_after_resume[s] : r.readers[g][s]; // paused: once live again
  };
  const w = 900; const h = 380; const left = 70; const bottom = 60; const top = 40;
  const y_of = (ms: number) => { const lo = 10; const hi = 120_000; const v = Math.min(hi, Math.max(lo, ms)); return top + (h - top - bottom) * (1 - Math.log10(v / lo) / Math.log10(hi / lo)); };
  const group_w = (w - left - 20) / groups.length;
  const bar_w = group_w / 8;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="monospace" font-size="11">`;
  for (const tick of [10, 100, 1000, 10_000, 100_000]) {
    svg += `<line x1="${left}" x2="${w - 20}" y1="${y_of(tick)}" y2="${y_of(tick)}" stroke="#ddd"/><text x="${left - 6}" y="${y_of(tick) + 4}" text-anchor="end">${tick >= 1000 ? `${tick / 1000} s` : `${tick} ms`}</text>`;
  }
  svg += `<line x1="${left}" x2="${w - 20}" y1="${y_of(1000)}" y2="${y_of(1000)}" stroke="#333" stroke-dasharray="4 3"/><text x="${w - 22}" y="${y_of(1000) - 4}" text-anchor="end">goal: p99 ≤ 1 s</text>`;
  groups.forEach((g, gi) => {
    const gx = left + gi * group_w + bar_w;
    (['reader_flow', 'buffer_only'] as ReaderModeName[]).forEach((mode, mi) => {
      series.forEach((s, si) => {
        const v = value(mode, g, s);
        const x = gx + (mi * 3.5 + si) * bar_w;
        svg += `<rect x="${x}" y="${y_of(v)}" width="${bar_w - 2}" height="${h - bottom - y_of(v)}" fill="${colors[mode][si]}"><title>${mode} ${g} ${s}: ${v} ms</title></rect>`;
      });
    });
    svg += `<text x="${gx + 3.5 * bar_w}" y="${h - bottom + 16}" text-anchor="middle">${g === 'paused' ? `paused ${pause_s} s, once live` : `reads ${g} of the rate`}</text>`;
  });
  svg += `<text x="${left}" y="22" font-size="13">Staleness of a slow reader of ${symbol} ${depth === 0 ? 'full depth' : `depth ${depth}`} (now − ts_engine of the newest frame read), log scale</text>`;
  svg += `<text x="${left}" y="${h - 16}">green: reader flow (p50, p99, max) · red: buffer-only detection (p50, p99, max)</text></svg>`;
  return `<!doctype html><meta charset="utf-8"><title>depthcast slow readers</title><body style="font-family:monospace">${svg}<pre>${JSON.stringify(staleness, null, 2)}</pre></body>`;
}
