// Text for the page: prices and sizes come from the SDK's exact decimal
// formatters (BookHandle.format_price/format_size); this file adds what the
// SDK does not do: a mid that can fall on half a tick, latencies, clock times.
import { DecimalFormat, type InstrumentInfo } from 'depthcast/client';

/**
 * Formats a mid price in ticks, which may end in .5, with one more decimal
 * than the instrument shows when it does (65000.005 for a 0.01 tick).
 */
export class MidFormat {
  private readonly half_tick = new DecimalFormat('1', 0);
  private tick_size = '';
  private decimals = -1;

  format(mid_ticks: number, instrument: InstrumentInfo, format_price: (ticks: number) => string): string {
    if (Number.isInteger(mid_ticks)) return format_price(mid_ticks);
    if (instrument.tick_size !== this.tick_size || instrument.price_decimals !== this.decimals) {
      this.tick_size = instrument.tick_size;
      this.decimals = instrument.price_decimals;
      this.half_tick.reset(half_of_decimal(instrument.tick_size), instrument.price_decimals + 1);
    }
    return this.half_tick.format(Math.round(mid_ticks * 2));
  }
}

/** Half of a decimal string, exactly: "0.01" → "0.005", "1" → "0.5", "0.25" → "0.125". */
export function half_of_decimal(step: string): string {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(step.trim());
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return '0.5';
  const frac = m[2] ?? '';
  // step × 10^scale × 5 = half × 10^(scale+1)
  const digits = (BigInt((m[1] || '0') + frac) * 5n).toString().padStart(frac.length + 2, '0');
  const scale = frac.length + 1;
  return `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** A latency in microseconds, with a unit that keeps it to about three digits. */
export function format_latency_us(us: number): string {
  if (!Number.isFinite(us)) return '—';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 10_000) return `${(us / 1000).toFixed(2)} ms`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

/** A rate with k/M suffixes: 1234 → "1.23k". */
export function format_rate(per_s: number): string {
  if (!Number.isFinite(per_s)) return '—';
  if (per_s < 1000) return per_s < 10 ? per_s.toFixed(1) : Math.round(per_s).toString();
  if (per_s < 1e6) return `${(per_s / 1e3).toFixed(per_s < 1e4 ? 2 : 1)}k`;
  return `${(per_s / 1e6).toFixed(2)}M`;
}

/** Bytes per second as KB/s or MB/s. */
export function format_bytes_rate(bytes_per_s: number): string {
  if (!Number.isFinite(bytes_per_s)) return '—';
  if (bytes_per_s < 1e6) return `${(bytes_per_s / 1024).toFixed(1)} KB/s`;
  return `${(bytes_per_s / (1024 * 1024)).toFixed(2)} MB/s`;
}

/** An integer with thin group separators: 1234567 → "1,234,567". */
export function format_count(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const s = Math.trunc(n).toString();
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0 && s[i - 1] !== '-') out += ',';
    out += s[i];
  }
  return out;
}

// The local time zone offset, read once: trades show wall-clock times without a Date per row.
const tz_offset_ms = -new Date().getTimezoneOffset() * 60_000;
const ms_per_day = 86_400_000;

/** ns since the Unix epoch → local "HH:MM:SS.mmm". */
export function format_clock_time(ns: number): string {
  if (!(ns > 0)) return '--:--:--.---';
  const ms_of_day = (((Math.floor(ns / 1e6) + tz_offset_ms) % ms_per_day) + ms_per_day) % ms_per_day;
  const h = Math.floor(ms_of_day / 3_600_000);
  const m = Math.floor(ms_of_day / 60_000) % 60;
  const s = Math.floor(ms_of_day / 1000) % 60;
  const ms = ms_of_day % 1000;
  return `${two(h)}:${two(m)}:${two(s)}.${ms.toString().padStart(3, '0')}`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
