// Fuzzes what clients send: random, truncated, bit-flipped, overwritten,
// spliced, oversized, text and valid-but-absurd frames (0 or 1000 symbols,
// 33-byte and empty symbols, depth 65535, interval 2^32-1, nonce 2^64-1,
// server-only bodies, unknown union types).
//
//   phase 1, decoder: decode_client_frame in-process, --cases times (default
//     1,000,000). Every case must decode to a message within the protocol's
//     bounds or throw a WireError with a known code that is not an
//     "internal decoder error" (a caught bug).
//   phase 2, live server: `depthcast all` as a child process, --server-cases
//     cases over --connections sockets. After each case the socket sends a
//     Ping and waits for its Pong; the Error frames in between must be
//     exactly those a model of the server predicts (the decoder's code,
//     frame_too_large, text_frame, unknown_symbol, bad_group, bad_depth, the
//     subscription limit, not_subscribed, ...). Frames over 16x the limit
//     must close the socket; nothing else may. At the end the process must
//     still be alive and /health 200.
//
//   npx tsx scripts/fuzz.ts [--cases 1000000] [--server-cases 100000] [--connections 8] [--seed 1] [--out artifacts/fuzz.json]
//
// Seeded: a failure names the seed and the case index; rerun with the same
// seed to reproduce it. test/unit/fuzz_client_frames.test.ts runs a small
// seeded set of both phases in CI.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as flatbuffers from 'flatbuffers';
import WebSocket from 'ws';
import { is_valid_group } from '../src/book/grouped_book.js';
import { seeded_random } from '../src/util/random.js';
import { depths_allowed, error_code, interval_ms_max } from '../src/wire/codes.js';
import { decode_client_frame, decode_server_frame } from '../src/wire/feed_decoder.js';
import { FrameEncoder } from '../src/wire/feed_encoder.js';
import { symbol_bytes_max, symbols_per_message_max, type ClientMsg } from '../src/wire/feed_types.js';
import { Body } from '../src/wire/generated/depthcast/feed/body.js';
import { Frame } from '../src/wire/generated/depthcast/feed/frame.js';
import { Ping } from '../src/wire/generated/depthcast/feed/ping.js';
import { Resync } from '../src/wire/generated/depthcast/feed/resync.js';
import { Subscribe } from '../src/wire/generated/depthcast/feed/subscribe.js';
import { Unsubscribe } from '../src/wire/generated/depthcast/feed/unsubscribe.js';
import { WireError } from '../src/wire/wire_error.js';
import { number_flag, string_flag } from '../src/util/flags.js';
import { view_key } from '../src/util/symbol.js';
import { free_port, process_rss_bytes } from '../src/util/host.js';

/** uWS drops a connection whose message exceeds the frame limit times this (src/server/server.ts). */
const hard_frame_factor = 16;
const known_error_codes = new Set<number>(Object.values(error_code));
const utf8 = new TextEncoder();
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

  private symbol(): string {
    return this.one([
      this.one(this.symbols), this.one(this.symbols), '', 'X'.repeat(symbol_bytes_max), 'Y'.repeat(symbol_bytes_max + 1), 'Z'.repeat(300),
      '\u0000', '💥💥💥', 'é'.repeat(16), 'é'.repeat(17), 'NOPE-USD', String(this.pick(1e6)),
    ]);
  }

  private valid(): Uint8Array {
    const e = this.encoder;
    const symbols = Array.from({ length: 1 + this.pick(4) }, () => this.one(this.symbols));
    switch (this.pick(4)) {
      case 0: return e.subscribe({ symbols, depth: this.one(depths_allowed), interval_ms: this.one([0, 0, 100]) });
      case 1: return e.unsubscribe({ symbols, depth: this.one(depths_allowed) });
      case 2: return e.resync({ symbol: symbols[0], depth: this.one(depths_allowed) });
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
    switch (this.pick(5)) {
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
      default: {
        // A table under a body type it is not: a server-only type, NONE or an unknown union member.
        const symbols = Subscribe.createSymbolsVector(b, symbol_list());
        body = Subscribe.createSubscribe(b, symbols, depth, 0, 0, 0, 0);
        type = this.one([Body.NONE, Body.Snapshot, Body.Delta, Body.Status, Body.Error, Body.Pong, 12, 200]) as Body;
        break;
      }
    }
    b.finish(Frame.createFrame(b, type, body));
    return b.asUint8Array().slice();
  }
}

// ---- phase 1: the decoder ----

export interface Failure {
  index: number;
  kind: string;
  problem: string;
  hex: string;
}

