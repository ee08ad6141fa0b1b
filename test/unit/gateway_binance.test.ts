// The gateway's pure parts: Binance's shapes (binance_format.ts) and what a
// client may ask (binance_requests.ts), including a fuzz of method frames:
// whatever arrives, the answer is a request or one of Binance's four error
// codes, never a throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binance_id, binance_ids, depth_update_json, LevelFormat, ws_error } from '../../src/gateway/binance_format.js';
import { parse_method_frame, parse_stream } from '../../src/gateway/binance_requests.js';

const by_lower = new Map([['btcusd', 'BTC-USD'], ['ethusd', 'ETH-USD']]);
const btc = new LevelFormat({ symbol: 'BTC-USD', tick_size: '0.01', lot_size: '0.0001', price_decimals: 2, size_decimals: 4 });

describe('Binance symbols', () => {
  it('maps BTC-USD to BTCUSD and refuses two symbols with one id', () => {
    expect(binance_id('BTC-USD')).toBe('BTCUSD');
    expect([...binance_ids(['BTC-USD', 'ETH_USD'])]).toEqual([['BTCUSD', 'BTC-USD'], ['ETHUSD', 'ETH_USD']]);
    expect(() => binance_ids(['BTC-USD', 'BTCUSD'])).toThrow(/BTC-USD and BTCUSD both map to the Binance id BTCUSD/);
  });
});

describe('depthUpdate', () => {
  it("is Binance's event with decimal strings in the instrument's decimals, 0 for a removed level", () => {
    const text = depth_update_json({
      id: 'BTCUSD', first_update_id: 157, last_update_id: 160, event_time_ms: 1_700_000_000_000,
      bids: [{ price: 6_500_001, size: 2368, orders: 1 }], asks: [{ price: 6_500_002, size: 0, orders: 0 }],
    }, btc);
    expect(JSON.parse(text)).toEqual({ e: 'depthUpdate', E: 1_700_000_000_000, s: 'BTCUSD', U: 157, u: 160, b: [['65000.01', '0.2368']], a: [['65000.02', '0.0000']] });
  });
});

describe('stream names', () => {
  it('reads <symbol>@depth (1000 ms) and <symbol>@depth@100ms, and names what it refuses', () => {
    expect(parse_stream('btcusd@depth@100ms', by_lower)).toEqual({ name: 'btcusd@depth@100ms', symbol: 'BTC-USD', speed: 100 });
    expect(parse_stream('btcusd@depth', by_lower)).toEqual({ name: 'btcusd@depth', symbol: 'BTC-USD', speed: 1000 });
    expect(parse_stream('btcusd@depth@1000ms', by_lower)).toEqual({ name: 'btcusd@depth', symbol: 'BTC-USD', speed: 1000 });
    expect(parse_stream('dogeusd@depth', by_lower)).toMatch(/unknown symbol 'dogeusd'/);
    expect(parse_stream('btcusd@trade', by_lower)).toMatch(/unknown stream 'btcusd@trade'/);
    expect(parse_stream('BTCUSD@depth', by_lower)).toMatch(/unknown stream/);
  });
});

describe('method frames', () => {
  const parse = (text: string) => parse_method_frame(text, by_lower, 3);

  it('reads what ccxt sends and the other methods', () => {
    expect(parse('{"method":"SUBSCRIBE","params":["btcusd@depth@100ms"],"id":1}')).toEqual({
      method: 'SUBSCRIBE', id: 1, streams: [{ name: 'btcusd@depth@100ms', symbol: 'BTC-USD', speed: 100 }],
    });
    expect(parse('{"method":"LIST_SUBSCRIPTIONS","id":3}')).toEqual({ method: 'LIST_SUBSCRIPTIONS', id: 3 });
    expect(parse('{"method":"SET_PROPERTY","params":["combined",true],"id":5}')).toEqual({ method: 'SET_PROPERTY', combined: true, id: 5 });
    expect(parse('{"method":"GET_PROPERTY","params":["combined"],"id":2}')).toEqual({ method: 'GET_PROPERTY', id: 2 });
  });

  it("answers bad input with Binance's codes, keeping the id when it could be read", () => {
    expect(parse('{"method":')).toMatchObject({ code: ws_error.invalid_json, id: null });
    expect(parse('[1]')).toMatchObject({ code: ws_error.invalid_request, id: null });
    expect(parse('{"method":"SUBSCRIBE","params":[],"id":-1}')).toMatchObject({ code: ws_error.invalid_request, msg: 'Invalid request: request ID must be an unsigned integer' });
    expect(parse('{"method":"SUBSCRIBE","params":[],"id":7,"x":1}')).toEqual({ code: ws_error.unknown_property, msg: 'Unknown property', id: 7 });
    expect(parse('{"params":[],"id":7}')).toMatchObject({ code: ws_error.invalid_request, msg: 'Invalid request: missing field `method`', id: 7 });
    expect(parse('{"method":"FOO","id":8}')).toMatchObject({ code: ws_error.invalid_request, id: 8 });
    expect(parse('{"method":"SUBSCRIBE","params":"btcusd@depth","id":9}')).toMatchObject({ code: ws_error.invalid_value, id: 9 });
    expect(parse('{"method":"SUBSCRIBE","params":["a@depth","b@depth","c@depth","d@depth"],"id":10}')).toMatchObject({ code: ws_error.invalid_request, msg: 'Invalid request: too many parameters' });
    expect(parse('{"method":"SUBSCRIBE","params":["dogeusd@depth"],"id":11}')).toMatchObject({ code: ws_error.invalid_request, msg: expect.stringMatching(/unknown symbol/), id: 11 });
    expect(parse('{"method":"SET_PROPERTY","params":["combined","yes"],"id":12}')).toMatchObject({ code: ws_error.invalid_value, msg: 'Invalid value type: expected Boolean' });
  });

  it('fuzz: any text and any JSON value give a request or one of the four error codes, never a throw', () => {
    const codes: number[] = Object.values(ws_error);
    const check = (text: string) => {
      const r = parse(text);
      if ('code' in r) {
        expect(codes).toContain(r.code);
        expect(typeof r.msg).toBe('string');
      } else {
        expect(['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY']).toContain(r.method);
      }
    };
    fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => check(JSON.stringify(v) ?? 'null')), { numRuns: 2000 });
    const method_frame = fc.record({
      method: fc.constantFrom('SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY', 'subscribe', ''),
      params: fc.oneof(fc.array(fc.constantFrom('btcusd@depth', 'ethusd@depth@100ms', 'combined', 'x@depth', '', 'btcusd@depth@5ms'), { maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })),
      id: fc.oneof(fc.nat(), fc.integer(), fc.string({ maxLength: 40 }), fc.constant(null), fc.double()),
    }, { requiredKeys: [] });
    fc.assert(fc.property(method_frame, (f) => check(JSON.stringify(f))), { numRuns: 3000 });
  });
});
