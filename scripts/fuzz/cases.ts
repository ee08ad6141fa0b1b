// The fuzz cases: a deterministic stream of client frames for one seed
// (CaseGenerator), and what both phases need to judge and report one
// (Failure, failure_hex, the known Error codes, the 16x close rule).
//
// Kinds: random, truncated, bit-flipped, overwritten and spliced bytes built
// from a corpus of valid frames; well-formed FlatBuffers with absurd content
// (0 or 1000 symbols, 33-byte and empty symbols, depth 65535, interval
// 2^32-1, nonce 2^64-1, server-only bodies, unknown union types); valid
// frames; oversized, huge (over 16x the limit), text and empty frames.
//
// Cost: a handful of PRNG draws per case; random bytes take one draw per case
// (a xorshift32 fills them), not one per byte. An absurd frame with a long
// symbol list costs ~1 ms to build, so up to 16 are kept per list length and
// reused. Same seed, same symbols, same limit: the same cases in the same
// order, which is what makes a failure's (seed, index) reproducible.
import * as flatbuffers from 'flatbuffers';
import { seeded_random } from '../../src/util/random.js';
import { depths_allowed, error_code, interval_ms_max } from '../../src/wire/codes.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { symbol_bytes_max, symbols_per_message_max, token_bytes_max } from '../../src/wire/feed_types.js';
import { Body } from '../../src/wire/generated/depthcast/feed/body.js';
import { Refresh } from '../../src/wire/generated/depthcast/feed/refresh.js';
import { Frame } from '../../src/wire/generated/depthcast/feed/frame.js';
import { Ping } from '../../src/wire/generated/depthcast/feed/ping.js';
import { Resync } from '../../src/wire/generated/depthcast/feed/resync.js';
import { Subscribe } from '../../src/wire/generated/depthcast/feed/subscribe.js';
import { Unsubscribe } from '../../src/wire/generated/depthcast/feed/unsubscribe.js';

/** uWS drops a connection whose message exceeds the frame limit times this (src/server/server.ts). */
export const hard_frame_factor = 16;
export const known_error_codes = new Set<number>(Object.values(error_code));
export const utf8 = new TextEncoder();
/** Prebuilt absurd frames kept per long symbol-list length. */
const long_list_variants = 16;

export interface FuzzCase {
  kind: string;
  data: Uint8Array | string;
}

/** Deterministic stream of client frames for one seed. */
export class CaseGenerator {
  private readonly random: () => number;
  private readonly encoder = new FrameEncoder();
  private readonly b = new flatbuffers.Builder(1024);
  private readonly corpus: Uint8Array[];
  private readonly long_lists = new Map<number, Uint8Array[]>();

  constructor(seed: number, private readonly symbols: readonly string[], private readonly frame_bytes_max: number) {
    this.random = seeded_random(seed);
    const e = this.encoder;
    this.corpus = [
      e.subscribe({ symbols: [...symbols.slice(0, 3)], depth: 10, interval_ms: 0 }),
      e.subscribe({ symbols: [symbols[0]], depth: 0, interval_ms: 250 }),
      e.unsubscribe({ symbols: [symbols[0]], depth: 10 }),
      e.resync({ symbol: symbols[symbols.length - 1], depth: 50 }),
      e.ping({ nonce: 7, client_time_ns: 1.7e18 }),
      e.heartbeat({ server_time_ns: 1 }),
      e.error({ code: 1, message: 'x', symbol: '' }),
    ];
  }

  private pick(n: number): number {
    return Math.floor(this.random() * n);
  }

  private one<T>(list: readonly T[]): T {
    return list[this.pick(list.length)];
  }