export interface DecoderReport {
  cases: number;
  seed: number;
  decoded: number;
  refused_by_code: Record<string, number>;
  by_kind: Record<string, number>;
  failures: Failure[];
  ms: number;
}

function hex_of(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? utf8.encode(data) : data;
  return Buffer.from(bytes.subarray(0, 512)).toString('hex') + (bytes.length > 512 ? `…(${bytes.length} bytes)` : '');
}

/** Why a decoded message breaks the protocol's bounds, or undefined. */
function out_of_bounds(msg: ClientMsg): string | undefined {
  const bad_symbol = (s: string) => typeof s !== 'string' || utf8.encode(s).length > symbol_bytes_max;
  const bad_u16 = (n: number) => !Number.isInteger(n) || n < 0 || n > 65535;
  switch (msg.type) {
    case 'subscribe':
    case 'unsubscribe':
      if (msg.symbols.length > symbols_per_message_max || msg.symbols.some(bad_symbol)) return 'symbols out of bounds';
      if (bad_u16(msg.depth)) return `depth ${msg.depth}`;
      if (msg.type === 'subscribe' && (!Number.isInteger(msg.interval_ms) || msg.interval_ms < 0 || msg.interval_ms > 2 ** 32 - 1)) return `interval ${msg.interval_ms}`;
      return undefined;
    case 'resync':
      return bad_symbol(msg.symbol) ? 'symbol out of bounds' : bad_u16(msg.depth) ? `depth ${msg.depth}` : undefined;
    case 'ping':
      return Number.isSafeInteger(msg.nonce) && msg.nonce >= 0 ? undefined : `nonce ${msg.nonce}`;
  }
}

export function fuzz_decoder(cases: number, seed: number, symbols: readonly string[], frame_bytes_max: number): DecoderReport {
  const gen = new CaseGenerator(seed, symbols, frame_bytes_max);
  const report: DecoderReport = { cases, seed, decoded: 0, refused_by_code: {}, by_kind: {}, failures: [], ms: 0 };
  const t0 = performance.now();
  for (let i = 0; i < cases; i++) {
    const c = gen.next();
    report.by_kind[c.kind] = (report.by_kind[c.kind] ?? 0) + 1;
    const bytes = typeof c.data === 'string' ? utf8.encode(c.data) : c.data;
    try {
      const msg = decode_client_frame(bytes);
      report.decoded++;
      const problem = out_of_bounds(msg);
      if (problem !== undefined) report.failures.push({ index: i, kind: c.kind, problem: `decoded out of bounds: ${problem}`, hex: hex_of(c.data) });
    } catch (err) {
      const ok = err instanceof WireError && known_error_codes.has(err.code) && !err.message.startsWith('internal decoder error');
      if (ok) report.refused_by_code[(err as WireError).code] = (report.refused_by_code[(err as WireError).code] ?? 0) + 1;
      else report.failures.push({ index: i, kind: c.kind, problem: `threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`, hex: hex_of(c.data) });
    }
    if (report.failures.length >= 20) break;
  }
  report.ms = Math.round(performance.now() - t0);
  return report;
}

// ---- phase 2: a live server ----

export interface ServerFuzzOptions {
  url: string;
  cases: number;
  seed: number;
  connections: number;
  symbols: readonly string[];
  frame_bytes_max: number;
  subscriptions_max: number;
  /** Longest wait for the Pong that ends a case. */
  case_timeout_ms?: number;
}

export interface ServerReport {
  cases: number;
  seed: number;
  connections_opened: number;
  expected_closes: number;
  error_frames_by_code: Record<string, number>;
  pongs: number;
  server_frames: number;
  failures: Failure[];
  ms: number;
}

/** The Error codes the server must answer a case with, given the connection's subscriptions (updated as the server would). */
function expected_errors(c: FuzzCase, subs: Set<string>, o: ServerFuzzOptions): number[] | 'close' {
  if (typeof c.data === 'string') return [error_code.text_frame];
  if (c.data.length > o.frame_bytes_max * hard_frame_factor) return 'close';
  if (c.data.length > o.frame_bytes_max) return [error_code.frame_too_large];
  let msg: ClientMsg;
  try {
    msg = decode_client_frame(c.data);
  } catch (err) {
    return [(err as WireError).code];
  }
  const known = new Set(o.symbols);
  switch (msg.type) {
    case 'ping':
    case 'ack':
      return [];
    case 'subscribe': {
      if (!is_valid_group(msg.group ?? 1)) return [error_code.bad_group];
      if (!depths_allowed.includes(msg.depth)) return [error_code.bad_depth];
      if (msg.interval_ms > interval_ms_max) return [error_code.bad_interval];
      if (msg.symbols.length === 0) return [error_code.bad_request];
      const out: number[] = [];
      for (const s of msg.symbols) {
        const key = view_key(s, msg.depth, msg.group ?? 1);
        if (!known.has(s)) out.push(error_code.unknown_symbol);
        else if (subs.has(key)) continue;
        else if (subs.size >= o.subscriptions_max) out.push(error_code.too_many_subscriptions);
        else subs.add(key);
      }
      return out;
    }
    case 'unsubscribe': {
      const out: number[] = [];
      for (const s of msg.symbols) {
        if (!subs.delete(view_key(s, msg.depth, msg.group ?? 1))) out.push(error_code.not_subscribed);
      }
      return out;
    }
    case 'resync':
      return subs.has(view_key(msg.symbol, msg.depth, msg.group ?? 1)) ? [] : [error_code.not_subscribed];
  }
}

