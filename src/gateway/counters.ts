// The gateway's counters (plain numbers; src/gateway/metrics.ts copies them
// into Prometheus at scrape time) and the close codes it decides itself.
// Slow readers are closed by the feed's Session (4008, 4009, 4010:
// src/wire/codes.ts), never here.
//
// Cost: a field increment per event; a map increment per REST answer, close
// and WebSocket error (bounded keys: endpoints x statuses, close names,
// Binance's four WebSocket error codes).

/** Close codes the gateway decides, with their reasons (docs/GATEWAYS.md "Closes"). */
export const gateway_close = {
  going_away: { code: 1001, name: 'going_away', reason: 'server shutting down' },
  /** The book restarted (new epoch): continuity of U/u is gone, the client re-syncs from REST. */
  restart: { code: 1012, name: 'book_restart', reason: 'book restarted (new epoch): re-sync from /api/v3/depth' },
  /** Method frames far over the per-connection rate (Binance disconnects too). */
  rate: { code: 1008, name: 'message_rate', reason: 'too many messages per second' },
} as const;

export interface GatewayCounters {
  connections: number;
  connections_opened_total: number;
  method_frames_total: number;
  /** depthUpdate messages encoded (raw and combined each count) and queued to clients. */
  events_encoded_total: number;
  events_sent_total: number;
  /** `${endpoint} ${status}` → answers. */
  rest_requests_total: Map<string, number>;
  /** close name → connections closed. */
  closes_total: Map<string, number>;
  /** Binance WebSocket error code → error answers. */
  ws_errors_total: Map<string, number>;
}

export function new_gateway_counters(): GatewayCounters {
  return {
    connections: 0, connections_opened_total: 0, method_frames_total: 0, events_encoded_total: 0, events_sent_total: 0,
    rest_requests_total: new Map(), closes_total: new Map(), ws_errors_total: new Map(),
  };
}