  next(): FuzzCase {
    const roll = this.pick(100);
    if (roll < 12) return { kind: 'random', data: this.random_bytes(this.pick(400)) };
    if (roll < 24) return { kind: 'truncated', data: this.base().slice(0, this.pick(this.base().length)) };
    if (roll < 38) return { kind: 'bitflip', data: this.bitflip(this.base()) };
    if (roll < 52) return { kind: 'overwrite', data: this.overwrite(this.base()) };
    if (roll < 58) return { kind: 'splice', data: this.splice() };
    if (roll < 82) return this.absurd();
    if (roll < 88) return { kind: 'valid', data: this.valid() };
    if (roll < 93) return { kind: 'oversized', data: this.random_bytes(this.frame_bytes_max + 1 + this.pick(this.frame_bytes_max * 2)) };
    if (roll < 94) return { kind: 'huge', data: new Uint8Array(this.frame_bytes_max * hard_frame_factor + 1 + this.pick(4096)) };
    if (roll < 97) return { kind: 'text', data: this.random_text() };
    return { kind: 'empty', data: new Uint8Array(0) };
  }

  private base(): Uint8Array {
    return this.pick(3) === 0 ? this.valid() : this.one(this.corpus);
  }

  /** n random bytes: a xorshift32 seeded from the case's generator (one draw per case, not per byte). */
  private random_bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let x = (Math.floor(this.random() * 2 ** 32) >>> 0) || 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  }

  private random_text(): string {
    const parts = ['subscribe BTC-USD', '{"op":"subscribe"}', '', '\u0000', '💥', 'x'.repeat(this.pick(5000))];
    return this.one(parts);
  }

  private bitflip(base: Uint8Array): Uint8Array {
    const out = base.slice();
    if (out.length === 0) return out;
    for (let k = 1 + this.pick(4); k > 0; k--) out[this.pick(out.length)] ^= 1 << this.pick(8);
    return out;
  }

  private overwrite(base: Uint8Array): Uint8Array {
    const out = base.slice();
    if (out.length < 4) return out;
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const u32 = [0, 1, 4, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff, out.length, out.length - 4, this.pick(2 ** 32)];
    if (this.pick(2) === 0) view.setUint32(this.pick(out.length >> 2) << 2, this.one(u32), true);
    else view.setUint16(this.pick(out.length >> 1) << 1, this.one([0, 4, 0xff, 0x7ffe, 0xffff, this.pick(65536)]), true);
    return out;
  }

  private splice(): Uint8Array {
    const a = this.base();
    const b = this.base();
    const at = this.pick(a.length + 1);
    const out = new Uint8Array(at + b.length);
    out.set(a.subarray(0, at));
    out.set(b, at);
    return out;
  }

  /** Tokens for Refresh frames: JWT-shaped garbage, alg none, the 0.1 format, binary, empty and oversize. */
  private token(): string {
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    const seg = () => b64(String.fromCharCode(...Array.from({ length: this.pick(40) }, () => this.pick(256))));
    return this.one([
      `${seg()}.${seg()}.${seg()}`, `${b64('{"alg":"none"}')}.${b64('{"sub":"a","exp":9999999999,"symbols":"*"}')}.`,
      `${b64('{"alg":"HS256","kid":"' + 'k'.repeat(this.pick(300)) + '"}')}.${seg()}.${seg()}`, `${seg()}.${seg()}`,
      '', '\u0000', '💥.💥.💥', 'a.b.c.d', 'e'.repeat(8192), 'e'.repeat(8193), '.'.repeat(this.pick(50)),
    ]);
  }

  private symbol(): string {
    return this.one([
      this.one(this.symbols), this.one(this.symbols), '', 'X'.repeat(symbol_bytes_max), 'Y'.repeat(symbol_bytes_max + 1), 'Z'.repeat(300),
      '\u0000', '💥💥💥', 'é'.repeat(16), 'é'.repeat(17), 'NOPE-USD', String(this.pick(1e6)),
    ]);
  }

  private valid(): Uint8Array {
    const e = this.encoder;
    const symbols = Array.from({ length: 1 + this.pick(4) }, () => this.one(this.symbols));
    switch (this.pick(5)) {
      case 0: return e.subscribe({ symbols, depth: this.one(depths_allowed), interval_ms: this.one([0, 0, 100]) });
      case 1: return e.unsubscribe({ symbols, depth: this.one(depths_allowed) });
      case 2: return e.resync({ symbol: symbols[0], depth: this.one(depths_allowed) });
      case 3: {
        const token = this.token(); // the encoder refuses empty and oversize tokens: those go through absurd()
        return e.refresh({ token: token.length > 0 && Buffer.byteLength(token) <= token_bytes_max ? token : 'x' });
      }
      default: return e.ping({ nonce: this.pick(2 ** 40), client_time_ns: this.pick(2 ** 52) });
    }
  }

  /** Well-formed FlatBuffers with absurd content, built without the encoder's checks. */
  private absurd(): FuzzCase {
    const count = this.one([0, 1, 2, 5, 64, 255, symbols_per_message_max, symbols_per_message_max + 1, 1000]);
    if (count < 64) return { kind: 'absurd', data: this.build_absurd(count) };
    // Long symbol lists cost ~1 ms to build: keep a few variants of each and reuse them.
    const variants = this.long_lists.get(count) ?? [];
    this.long_lists.set(count, variants);
    if (variants.length < long_list_variants) variants.push(this.build_absurd(count));
    return { kind: 'absurd', data: this.one(variants) };
  }

  private build_absurd(count: number): Uint8Array {
    const b = this.b;
    b.clear();
    const symbol_list = () => Array.from({ length: count }, () => b.createString(this.symbol()));
    const depth = this.one([0, 10, 50, 1, 7, 100, 65535]);
    let type: Body;
    let body: number;
    switch (this.pick(6)) {
      case 0: {
        const symbols = Subscribe.createSymbolsVector(b, symbol_list());
        body = Subscribe.createSubscribe(b, symbols, depth, this.one([0, 1, interval_ms_max, interval_ms_max + 1, 2 ** 32 - 1]), 0, 0,
          this.one([0, 1, 10, 1_000_000, 1_000_001, 2 ** 32 - 1]));
        type = Body.Subscribe;
        break;
      }
      case 1: {
        const symbols = Unsubscribe.createSymbolsVector(b, symbol_list());
        body = Unsubscribe.createUnsubscribe(b, symbols, depth, this.one([0, 1, 10, 2 ** 32 - 1]));
        type = Body.Unsubscribe;
        break;
      }
      case 2:
        body = Resync.createResync(b, b.createString(this.symbol()), depth, this.one([0, 1, 10, 2 ** 32 - 1]));
        type = Body.Resync;
        break;
      case 3: {
        const u64 = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n];
        body = Ping.createPing(b, this.one(u64), this.one(u64));
        type = Body.Ping;
        break;
      }
      case 4:
        body = Refresh.createRefresh(b, b.createString(this.token()));
        type = Body.Refresh;
        break;
      default: {
        // A table under a body type it is not: a server-only type, NONE or an unknown union member.
        const symbols = Subscribe.createSymbolsVector(b, symbol_list());
        body = Subscribe.createSubscribe(b, symbols, depth, 0, 0, 0, 0);
        type = this.one([Body.NONE, Body.Snapshot, Body.Delta, Body.Status, Body.Error, Body.Pong, Body.Refreshed, 14, 200]) as Body;
        break;
      }
    }
    b.finish(Frame.createFrame(b, type, body));
    return b.asUint8Array().slice();
  }
}

/** One case a phase found wrong: where it is in the seeded stream, and its bytes. */
export interface Failure {
  index: number;
  kind: string;
  problem: string;
  hex: string;
}

/** The case's first 512 bytes as hex, for a failure report. */
export function failure_hex(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? utf8.encode(data) : data;
  return Buffer.from(bytes.subarray(0, 512)).toString('hex') + (bytes.length > 512 ? `…(${bytes.length} bytes)` : '');
}
