// The instruments the engine knows, with what the order-flow generator needs
// to make each one look like its market: where the price starts, how fast it
// moves, how far from the touch passive orders sit and how big they are.
// Any other valid symbol gets a generic instrument.
import type { Instrument } from '../book/types.js';

export interface InstrumentSpec {
  instrument: Instrument;
  /** Starting mid price, in ticks. */
  start_mid_ticks: number;
  /** Random-walk volatility of the fair price, in ticks per square root of a second. */
  volatility_ticks_per_sqrt_s: number;
  /** Typical distance from the touch of a passive order, in ticks (fine-tick books spread wider). */
  offset_scale_ticks: number;
  /** Median size of a passive order, in lots. */
  size_median_lots: number;
}

function spec(symbol: string, tick_size: string, lot_size: string, start_mid_ticks: number,
  volatility_ticks_per_sqrt_s: number, offset_scale_ticks: number, size_median_lots: number): InstrumentSpec {
  return {
    instrument: {
      symbol,
      tick_size,
      lot_size,
      price_decimals: decimals_of(tick_size),
      size_decimals: decimals_of(lot_size),
    },
    start_mid_ticks,
    volatility_ticks_per_sqrt_s,
    offset_scale_ticks,
    size_median_lots,
  };
}

function decimals_of(decimal: string): number {
  const dot = decimal.indexOf('.');
  return dot < 0 ? 0 : decimal.length - dot - 1;
}

const catalog: ReadonlyMap<string, InstrumentSpec> = new Map([
  // 65,000.00 USD, tick 0.01, lot 0.0001 BTC; median order 0.05 BTC
  ['BTC-USD', spec('BTC-USD', '0.01', '0.0001', 6_500_000, 25, 4, 500)],
  // 3,500.00 USD, tick 0.01, lot 0.001 ETH; median order 0.2 ETH
  ['ETH-USD', spec('ETH-USD', '0.01', '0.001', 350_000, 12, 3, 200)],
  // 150.000 USD, tick 0.001, lot 0.01 SOL; median order 5 SOL
  ['SOL-USD', spec('SOL-USD', '0.001', '0.01', 150_000, 10, 3, 500)],
  // 0.5500 USD, tick 0.0001, lot 1 XRP; a large-tick book: thick levels, slow in ticks
  ['XRP-USD', spec('XRP-USD', '0.0001', '1', 5_500, 0.8, 1, 200)],
]);

/** The spec of a known symbol, or a generic one (100.00, tick 0.01, lot 0.01) for any other. */
export function instrument_spec(symbol: string): InstrumentSpec {
  return catalog.get(symbol) ?? spec(symbol, '0.01', '0.01', 10_000, 3, 2, 100);
}
