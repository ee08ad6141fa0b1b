// Binance spot's shapes, as text: symbol ids, the depthUpdate event, the REST
// depth and exchangeInfo bodies, and the error shapes and codes of both the
// WebSocket API and REST. Pure: no I/O, no clock (times are passed in).
// docs/GATEWAYS.md lists what each shape means for a client.
//
// Symbols: depthcast's `BTC-USD` is Binance's `BTCUSD` (every '-' and '_'
// dropped; base and quote split at the first '-' for exchangeInfo). Two
// depthcast symbols with one Binance id are refused at start-up
// (binance_ids), never served as one.
//
// Cost: a depthUpdate is one string built per update per symbol per speed
// (never per client; gateway.ts sends the same bytes to every subscriber),
// two decimal strings per changed level (DecimalFormat: a few BigInt
// operations each).

import { DecimalFormat } from '../client/decimal_format.js';
import type { Instrument, L2Level } from '../book/types.js';

/** Binance's id of a depthcast symbol: `BTC-USD` → `BTCUSD`. */
export function binance_id(symbol: string): string {
  return symbol.replace(/[-_]/g, '');
}

/** Each symbol's Binance id; throws (naming both) when two symbols would share one. */
export function binance_ids(symbols: readonly string[]): Map<string, string> {
  const by_id = new Map<string, string>();
  for (const symbol of symbols) {
    const id = binance_id(symbol);
    const other = by_id.get(id);
    if (other !== undefined) throw new Error(`gateway: symbols ${other} and ${symbol} both map to the Binance id ${id}; rename one`);
    by_id.set(id, symbol);
  }
  return by_id;
}

/** Prices and quantities as Binance shows them: decimal strings with the instrument's decimals. */
export class LevelFormat {
  private readonly price: DecimalFormat;
  private readonly size: DecimalFormat;

  constructor(readonly instrument: Instrument) {
    this.price = new DecimalFormat(instrument.tick_size, instrument.price_decimals);
    this.size = new DecimalFormat(instrument.lot_size, instrument.size_decimals);
  }

  /** `["price","qty"]`; a size of 0 shows as a zero quantity (Binance: delete the level). */
  level(price_ticks: number, size_lots: number): string {
    return `["${this.price.format(price_ticks)}","${this.size.format(size_lots)}"]`;
  }

  /** The levels as a JSON array (the first `count` of them). */
  levels(levels: readonly L2Level[], count: number = levels.length): string {
    if (count === 0) return '[]';
    let out = '[';
    for (let i = 0; i < count; i++) {
      if (i > 0) out += ',';
      out += this.level(levels[i].price, levels[i].size);
    }
    return `${out}]`;
  }
}

export interface DepthUpdate {
  id: string;
  first_update_id: number;
  last_update_id: number;
  event_time_ms: number;
  /** The levels: the first bid_count / ask_count of them (all when not given). */
  bids: readonly L2Level[];
  bid_count?: number;
  asks: readonly L2Level[];
  ask_count?: number;
}

/** `{"e":"depthUpdate","E":…,"s":…,"U":…,"u":…,"b":[…],"a":[…]}` */
export function depth_update_json(m: DepthUpdate, format: LevelFormat): string {
  return `{"e":"depthUpdate","E":${m.event_time_ms},"s":"${m.id}","U":${m.first_update_id},"u":${m.last_update_id},` +
    `"b":${format.levels(m.bids, m.bid_count ?? m.bids.length)},"a":${format.levels(m.asks, m.ask_count ?? m.asks.length)}}`;
}

/** A combined stream's message: `{"stream":…,"data":…}` around an event already encoded. */
export function combined_json(stream: string, data: string): string {
  return `{"stream":"${stream}","data":${data}}`;
}

/** GET /api/v3/depth's body. */
export function depth_body(last_update_id: number, bids: readonly L2Level[], bid_count: number, asks: readonly L2Level[], ask_count: number, format: LevelFormat): string {
  return `{"lastUpdateId":${last_update_id},"bids":${format.levels(bids, bid_count)},"asks":${format.levels(asks, ask_count)}}`;
}

/** One symbol of GET /api/v3/exchangeInfo: what ccxt's parseMarket and Binance clients read (filters with tick and step sizes). */
export function exchange_info_symbol(instrument: Instrument): Record<string, unknown> {
  const [base, ...rest] = instrument.symbol.split(/[-_]/);
  const quote = rest.join('');
  return {
    symbol: binance_id(instrument.symbol),
    status: 'TRADING',
    baseAsset: base,
    baseAssetPrecision: instrument.size_decimals,
    quoteAsset: quote,
    quotePrecision: instrument.price_decimals,
    quoteAssetPrecision: instrument.price_decimals,
    orderTypes: ['LIMIT'],
    icebergAllowed: false,
    ocoAllowed: false,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    permissions: ['SPOT'],
    permissionSets: [['SPOT']],
    filters: [
      { filterType: 'PRICE_FILTER', minPrice: instrument.tick_size, maxPrice: '0', tickSize: instrument.tick_size },
      { filterType: 'LOT_SIZE', minQty: instrument.lot_size, maxQty: '0', stepSize: instrument.lot_size },
    ],
  };
}

export function exchange_info_body(instruments: readonly Instrument[], server_time_ms: number, limits: { rest_requests_per_s_max: number; ws_messages_per_s_max: number }): string {
  return JSON.stringify({
    timezone: 'UTC',
    serverTime: server_time_ms,
    rateLimits: [
      { rateLimitType: 'REQUEST_WEIGHT', interval: 'SECOND', intervalNum: 1, limit: limits.rest_requests_per_s_max },
      { rateLimitType: 'RAW_REQUESTS', interval: 'SECOND', intervalNum: 1, limit: limits.rest_requests_per_s_max },
    ],
    exchangeFilters: [],
    symbols: instruments.map(exchange_info_symbol),
  });
}

// ---- errors ----

/** REST error codes (Binance spot "Error codes"), the ones the gateway answers with. */
export const rest_error = {
  disconnected: -1001,        // the book is not live (recovering): try again
  too_many_requests: -1003,   // over the per-IP request rate
  illegal_chars: -1100,       // a parameter is not a number
  mandatory_param: -1102,     // a required parameter is missing or empty
  bad_symbol: -1121,          // no such symbol
  invalid_parameter: -1130,   // a value out of range (limit)
} as const;

/** `{"code":…,"msg":…}` (REST errors). */
export function rest_error_body(code: number, msg: string): string {
  return JSON.stringify({ code, msg });
}

/** WebSocket API error codes (Binance "Error Messages" of the WebSocket streams). */
export const ws_error = {
  unknown_property: 0,
  invalid_value: 1,
  invalid_request: 2,
  invalid_json: 3,
} as const;

/** `{"error":{"code":…,"msg":…},"id":…}` (id null when the request had none we could read). */
export function ws_error_json(code: number, msg: string, id: number | string | null): string {
  return JSON.stringify({ error: { code, msg }, id });
}

/** `{"result":…,"id":…}`: SUBSCRIBE/UNSUBSCRIBE answer null, LIST_SUBSCRIPTIONS the stream names. */
export function ws_result_json(result: readonly string[] | null, id: number | string | null): string {
  return JSON.stringify({ result, id });
}
