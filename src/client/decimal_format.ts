// Exact decimal formatting of integer ticks and lots: units × step (a
// decimal string such as "0.01") with a fixed number of fraction digits.
// Integer arithmetic on BigInt, so 0.1 + 0.2 style errors cannot appear in a
// price ladder. Used by ClientBook.format_price/format_size and the page.
//
// Cost: a few BigInt operations and one string per call (the page formats
// the levels it draws, once per draw). reset() parses the step once per
// instrument, not per call.
//
// Invariants: a step that does not parse formats as step 1; decimals outside
// 0..18 count as 0; non-integer or unsafe units are shown with String().

/**
 * units × step as an exact decimal string with `decimals` fraction digits
 * (step is a decimal string such as "0.01"). Integer arithmetic on BigInt, so
 * 0.1 + 0.2 style errors cannot appear in a price ladder.
 */
export class DecimalFormat {
  private step_units = 1n;   // step × 10^step_scale
  private step_scale = 0;
  private decimals = 0;

  constructor(step: string, decimals: number) {
    this.reset(step, decimals);
  }

  reset(step: string, decimals: number): void {
    const m = /^(\d*)(?:\.(\d*))?$/.exec(step.trim());
    this.decimals = Number.isInteger(decimals) && decimals >= 0 && decimals <= 18 ? decimals : 0;
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) {
      this.step_units = 1n;
      this.step_scale = 0;
      return;
    }
    const frac = m[2] ?? '';
    this.step_units = BigInt((m[1] || '0') + frac);
    this.step_scale = frac.length;
  }

  format(units: number): string {
    if (!Number.isSafeInteger(units)) return String(units);
    const negative = units < 0;
    let v = BigInt(negative ? -units : units) * this.step_units;
    let scale = this.step_scale;
    // Show exactly `decimals` digits: pad with zeros, or round half up past them.
    if (scale > this.decimals) {
      const div = 10n ** BigInt(scale - this.decimals);
      v = (v + div / 2n) / div;
      scale = this.decimals;
    } else if (scale < this.decimals) {
      v *= 10n ** BigInt(this.decimals - scale);
      scale = this.decimals;
    }
    let digits = v.toString();
    if (scale > 0) {
      digits = digits.padStart(scale + 1, '0');
      digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
    }
    return negative && v !== 0n ? `-${digits}` : digits;
  }
}