/** Sync pings use nonces from 2^52 up, far from the generator's. */
const sync_nonce_base = 2 ** 52;

class FuzzSocket {
  ws!: WebSocket;
  subs = new Set<string>();
  errors: number[] = [];
  pongs: number[] = [];
  frames = 0;
  undecodable = 0;
  close_code: number | null = null;
  private waiter: (() => void) | null = null;
  private static nonce = sync_nonce_base;
  private readonly encoder = new FrameEncoder();

  async open(url: string): Promise<void> {
    this.subs = new Set();
    this.close_code = null;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => {
      this.frames++;
      let msg;
      try {
        msg = decode_server_frame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } catch {
        this.undecodable++;
        return;
      }
      if (msg.type === 'error') this.errors.push(msg.code);
      else if (msg.type === 'pong') {
        this.pongs.push(msg.nonce);
        if (msg.nonce >= sync_nonce_base) this.waiter?.();
      }
    });
    ws.on('close', (code: number) => { this.close_code = code; this.waiter?.(); });
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('close', (code: number) => reject(new Error(`socket closed before opening (${code})`)));
    });
    this.ws = ws;
  }

  /** Sends the case then a sync Ping; resolves when its Pong (or a close) arrives. */
  async run(c: FuzzCase, timeout_ms: number): Promise<{ errors: number[]; pongs: number[]; closed: boolean; timed_out: boolean }> {
    this.errors = [];
    this.pongs = [];
    const nonce = FuzzSocket.nonce++;
    const done = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { this.waiter = null; resolve(true); }, timeout_ms);
      this.waiter = () => {
        if (this.close_code === null && !this.pongs.includes(nonce)) return;
        clearTimeout(timer);
        this.waiter = null;
        resolve(false);
      };
    });
    this.ws.send(c.data, { binary: typeof c.data !== 'string' });
    this.ws.send(this.encoder.ping({ nonce, client_time_ns: 0 }));
    const timed_out = await done;
    return { errors: this.errors, pongs: this.pongs.filter((n) => n !== nonce), closed: this.close_code !== null, timed_out };
  }

  close(): void {
    this.ws?.terminate();
  }
}

export async function fuzz_server(o: ServerFuzzOptions): Promise<ServerReport> {
  const report: ServerReport = {
    cases: 0, seed: o.seed, connections_opened: 0, expected_closes: 0, error_frames_by_code: {}, pongs: 0, server_frames: 0, failures: [], ms: 0,
  };
  const t0 = performance.now();
  const per_connection = Math.ceil(o.cases / o.connections);
  const quota = (k: number) => Math.floor(o.cases / o.connections) + (k < o.cases % o.connections ? 1 : 0);
  await Promise.all(Array.from({ length: o.connections }, async (_, k) => {
    const gen = new CaseGenerator(o.seed + k + 1, o.symbols, o.frame_bytes_max);
    const sock = new FuzzSocket();
    await sock.open(o.url);
    report.connections_opened++;
    for (let i = 0; i < quota(k) && report.failures.length < 20; i++) {
      const index = k * per_connection + i;
      const c = gen.next();
      const expected = expected_errors(c, sock.subs, o);
      const got = await sock.run(c, o.case_timeout_ms ?? 5000);
      report.cases++;
      for (const code of got.errors) report.error_frames_by_code[code] = (report.error_frames_by_code[code] ?? 0) + 1;
      report.pongs += got.pongs.length;
      const fail = (problem: string) => report.failures.push({ index, kind: c.kind, problem, hex: hex_of(c.data) });
      if (expected === 'close') {
        if (!got.closed) fail('a frame over 16x the limit did not close the connection');
        else report.expected_closes++;
      } else if (got.closed) {
        fail(`connection closed (${sock.close_code}); expected Error codes [${expected}]`);
      } else if (got.timed_out) {
        fail('no Pong: the server stopped answering');
      } else if (got.errors.join(',') !== expected.join(',')) {
        fail(`Error codes [${got.errors}], expected [${expected}]`);
      } else if (got.errors.some((code) => !known_error_codes.has(code))) {
        fail(`unknown Error code in [${got.errors}]`);
      }
      if (got.closed) {
        await sock.open(o.url);
        report.connections_opened++;
      }
    }
    report.server_frames += sock.frames;
    if (sock.undecodable > 0) report.failures.push({ index: -1, kind: 'server', problem: `${sock.undecodable} undecodable frames from the server`, hex: '' });
    sock.close();
  }));
  report.ms = Math.round(performance.now() - t0);
  return report;
}

