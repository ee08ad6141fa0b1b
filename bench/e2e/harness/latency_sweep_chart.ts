// The HTML page of the latency sweep (bench/results/latency_sweep.html): one
// SVG line chart of latency against load (% of depthcast's saturation):
// depthcast's engine→client p50 and p99 and its ingest→client p99, bare uWS
// publish's p50 and p99 (the floor), both p99s at the wire (packet capture,
// when the run had tcpdump), and the client process's own loop lag
// p99 (the harness's floor) on a log scale; under each load the p99 ratio
// and its verdict; the result's summary as JSON below the chart.
//
// Cost: string building once per run; no dependency, no script in the page.

/** What the chart needs of one load level. */
export interface SweepChartLevel {
  load_pct: number;
  offered_ticks_per_s: number;
  depthcast: { p50: number; p99: number; ingest_to_client_p99: number | null; client_loop_lag_p99: number };
  uws: { p50: number; p99: number; client_loop_lag_p99: number };
  /** At the wire (packet capture), when the run captured. */
  wire: { depthcast_p99: number; depthcast_ingest_p99: number | null; uws_p99: number } | null;
  /** The judged p99 ratio, and where it was measured. */
  p99_ratio: number;
  measured_at: 'wire' | 'client';
  /** null: no goal at this load (above 75%). */
  goal_met: boolean | null;
  harness_limited: boolean;
}

interface Series {
  label: string;
  color: string;
  dash: string;
  value: (l: SweepChartLevel) => number | null;
}

// Drawn in this order: ingest→client under engine→client, which it often nearly equals.
const series: readonly Series[] = [
  { label: 'depthcast p99 (ingest→client)', color: '#3fae5a', dash: '', value: (l) => l.depthcast.ingest_to_client_p99 },
  { label: 'depthcast p99 (engine→client)', color: '#1f4fb3', dash: '', value: (l) => l.depthcast.p99 },
  { label: 'depthcast p50', color: '#1f4fb3', dash: '5 3', value: (l) => l.depthcast.p50 },
  { label: 'uws p99 (the floor)', color: '#c0392b', dash: '', value: (l) => l.uws.p99 },
  { label: 'uws p50', color: '#c0392b', dash: '5 3', value: (l) => l.uws.p50 },
  { label: 'depthcast p99 at the wire', color: '#7b3fb3', dash: '', value: (l) => l.wire?.depthcast_p99 ?? null },
  { label: 'uws p99 at the wire (floor)', color: '#e67e22', dash: '', value: (l) => l.wire?.uws_p99 ?? null },
  { label: 'client loop lag p99 (harness)', color: '#888', dash: '2 3', value: (l) => Math.max(l.depthcast.client_loop_lag_p99, l.uws.client_loop_lag_p99) },
];

export function latency_sweep_chart_html(levels: readonly SweepChartLevel[], title: string, harness_share_max: number, summary: unknown): string {
  const w = 1000; const h = 440; const left = 70; const right = 300; const top = 40; const bottom = 96;
  const values = levels.flatMap((l) => series.map((s) => s.value(l))).filter((v): v is number => v !== null && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...values, 1000))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 1000) * 1.01));
  const x = (pct: number) => left + ((w - left - right) * pct) / 100;
  const y = (us: number) => top + (h - top - bottom) * (1 - Math.log10(Math.min(hi, Math.max(lo, us)) / lo) / Math.log10(hi / lo));
  const label_us = (us: number) => (us >= 1000 ? `${us / 1000} ms` : `${us} µs`);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="monospace" font-size="11">`;
  for (let t = lo; t <= hi; t *= 10) {
    svg += `<line x1="${left}" x2="${w - right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${label_us(t)}</text>`;
  }
  svg += `<line x1="${left}" x2="${w - right}" y1="${y(1000)}" y2="${y(1000)}" stroke="#333" stroke-dasharray="4 3"/><text x="${w - right - 2}" y="${y(1000) - 4}" text-anchor="end">aim: ingest→client p99 &lt; 1 ms at 50%</text>`;
  svg += `<line x1="${x(75)}" x2="${x(75)}" y1="${top}" y2="${h - bottom}" stroke="#bbb" stroke-dasharray="3 3"/><text x="${x(75) + 3}" y="${top + 10}">goal up to 75%</text>`;
  for (const l of levels) {
    const verdict = l.goal_met === null ? 'no goal' : l.goal_met ? 'met' : 'NOT met';
    svg += `<line x1="${x(l.load_pct)}" x2="${x(l.load_pct)}" y1="${h - bottom}" y2="${h - bottom + 4}" stroke="#333"/>`;
    svg += `<text x="${x(l.load_pct)}" y="${h - bottom + 16}" text-anchor="middle">${l.load_pct}%</text>`;
    svg += `<text x="${x(l.load_pct)}" y="${h - bottom + 30}" text-anchor="middle">×${l.p99_ratio}${l.measured_at === 'wire' ? ' (wire)' : ''}</text>`;
    svg += `<text x="${x(l.load_pct)}" y="${h - bottom + 44}" text-anchor="middle" fill="${l.goal_met === false ? '#c0392b' : '#333'}">${verdict}${l.harness_limited ? '*' : ''}</text>`;
  }
  series.forEach((s, i) => {
    const pts = levels.map((l) => [l.load_pct, s.value(l)] as const).filter((p): p is readonly [number, number] => p[1] !== null);
    const d = pts.map(([pct, v], j) => `${j === 0 ? 'M' : 'L'}${x(pct).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${i === 0 ? 4 : 2}" stroke-dasharray="${s.dash}"/>`;
    for (const [pct, v] of pts) svg += `<circle cx="${x(pct).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"><title>${s.label} at ${pct}%: ${v} µs</title></circle>`;
    const ly = top + 14 + i * 18;
    svg += `<line x1="${w - right + 12}" x2="${w - right + 40}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/><text x="${w - right + 46}" y="${ly}">${s.label}</text>`;
  });
  svg += `<text x="${left}" y="22" font-size="13">${title}</text>`;
  svg += `<text x="${left}" y="${h - 24}">load, % of depthcast's saturation; under each: depthcast p99 ÷ uws p99 (median of rounds; at the wire when captured), goal ≤ 1.5 up to 75%;</text>`;
  svg += `<text x="${left}" y="${h - 8}">* harness-limited: the client process's loop lag p99 (the larger of both kinds' drawn) is ≥ ${Math.round(harness_share_max * 100)}% of a p99 there</text></svg>`;
  return `<!doctype html><meta charset="utf-8"><title>depthcast latency sweep</title><body style="font-family:monospace">${svg}<pre>${JSON.stringify(summary, null, 2)}</pre></body>`;
}
