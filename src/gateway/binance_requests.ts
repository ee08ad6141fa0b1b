// What a Binance WebSocket client may ask, read from untrusted text: stream
// names (`btcusd@depth@100ms`, `btcusd@depth`) and method frames
// (`{"method":"SUBSCRIBE","params":[…],"id":1}`, UNSUBSCRIBE,
// LIST_SUBSCRIPTIONS, SET_PROPERTY / GET_PROPERTY "combined"). Anything else
// is a WsRefusal carrying Binance's error code and message; nothing here
// throws on input. Pure.
//
// Cost: one JSON.parse per method frame (bounded by the socket's
// maxPayloadLength), a map lookup per stream name.

import { ws_error } from './binance_format.js';
import type { SpeedMs } from './book_source.js';

export interface StreamRef {
  /** The name as Binance spells it (lower-case id). */
  name: string;
  symbol: string;
  speed: SpeedMs;
}

export interface WsRefusal {
  code: number;
  msg: string;
  id: number | string | null;
}

export type MethodFrame =
  | { method: 'SUBSCRIBE' | 'UNSUBSCRIBE'; streams: StreamRef[]; id: number | string | null }
  | { method: 'LIST_SUBSCRIPTIONS'; id: number | string | null }
  | { method: 'SET_PROPERTY'; combined: boolean; id: number | string | null }
  | { method: 'GET_PROPERTY'; id: number | string | null };

const methods = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY'];
const stream_pattern = /^([a-z0-9]{1,32})@depth(?:@(100|1000)ms)?$/;

/**
 * A stream name → the symbol and speed it means, or a reason it means none.
 * `symbols_by_lower_id`: Binance id in lower case → depthcast symbol.
 */
export function parse_stream(name: string, symbols_by_lower_id: ReadonlyMap<string, string>): StreamRef | string {
  const m = stream_pattern.exec(name);
  if (m === null) return `unknown stream '${name.slice(0, 64)}' (served: <symbol>@depth and <symbol>@depth@100ms)`;
  const symbol = symbols_by_lower_id.get(m[1]);
  if (symbol === undefined) return `unknown symbol '${m[1]}' in stream '${name}'`;
  const speed: SpeedMs = m[2] === '100' ? 100 : 1000;
  return { name: speed === 100 ? `${m[1]}@depth@100ms` : `${m[1]}@depth`, symbol, speed };
}

/** A method frame's text → what it asks, or Binance's error for it. */
export function parse_method_frame(text: string, symbols_by_lower_id: ReadonlyMap<string, string>, streams_per_frame_max: number): MethodFrame | WsRefusal {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { code: ws_error.invalid_json, msg: `Invalid JSON: ${(err as Error).message.slice(0, 200)}`, id: null };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: ws_error.invalid_request, msg: 'Invalid request: expected a JSON object', id: null };
  }
  const frame = value as Record<string, unknown>;
  const raw_id = frame.id;
  const id_ok = raw_id === undefined || raw_id === null || (typeof raw_id === 'number' && Number.isSafeInteger(raw_id) && raw_id >= 0)
    || (typeof raw_id === 'string' && raw_id.length <= 36);
  if (!id_ok) return { code: ws_error.invalid_request, msg: 'Invalid request: request ID must be an unsigned integer', id: null };
  const id = (raw_id ?? null) as number | string | null;
  for (const key of Object.keys(frame)) {
    if (key !== 'method' && key !== 'params' && key !== 'id') return { code: ws_error.unknown_property, msg: 'Unknown property', id };
  }
  const method = frame.method;
  if (method === undefined) return { code: ws_error.invalid_request, msg: 'Invalid request: missing field `method`', id };
  if (typeof method !== 'string' || !methods.includes(method)) {
    return { code: ws_error.invalid_request, msg: `Invalid request: unknown variant \`${String(method).slice(0, 32)}\`, expected one of ${methods.map((m) => `\`${m}\``).join(', ')}`, id };
  }
  const params = frame.params;
  switch (method) {
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE': {
      if (!Array.isArray(params) || !params.every((p) => typeof p === 'string')) {
        return { code: ws_error.invalid_value, msg: 'Invalid value type: expected an array of stream names', id };
      }
      if (params.length > streams_per_frame_max) return { code: ws_error.invalid_request, msg: 'Invalid request: too many parameters', id };
      const streams: StreamRef[] = [];
      for (const p of params as string[]) {
        const s = parse_stream(p, symbols_by_lower_id);
        if (typeof s === 'string') return { code: ws_error.invalid_request, msg: `Invalid request: ${s}`, id };
        streams.push(s);
      }
      return { method, streams, id };
    }
    case 'LIST_SUBSCRIPTIONS':
    case 'GET_PROPERTY':
      if (method === 'GET_PROPERTY' && !(Array.isArray(params) && params.length === 1 && params[0] === 'combined')) {
        return { code: ws_error.invalid_request, msg: 'Invalid request: the only property is "combined"', id };
      }
      return { method, id };
    default: { // SET_PROPERTY
      if (!Array.isArray(params) || params.length !== 2 || params[0] !== 'combined') {
        return { code: ws_error.invalid_request, msg: 'Invalid request: the only property is "combined"', id };
      }
      if (typeof params[1] !== 'boolean') return { code: ws_error.invalid_value, msg: 'Invalid value type: expected Boolean', id };
      return { method: 'SET_PROPERTY', combined: params[1], id };
    }
  }
}
