// Command-line options of the bench files (`--name value` or `--name=value`),
// read with the project's one flag parser (src/util/flags.ts): a bad value
// stops the bench with the flag's name instead of running with NaN.
import { has_flag, number_flag, number_list_flag, string_flag } from '../../../src/util/flags.js';

const argv = process.argv.slice(2);

export function arg(name: string, fallback: number): number {
  return number_flag(argv, name, fallback);
}

/** `--name 10,50,0` → [10, 50, 0]. */
export function list_arg(name: string, fallback: number[]): number[] {
  return number_list_flag(argv, name, fallback);
}

/** `--name value`, or undefined when not given. */
export function string_arg(name: string): string | undefined {
  const v = string_flag(argv, name, '');
  return v === '' ? undefined : v;
}

export const quick = has_flag(argv, '--quick');
