// A small seeded run of scripts/fuzz.ts in CI: the client-frame decoder on
// 20,000 generated frames, then a live server (in-process, real uWS sockets)
// on 1,500, each answered with exactly the Error codes a model of the server
// predicts. The full run (1M decoder cases + 100k live cases against a child
// process) is `npx tsx scripts/fuzz.ts`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz_decoder } from '../../scripts/fuzz/decoder_phase.js';
import { fuzz_server } from '../../scripts/fuzz/server_phase.js';
import { start_all, type AllInOne } from '../../src/app.js';
import { error_code } from '../../src/wire/codes.js';
import { test_config, wait_for } from '../helpers/service.js';

const seed = 20_261_123;
const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
const frame_bytes_max = 1024;
/** Small, so that the fuzzer reaches the limit within a connection's life. */
const subscriptions_max = 2;

describe('fuzzing client frames', () => {
  it('the decoder refuses every bad frame with a known code and decodes the rest within bounds', () => {
    const report = fuzz_decoder(20_000, seed, symbols, frame_bytes_max);
    expect(report.failures).toEqual([]);
    expect(report.cases).toBe(20_000);
    // The generator reaches every refusal the decoder has, and valid frames too.
    expect(Object.keys(report.refused_by_code).map(Number).sort((a, b) => a - b))
      .toEqual([error_code.bad_frame, error_code.not_a_client_message, error_code.bad_request]);
    expect(report.decoded).toBeGreaterThan(1000);
  });

  describe('against a live server', () => {
    let all: AllInOne;

    beforeAll(async () => {
      all = await start_all(test_config({
        symbols, rate_orders_per_s: 20, inbound_frame_bytes_max: frame_bytes_max,
        subscriptions_per_connection_max: subscriptions_max, inbound_messages_per_s_max: 100_000,
      }));
      await wait_for('live', () => all.feed_service.feed.health().ready);
    });

    afterAll(async () => {
      await all?.stop();
    });

    it('answers each case with exactly the predicted Error codes, closes only for 16x frames, holds the subscription limit, and keeps serving', async () => {
      const report = await fuzz_server({ url: all.feed_service.url, cases: 1500, seed, connections: 4, symbols, frame_bytes_max, subscriptions_max });
      expect(report.failures).toEqual([]);
      expect(report.cases).toBe(1500);
      expect(report.expected_closes).toBeGreaterThan(0);
      const codes = Object.keys(report.error_frames_by_code).map(Number);
      for (const code of [error_code.bad_frame, error_code.frame_too_large, error_code.not_a_client_message, error_code.unknown_symbol,
        error_code.bad_depth, error_code.too_many_subscriptions, error_code.not_subscribed, error_code.bad_interval, error_code.text_frame,
        error_code.bad_request]) {
        expect(codes, `Error ${code} exercised`).toContain(code);
      }
      expect(all.feed_service.feed.health().ready).toBe(true);
    });
  });
});
