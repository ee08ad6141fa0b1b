import { describe, expect, it } from 'vitest';
import { find_flag, number_flag, number_list_flag, parse_flag_value, scan_flags, type FlagSpec } from '../../src/util/flags.js';

const specs: FlagSpec[] = [{ flag: '--runs', kind: 'int' }, { flag: '--progress', kind: 'bool' }, { flag: '--name', kind: 'string' }];

function scan(argv: string[]): [string, string][] {
  const seen: [string, string][] = [];
  scan_flags(argv, (f) => find_flag(specs, f), {
    value: (spec, raw) => seen.push([spec.flag, raw]),
    unknown: (flag) => { throw new Error(`unknown ${flag}`); },
    needs_value: (flag) => { throw new Error(`needs ${flag}`); },
  });
  return seen;
}

describe('flags', () => {
  it('reads --x v, --x=v, --bool and --no-bool alike', () => {
    expect(scan(['--runs', '3', '--name=a=b', '--progress', '--no-progress'])).toEqual([
      ['--runs', '3'], ['--name', 'a=b'], ['--progress', 'true'], ['--progress', 'false'],
    ]);
  });

  it('refuses unknown flags and missing values', () => {
    expect(() => scan(['--nope'])).toThrow('unknown --nope');
    expect(() => scan(['--runs'])).toThrow('needs --runs');
    expect(() => scan(['--runs', '--progress'])).toThrow('needs --runs');
  });

  it('checks kinds and bounds', () => {
    expect(parse_flag_value('int', '7', { min: 1, max: 9 })).toBe(7);
    expect(() => parse_flag_value('int', '1.5')).toThrow("expected an integer, got '1.5'");
    expect(() => parse_flag_value('number', '')).toThrow('expected a number');
    expect(() => parse_flag_value('int', '10', { max: 9 })).toThrow('must be at most 9, got 10');
    expect(parse_flag_value('list', ' a, ,b ')).toEqual(['a', 'b']);
    expect(() => parse_flag_value('bool', 'maybe')).toThrow('expected true or false');
  });

  it('single flags for benches and scripts: fallback when absent, error naming the flag when bad', () => {
    expect(number_flag(['--runs', '5'], '--runs', 1)).toBe(5);
    expect(number_flag(['--runs=6'], '--runs', 1)).toBe(6);
    expect(number_flag([], '--runs', 1)).toBe(1);
    expect(() => number_flag(['--runs', 'x'], '--runs', 1)).toThrow('--runs: expected a number');
    expect(() => number_flag(['--runs'], '--runs', 1)).toThrow('--runs needs a value');
    expect(number_list_flag(['--depths', '10,50,0'], '--depths', [])).toEqual([10, 50, 0]);
  });
});
