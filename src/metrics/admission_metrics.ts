// Prometheus export of admission: connections refused by reason, token
// refreshes, and the JWKS fetches behind RS256/ES256/EdDSA tokens. Read at
// scrape time from the server's plain counts (nothing on the hot path).
// The alert on failing JWKS refreshes is in ops/prometheus/alerts.yml.
//
// | metric                                     | type    | labels | meaning
// |--------------------------------------------|---------|--------|-----------------------------------------------
// | depthcast_auth_refusals_total              | counter | reason | connections refused (closed 4003/4029), by reason; every reason present from 0
// | depthcast_token_expiries_total             | counter |        | connections closed 4003 'token expired' while connected
// | depthcast_token_refreshes_total            | counter | result | Refresh frames (PROTOCOL §5.9): ok, or refused (Error 14)
// | depthcast_jwks_fetches_total               | counter | result | JWKS fetches (start, schedule, unknown kid): ok or error (with --auth-jwks)
// | depthcast_jwks_keys                        | gauge   |        | keys held from the last good JWKS
// | depthcast_jwks_last_success_timestamp_seconds | gauge |       | when the JWKS was last fetched successfully (0 = never)
import type { Registry } from 'prom-client';
import { counter_from, gauge_from, metric_prefix, set_counter } from './registry.js';

export interface AdmissionMetricSources {
  /** Every reason label, so each is exported from 0. */
  reasons: readonly string[];
  refused_by_reason: Readonly<Record<string, number>>;
  token_expired_total: () => number;
  refreshes_total: Readonly<Record<'ok' | 'refused', number>>;
  /** null without a JWKS. */
  jwks: { fetches: Readonly<Record<string, number>>; keys: number; last_ok_ms: number } | null;
}

export function register_admission_metrics(registry: Registry, s: AdmissionMetricSources): void {
  const p = metric_prefix;
  counter_from(registry, `${p}auth_refusals_total`, 'Connections refused at admission, by reason', (c) => {
    for (const reason of s.reasons) set_counter(c, s.refused_by_reason[reason] ?? 0, { reason });
  }, ['reason']);
  counter_from(registry, `${p}token_expiries_total`, "Connections closed 4003 'token expired' while connected", (c) => set_counter(c, s.token_expired_total()));
  counter_from(registry, `${p}token_refreshes_total`, 'Refresh frames with a new token, by result (ok, refused)', (c) => {
    for (const result of ['ok', 'refused'] as const) set_counter(c, s.refreshes_total[result], { result });
  }, ['result']);
  const jwks = s.jwks;
  if (jwks === null) return;
  counter_from(registry, `${p}jwks_fetches_total`, 'JWKS fetches (start, schedule, unknown kid), by result', (c) => {
    for (const result of ['ok', 'error']) set_counter(c, jwks.fetches[result] ?? 0, { result });
  }, ['result']);
  gauge_from(registry, `${p}jwks_keys`, 'Keys held from the last good JWKS', (g) => g.set(jwks.keys));
  gauge_from(registry, `${p}jwks_last_success_timestamp_seconds`, 'When the JWKS was last fetched successfully (0 = never)', (g) => g.set(jwks.last_ok_ms / 1000));
}
