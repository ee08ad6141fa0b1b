// Prometheus export of the Binance gateway's counters (src/gateway/counters.ts),
// read at scrape time like the feed's (registry.ts). Registered only when the
// gateway runs (--gateway-binance-port).
//
// | metric                                   | type    | labels           | meaning
// |------------------------------------------|---------|------------------|-----------------------------------------------
// | depthcast_gateway_connections            | gauge   |                  | gateway WebSocket connections open now
// | depthcast_gateway_connections_opened_total | counter |                | gateway WebSocket connections accepted
// | depthcast_gateway_streams                | gauge   |                  | (connection, stream) subscriptions now
// | depthcast_gateway_rest_requests_total    | counter | endpoint, status | REST answers by endpoint and HTTP status
// | depthcast_gateway_closes_total           | counter | reason           | connections closed, by reason (book_restart, slow_consumer, ...)
// | depthcast_gateway_ws_errors_total        | counter | code             | WebSocket error answers, by Binance error code
// | depthcast_gateway_method_frames_total    | counter |                  | method frames (SUBSCRIBE, ...) received
// | depthcast_gateway_events_encoded_total   | counter |                  | depthUpdate messages encoded (once per update per stream and format)
// | depthcast_gateway_events_sent_total      | counter |                  | depthUpdate messages queued to clients
import type { Registry } from 'prom-client';
import type { GatewayCounters } from '../gateway/counters.js';
import { counter_from, gauge_from, metric_prefix, set_counter } from './registry.js';

export function register_gateway_metrics(registry: Registry, counters: GatewayCounters, streams_now: () => number): void {
  const p = `${metric_prefix}gateway_`;
  gauge_from(registry, `${p}connections`, 'Gateway WebSocket connections open now', (g) => g.set(counters.connections));
  counter_from(registry, `${p}connections_opened_total`, 'Gateway WebSocket connections accepted', (c) => set_counter(c, counters.connections_opened_total));
  gauge_from(registry, `${p}streams`, '(connection, stream) subscriptions now', (g) => g.set(streams_now()));
  counter_from(registry, `${p}rest_requests_total`, 'Gateway REST answers, by endpoint and HTTP status', (c) => {
    for (const [key, n] of counters.rest_requests_total) {
      const [endpoint, status] = key.split(' ');
      set_counter(c, n, { endpoint, status });
    }
  }, ['endpoint', 'status']);
  counter_from(registry, `${p}closes_total`, 'Gateway connections closed, by reason', (c) => {
    for (const [reason, n] of counters.closes_total) set_counter(c, n, { reason });
  }, ['reason']);
  counter_from(registry, `${p}ws_errors_total`, 'Gateway WebSocket error answers, by Binance error code', (c) => {
    for (const [code, n] of counters.ws_errors_total) set_counter(c, n, { code });
  }, ['code']);
  counter_from(registry, `${p}method_frames_total`, 'Gateway method frames received', (c) => set_counter(c, counters.method_frames_total));
  counter_from(registry, `${p}events_encoded_total`, 'depthUpdate messages encoded (once per update per stream and format)', (c) => set_counter(c, counters.events_encoded_total));
  counter_from(registry, `${p}events_sent_total`, 'depthUpdate messages queued to clients', (c) => set_counter(c, counters.events_sent_total));
}
