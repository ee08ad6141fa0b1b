// Decoder fuzz: random bytes, truncated, bit-flipped and field-overwritten
// valid frames must only ever produce a WireError with a known code (never
// another exception; the decoder labels caught foreign errors "internal"), and
// whatever does decode must re-encode to a frame that decodes to the same.
// Seeded; a long run: DEPTHCAST_FUZZ_CASES=1000000 npx vitest run test/unit/feed_codec_fuzz.test.ts
// (DEPTHCAST_FUZZ_SEED picks another seed).
import { describe, expect, it } from 'vitest';
import { error_code } from '../../src/wire/codes.js';
import { decode_client_frame, decode_server_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { WireError } from '../../src/wire/wire_error.js';
import { seeded_random } from '../../src/util/random.js';
import { corpus, mutate } from '../helpers/feed_frame_fuzz.js';

const cases = Number(process.env.DEPTHCAST_FUZZ_CASES ?? 20_000);
const seed = Number(process.env.DEPTHCAST_FUZZ_SEED ?? 0x5eed);
const known_codes = new Set<number>(Object.values(error_code));

describe('feed decoders under fuzz', () => {
  it(`${cases} mutated frames give only WireErrors, and what decodes re-encodes`, () => {
    const r = seeded_random(seed);
    const frames = corpus();
    const enc = new FrameEncoder();
    const norm = (v: unknown) => JSON.parse(JSON.stringify(v));
    let decoded = 0;
    let refused = 0;
    for (let c = 0; c < cases; c++) {
      const bytes = mutate(r, frames);
      for (const [decode, encode] of [
        [decode_server_frame, (m: never) => enc.server(m)],
        [decode_client_frame, (m: never) => enc.client(m)],
      ] as const) {
        let msg: unknown;
        try {
          msg = decode(bytes);
        } catch (e) {
          if (!(e instanceof WireError) || !known_codes.has(e.code) || e.message.startsWith('internal')) {
            throw new Error(`case ${c} (seed ${seed}): ${String(e)} for bytes ${Buffer.from(bytes).toString('hex')}`, { cause: e });
          }
          refused++;
          continue;
        }
        decoded++;
        expect(norm(decode(encode(msg as never)))).toEqual(norm(msg));
      }
    }
    // Both outcomes must occur, or the mutations are not exercising the decoder.
    expect(decoded).toBeGreaterThan(cases / 20);
    expect(refused).toBeGreaterThan(cases / 2);
  }, Math.max(60_000, cases * 2));
});
