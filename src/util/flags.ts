// The one command-line flag parser of the project: the CLI (src/config.ts),
// the load generator (loadgen/options.ts), the benches and the scripts all
// read their flags through it, so `--name value`, `--name=value`, `--bool`,
// `--no-bool`, number bounds and list splitting mean the same everywhere.
//
//   scan_flags(argv, find, on)      walks argv once: finds each flag's spec,
//                                   takes its raw value, hands (spec, raw, flag)
//                                   to on.value; refusals go to on.unknown /
//                                   on.needs_value / on.positional (each throws
//                                   the caller's own error type)
//   parse_flag_value(kind, raw, bounds)   raw text → value of a kind; throws
//                                   Error with a message that does not name the
//                                   flag (the caller prefixes it)
//   number_flag / string_flag / list_flag / has_flag   for scripts and benches
//                                   with no option table: one flag read from argv
//
// Cost: start-up only; a linear scan per flag.
// Invariants: a value never silently becomes NaN or out of bounds: bad input
// throws, naming what was expected.

export type FlagKind = 'int' | 'number' | 'string' | 'list' | 'bool';

export interface FlagBounds {
  min?: number;
  max?: number;
}

/** The least a spec must say for scan_flags: its flag and its kind. */
export interface FlagSpec {
  flag: string;
  kind: FlagKind;
}

export interface FlagHandlers<S extends FlagSpec> {
  value(spec: S, raw: string, flag: string): void;
  /** A flag no spec knows; must throw. */
  unknown(flag: string): never;
  /** A non-bool flag at the end or followed by another flag; must throw. */
  needs_value(flag: string): never;
  /** An argument that is not a flag; must throw. Default: treated as an unknown flag. */
  positional?(arg: string): never;
  /** --help or -h; default: treated as an unknown flag. */
  help?(): void;
}

/** The spec of `flag` among `specs`: by its name, or `--no-x` for a bool `--x`. */
export function find_flag<S extends FlagSpec>(specs: readonly S[], flag: string): S | undefined {
  return specs.find((s) => s.flag === flag || (s.kind === 'bool' && flag === `--no-${s.flag.slice(2)}`));
}

export function scan_flags<S extends FlagSpec>(argv: readonly string[], find: (flag: string) => S | undefined, on: FlagHandlers<S>): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if ((arg === '--help' || arg === '-h') && on.help) {
      on.help();
      continue;
    }
    if (!arg.startsWith('--') && on.positional) on.positional(arg);
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = find(flag);
    if (!spec) on.unknown(flag);
    let raw: string;
    if (spec.kind === 'bool' && eq < 0) {
      raw = flag.startsWith('--no-') ? 'false' : 'true';
    } else if (eq >= 0) {
      raw = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) on.needs_value(flag);
      raw = next;
      i++;
    }
    on.value(spec, raw, flag);
  }
}

/** Checks a number against its kind and bounds; throws a message without the flag's name. */
export function check_number(kind: 'int' | 'number', n: number, bounds: FlagBounds = {}, shown = String(n)): number {
  if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
    throw new Error(`expected ${kind === 'int' ? 'an integer' : 'a number'}, got ${shown}`);
  }
  if (bounds.min !== undefined && n < bounds.min) throw new Error(`must be at least ${bounds.min}, got ${shown}`);
  if (bounds.max !== undefined && n > bounds.max) throw new Error(`must be at most ${bounds.max}, got ${shown}`);
  return n;
}

export function parse_flag_value(kind: FlagKind, raw: string, bounds: FlagBounds = {}): number | boolean | string | string[] {
  switch (kind) {
    case 'int':
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
        throw new Error(`expected ${kind === 'int' ? 'an integer' : 'a number'}, got '${raw}'`);
      }
      return check_number(kind, n, bounds, raw);
    }
    case 'bool':
      if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
      if (['0', 'false', 'no', 'off'].includes(raw)) return false;
      throw new Error(`expected true or false, got '${raw}'`);
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'string':
      return raw;
  }
}

/** The raw text after `--name` (`--name value` or `--name=value`), or undefined when absent. */
function raw_flag(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
    if (arg === name) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new Error(`${name} needs a value`);
      return next;
    }
  }
  return undefined;
}

function named<T>(name: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
  }
}

/** A number flag (`--runs 7`); the fallback when absent; throws on a bad value. Integers unless bounds say `kind: 'number'`. */
export function number_flag(argv: readonly string[], name: string, fallback: number, bounds: FlagBounds & { kind?: 'int' | 'number' } = {}): number {
  const raw = raw_flag(argv, name);
  if (raw === undefined) return fallback;
  return named(name, () => parse_flag_value(bounds.kind ?? 'number', raw, bounds) as number);
}

export function string_flag(argv: readonly string[], name: string, fallback: string): string {
  return raw_flag(argv, name) ?? fallback;
}

/** `--name 10,50,0` → [10, 50, 0]; every item checked as a number. */
export function number_list_flag(argv: readonly string[], name: string, fallback: number[]): number[] {
  const raw = raw_flag(argv, name);
  if (raw === undefined) return fallback;
  return named(name, () => (parse_flag_value('list', raw) as string[]).map((item) => parse_flag_value('number', item) as number));
}

export function has_flag(argv: readonly string[], name: string): boolean {
  return argv.includes(name);
}
