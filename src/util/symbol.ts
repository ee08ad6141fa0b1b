// The symbol rule: what a symbol (an instrument's name, e.g. BTC-USD) may be,
// for every place that accepts one from outside: the CLI's --symbols, the
// engine's snapshot requests, the load generator's --symbols. It also makes a
// symbol a single NATS subject token (no '.', '*', '>' or spaces).
//
// Cost: one anchored regex test per symbol; start-up and request paths only.
// Invariants: a valid symbol is 1..symbol_chars_max ASCII characters, so it
// also fits the wire's symbol_bytes_max (32 UTF-8 bytes).

export const symbol_chars_max = 32;

const symbol_pattern = /^[A-Z0-9][A-Z0-9_-]{0,31}$/;

/** What the rule says, for error messages. */
export const symbol_rule_text = `use A-Z, 0-9, '-', '_' (up to ${symbol_chars_max})`;

export function is_valid_symbol(symbol: string): boolean {
  return symbol_pattern.test(symbol);
}

/** Why a list of symbols cannot be used (empty, an invalid symbol, a repeat), or undefined if it can. */
export function symbol_list_problem(list: readonly string[]): string | undefined {
  if (list.length === 0) return 'at least one symbol is required';
  const bad = list.find((s) => !is_valid_symbol(s));
  if (bad !== undefined) return `invalid symbol '${bad}': ${symbol_rule_text}`;
  if (new Set(list).size !== list.length) return 'symbols must be unique';
  return undefined;
}

/**
 * The key of a view (symbol, depth, group) wherever views are kept in a map or
 * named in a message: `BTC-USD|10`, and `BTC-USD|10|25` for a grouped view
 * (group 1, ungrouped, keeps the short form).
 */
export function view_key(symbol: string, depth: number, group = 1): string {
  return group > 1 ? `${symbol}|${depth}|${group}` : `${symbol}|${depth}`;
}
