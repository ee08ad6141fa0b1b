// A real Prometheus (Debian's 2.42, from PATH) scrapes a running feed every
// second, with the shipped alert rules loaded. Checks what an operator relies
// on: the exposition passes promtool, the feed is up and its books live, every
// expression of the Grafana dashboard (ops/grafana/depthcast.json) is PromQL
// that Prometheus accepts and that returns data, and histogram_quantile over
// depthcast_latency_seconds agrees with /stats's HDR percentiles to within
// one bucket of the exported bucket series.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import type { HopName } from '../../src/metrics/hop_histograms.js';
import type { LatencyWindowStats } from '../../src/metrics/latency_windows.js';
import { latency_buckets_seconds } from '../../src/metrics/latency_export.js';
import { promtool, start_prometheus, type PrometheusHandle } from '../helpers/prometheus.js';
import { RawClient } from '../helpers/raw_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD'];
const ops_dir = fileURLToPath(new URL('../../ops/', import.meta.url));

/** Index of the bucket (lower, upper] a value falls in; the +Inf bucket is latency_buckets_seconds.length. */
function bucket_index(fits: (le_seconds: number) => boolean): number {
  const i = latency_buckets_seconds.findIndex(fits);
  return i === -1 ? latency_buckets_seconds.length : i;
}
/** histogram_quantile's answer (seconds): it interpolates inside a bucket, and may top its bound by a rounding step. */
const bucket_of_quantile = (seconds: number) => bucket_index((le) => seconds <= le * (1 + 1e-9));
/** An HDR percentile from /stats (whole µs), against the bounds as src/metrics/latency_export.ts counts them. */
const bucket_of_hdr = (us: number) => bucket_index((le) => us <= Math.round(le * 1e6));

