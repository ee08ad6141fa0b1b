import { describe, expect, it } from 'vitest';
import { ConfigError, help_text, option_specs, parse_config } from '../../src/config.js';

describe('config', () => {
  it('takes defaults, then environment, then flags', () => {
    const { config } = parse_config('all', ['--rate', '5000', '--symbols=AAA,BBB'], { DEPTHCAST_SEED: '7', DEPTHCAST_RATE: '10' });
    expect(config.rate_orders_per_s).toBe(5000);
    expect(config.seed).toBe(7);
    expect(config.symbols).toEqual(['AAA', 'BBB']);
    expect(config.port).toBe(8080);
    expect(config.nats_url).toBe('');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('gives engine and feed a NATS URL by default', () => {
    expect(parse_config('engine', [], {}).config.nats_url).toBe('nats://127.0.0.1:4222');
    expect(parse_config('feed', [], {}).config.nats_url).toBe('nats://127.0.0.1:4222');
  });

  it.each([
    [['--port', '70000'], /--port: must be at most 65535/],
    [['--rate', 'fast'], /--rate: expected a number/],
    [['--seed', '1.5'], /--seed: expected an integer/],
    [['--symbols', 'btc usd'], /--symbols.*invalid symbol 'btc usd'/],
    [['--symbols', 'A,A'], /--symbols.*unique/],
    [['--nats-url', 'http://x'], /--nats-url.*expected nats:\/\//],
    [['--slow-policy', 'drop'], /--slow-policy.*'conflate' or 'close'/],
    [['--port'], /--port needs a value/],
    [['--whatever', '1'], /unknown option '--whatever'/],
    [['--slow-exit-bytes', '500000'], /--slow-exit-bytes .* must be below --slow-enter-bytes/],
  ])('refuses %j naming the flag', (argv, message) => {
    expect(() => parse_config('all', argv, {})).toThrow(ConfigError);
    expect(() => parse_config('all', argv, {})).toThrow(message);
  });

  it('names the environment variable when that is what is wrong', () => {
    expect(() => parse_config('feed', [], { DEPTHCAST_PORT: '-1' })).toThrow(/environment variable DEPTHCAST_PORT: must be at least 0/);
  });

  it('refuses an option of another command', () => {
    expect(() => parse_config('engine', ['--port', '1'], {})).toThrow(/--port does not apply to 'depthcast engine'/);
  });

  it('documents every option in --help, and names limits *_max with units last', () => {
    const text = help_text('all');
    for (const spec of option_specs.filter((s) => s.commands.includes('all'))) {
      expect(text).toContain(spec.flag);
      expect(text).toContain(spec.env);
    }
    for (const spec of option_specs) {
      if (/max/.test(spec.key)) expect(spec.key, spec.key).toMatch(/_max$/);
    }
  });
});