// ---- CLI ----

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => number_flag(argv, `--${name}`, fallback, { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER });

async function main(): Promise<void> {
  const cases = arg('cases', 1_000_000);
  const server_cases = arg('server-cases', 100_000);
  const connections = arg('connections', 8);
  const seed = arg('seed', 1);
  const out = string_flag(argv, '--out', 'artifacts/fuzz.json');
  const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
  const frame_bytes_max = 4096;
  // Small enough that connections reach it between the 16x-frame closes: the model checks Error 6 too.
  const subscriptions_max = 4;

  process.stdout.write(`fuzz: decoder phase, ${cases} cases, seed ${seed}\n`);
  const decoder = fuzz_decoder(cases, seed, symbols, frame_bytes_max);
  process.stdout.write(`  ${decoder.cases} cases in ${decoder.ms} ms: ${decoder.decoded} decoded, refused by code ${JSON.stringify(decoder.refused_by_code)}, failures ${decoder.failures.length}\n`);

  const server = await spawn_fuzz_target(symbols, frame_bytes_max, subscriptions_max);
  process.stdout.write(`fuzz: server phase, ${server_cases} cases over ${connections} connections against depthcast all (pid ${server.pid})\n`);
  const after = await (async () => {
    try {
      const report = await fuzz_server({ url: server.url, cases: server_cases, seed, connections, symbols, frame_bytes_max, subscriptions_max });
      return { report, alive: server.alive(), rss_mb: server.rss_mb(), health: (await fetch(server.health_url)).status };
    } finally {
      await server.stop();
    }
  })();
  const { report: live, alive, rss_mb, health } = after;
  process.stdout.write(`  ${live.cases} cases in ${live.ms} ms: ${live.connections_opened} connections (${live.expected_closes} closed by the 16x frame rule), `
    + `Error frames by code ${JSON.stringify(live.error_frames_by_code)}, failures ${live.failures.length}; server alive ${alive}, /health ${health}, RSS ${rss_mb} MB\n`);

  const ok = decoder.failures.length === 0 && live.failures.length === 0 && alive && health === 200;
  const report = { ok, decoder, server: { ...live, alive_after: alive, health_after: health, rss_mb_after: rss_mb } };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`fuzz: ${ok ? 'OK' : 'FAILED'} (report: ${out})\n`);
  for (const f of [...decoder.failures, ...live.failures].slice(0, 10)) process.stdout.write(`  #${f.index} ${f.kind}: ${f.problem}\n    ${f.hex}\n`);
  process.exit(ok ? 0 : 1);
}

/** `depthcast all` as a child process with the limits the model assumes; resolves once /health is 200. */
async function spawn_fuzz_target(symbols: string[], frame_bytes_max: number, subscriptions_max: number) {
  const port = await free_port();
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/depthcast.ts', 'all', '--port', String(port), '--no-ui',
    '--symbols', symbols.join(','), '--rate', '20', '--inbound-frame-bytes-max', String(frame_bytes_max),
    '--subscriptions-per-connection-max', String(subscriptions_max), '--inbound-messages-per-s-max', '100000', '--log-level', 'error'],
  { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = false;
  child.once('exit', () => { exited = true; });
  const health_url = `http://127.0.0.1:${port}/health`;
  for (let i = 0; ; i++) {
    if (exited) throw new Error('depthcast all exited during start-up');
    try {
      if ((await fetch(health_url)).status === 200) break;
    } catch { /* not listening yet */ }
    if (i > 400) throw new Error('depthcast all did not become healthy');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid, url: `ws://127.0.0.1:${port}/ws`, health_url,
    alive: () => !exited,
    rss_mb: () => Math.round((process_rss_bytes(child.pid!) ?? 0) / 2 ** 20),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  });
}