describe('a real Prometheus scraping a running feed', () => {
  let all: AllInOne;
  let prom: PrometheusHandle;
  let base: string;
  const clients: RawClient[] = [];

  const stats = async () => (await (await fetch(`${base}/stats`)).json()) as { latency_us: LatencyWindowStats };
  const value = async (expr: string): Promise<number> => {
    const result = await prom.query(expr);
    if (result.length !== 1) throw new Error(`${expr}: ${result.length} series, 1 expected`);
    return Number(result[0].value[1]);
  };

  beforeAll(async () => {
    all = await start_all(test_config({ symbols, rate_orders_per_s: 1000 }));
    base = `http://127.0.0.1:${all.feed_service.server.port}`;
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
    // Subscribers, so that frames go out and ingest→send and engine→send have samples.
    const reader = await RawClient.open(all.feed_service.url, { keep_frames: false });
    reader.subscribe(symbols, 10);
    clients.push(reader);
    // One Error frame and one close, so the dashboard's by-code panels have a series each.
    const leaver = await RawClient.open(all.feed_service.url, { keep_frames: false });
    leaver.subscribe(['NOPE-USD'], 10);
    await wait_for('error frame', () => leaver.errors.length === 1);
    leaver.close();
    await leaver.closed;
    prom = await start_prometheus({ targets: [`127.0.0.1:${all.feed_service.server.port}`], rule_files: [`${ops_dir}prometheus/alerts.yml`] });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await prom?.stop();
    await all?.stop();
  });

  it('a real scrape of /metrics passes promtool check metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('depthcast_latency_seconds_bucket{hop="engine_to_send",le="0.025"}');
    const r = await promtool(['check', 'metrics'], { stdin: text });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
  });

  it('Prometheus sees the feed up, every symbol live, the engine talking, and loads the alert rules', async () => {
    await wait_for('two scrapes', async () => (await prom.query('count_over_time(up{job="depthcast"}[1m])')).some((s) => Number(s.value[1]) >= 2), 20_000, 200);
    expect(await value('up{job="depthcast"}')).toBe(1);
    const live = await prom.query('depthcast_symbol_live{job="depthcast"}');
    expect(live.map((s) => [s.metric.symbol, s.value[1]]).sort()).toEqual(symbols.map((s) => [s, '1']));
    expect(await value('sum(rate(depthcast_engine_messages_total{job="depthcast"}[1m]))')).toBeGreaterThan(0);
    const rules = await (await fetch(`${prom.url}/api/v1/rules`)).json() as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.length).toBeGreaterThanOrEqual(13);
    await wait_for('every rule evaluated', async () => {
      const r = await (await fetch(`${prom.url}/api/v1/rules`)).json() as typeof rules;
      return r.data.groups.flatMap((g) => g.rules).every((rule) => rule.health === 'ok');
    }, 10_000, 200);
    // A healthy feed: no alert pending or firing. The latency budget alerts are left out: whether this
    // machine keeps 99% of updates under 25 ms right now is a timing question, not this test's.
    const alerts = await (await fetch(`${prom.url}/api/v1/alerts`)).json() as { data: { alerts: { labels: { alertname: string } }[] } };
    expect(alerts.data.alerts.map((a) => a.labels.alertname).filter((name) => !name.startsWith('DepthcastLatencyBudget'))).toEqual([]);
  });

  it('every expression of the Grafana dashboard is PromQL that Prometheus accepts and that returns data', async () => {
    const dashboard = JSON.parse(readFileSync(`${ops_dir}grafana/depthcast.json`, 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; query?: string | { query: string } }[] };
    };
    // Grafana's variables, as Grafana would expand them with every feed selected.
    const expand = (expr: string) => expr.replaceAll('$__rate_interval', '10s').replaceAll('$instance', '.*');
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: expand(t.expr) })));
    expect(exprs.length).toBeGreaterThanOrEqual(20);
    // What an operator needs on it: connections, frames and bytes out, latency per hop (p50, p99,
    // p99.9 from the histograms), slow consumers and conflation, recoveries, per-symbol state.
    const all_exprs = exprs.map((e) => e.expr).join('\n');
    for (const needed of ['depthcast_connections{', 'depthcast_outbound_frames_total', 'depthcast_outbound_bytes_total',
      'histogram_quantile(0.5, sum by (hop, le) (rate(depthcast_latency_seconds_bucket', 'histogram_quantile(0.99, sum by (hop, le) (rate(depthcast_latency_seconds_bucket',
      'histogram_quantile(0.999, sum by (hop, le) (rate(depthcast_latency_seconds_bucket', 'depthcast_conflating_connections',
      'depthcast_conflation_episodes_total', 'depthcast_slow_closes_total', 'depthcast_recoveries_total', 'depthcast_symbol_live']) {
      expect(all_exprs, needed).toContain(needed);
    }
    await wait_for('rates over two scrapes with traffic', async () => (await value('sum(rate(depthcast_outbound_frames_total{job="depthcast"}[10s]))')) > 0, 20_000, 200);
    for (const { panel, expr } of exprs) {
      const result = await prom.query(expr);
      expect(result.length, `${panel}: ${expr} returned no series`).toBeGreaterThan(0);
      if (expr.startsWith('histogram_quantile') && expr.includes('latency')) {
        expect(result.some((s) => Number.isFinite(Number(s.value[1]))), `${panel}: ${expr} has no finite value`).toBe(true);
      }
    }
    // label_values(<selector>, <label>) is Grafana's: the selector must be PromQL and carry the label.
    for (const v of dashboard.templating.list) {
      const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
      const m = /^label_values\((.+), (\w+)\)$/.exec(q);
      if (m === null) continue;
      const result = await prom.query(m[1]);
      expect(result.length, `variable ${v.name}: ${m[1]}`).toBeGreaterThan(0);
      expect(result.every((s) => s.metric[m[2]] !== undefined)).toBe(true);
    }
  });

  it("histogram_quantile over the feed's latency agrees with /stats's HDR percentiles (same bucket since start; windowed median within two)", async () => {
    // Stop the order flow: the data-flow hops stop counting. (Hops driven by timers, such as
    // reader_lag's probes, go on; each comparison below is taken while both sides hold the same samples.)
    all.engine.pause(600_000);
    const data_flow_hops = ['engine_to_ingest', 'ingest_to_send', 'engine_to_send'];
    const count_of = (hop: string) => value(`sum(depthcast_latency_seconds_count{job="depthcast",hop="${hop}"})`);
    const quantile = (q: number, hop: string) => value(`histogram_quantile(${q}, sum by (le) (depthcast_latency_seconds_bucket{job="depthcast",hop="${hop}"}))`);
    /** /stats's percentiles and Prometheus's quantiles (since start), read while both hold the same samples. */
    const read_both = async (hop: string) => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const before = (await stats()).latency_us.since_start.hops[hop as HopName]!;
        const count = await count_of(hop);
        const [p50, p99] = [await quantile(0.5, hop), await quantile(0.99, hop)];
        const after = (await stats()).latency_us.since_start.hops[hop as HopName]!;
        if (before.count === count && after.count === count && (await count_of(hop)) === count) return { hdr: before, p50, p99 };
        await sleep(200);
      }
      throw new Error(`${hop}: /stats and Prometheus never held the same samples`);
    };
    const hops = Object.keys((await stats()).latency_us.since_start.hops);
    expect(hops).toEqual(expect.arrayContaining(data_flow_hops));
    for (const hop of hops) {
      const { hdr, p50, p99 } = await read_both(hop);
      if (data_flow_hops.includes(hop)) expect(hdr.count, hop).toBeGreaterThan(100);
      if (hdr.count === 0) continue;
      // Since start: Prometheus's cumulative counts are the very samples /stats holds. Same bucket, exactly.
      expect(bucket_of_quantile(p50), `${hop} p50: Prometheus ${p50} s, HDR ${hdr.p50} µs`).toBe(bucket_of_hdr(hdr.p50));
      expect(bucket_of_quantile(p99), `${hop} p99: Prometheus ${p99} s, HDR ${hdr.p99} µs`).toBe(bucket_of_hdr(hdr.p99));
      if (!data_flow_hops.includes(hop)) continue;
      // Windowed, the way an operator asks. Its window starts at Prometheus's first scrape, so it
      // misses what the feed counted before, and the tail of a short run differs: only the median
      // is held to /stats, within two buckets (one either side: the start-up samples /stats has
      // and the window lacks are slower on a loaded machine, seen as 23 µs vs 52 µs); the p99
      // must be a latency, not NaN.
      const rate = `rate(depthcast_latency_seconds_bucket{job="depthcast",hop="${hop}"}[5m])`;
      const windowed_p50 = await value(`histogram_quantile(0.5, sum by (le) (${rate}))`);
      expect(Math.abs(bucket_of_quantile(windowed_p50) - bucket_of_hdr(hdr.p50)), `${hop}: rate-based p50 ${windowed_p50} s, HDR ${hdr.p50} µs`).toBeLessThanOrEqual(2);
      const windowed_p99 = await value(`histogram_quantile(0.99, sum by (le) (${rate}))`);
      expect(windowed_p99, hop).toBeGreaterThanOrEqual(windowed_p50);
      expect(windowed_p99, hop).toBeLessThanOrEqual(60);
    }
  });
});
