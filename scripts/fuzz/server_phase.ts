// Fuzz phase 2, a live server: the generator's cases sent over real
// WebSockets, each followed by a sync Ping. The Error frames that arrive
// before its Pong must be exactly those a model of the server predicts
// (expected_errors: the decoder's code, frame_too_large, text_frame,
// unknown_symbol, bad_group, bad_depth, the subscription limit,
// not_subscribed, ...), with the connection's subscriptions tracked as the
// server would. Frames over 16x the limit must close the socket; nothing else
// may. Also: spawn_fuzz_target, `depthcast all` as a child process with the
// limits the model assumes.
//
// Cost: one round trip per case per connection (the cases on a connection are
// sequential; --connections run side by side). 100,000 cases over 8
// connections took 39 s on the 2-core development machine (docs/OPERATIONS.md).
// Stops at 20 failures.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { is_valid_group } from '../../src/book/grouped_book.js';
import { free_port, process_rss_bytes } from '../../src/util/host.js';
import { view_key } from '../../src/util/symbol.js';
import { depths_allowed, error_code, interval_ms_max } from '../../src/wire/codes.js';
import { decode_client_frame, decode_server_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import type { ClientMsg } from '../../src/wire/feed_types.js';
import type { WireError } from '../../src/wire/wire_error.js';
import { CaseGenerator, failure_hex, hard_frame_factor, known_error_codes, type Failure, type FuzzCase } from './cases.js';

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
    case 'refresh':
      return [error_code.refresh_refused]; // the fuzzed feed runs without access control: nothing to refresh
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
      const fail = (problem: string) => report.failures.push({ index, kind: c.kind, problem, hex: failure_hex(c.data) });
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

/** `depthcast all` as a child process with the limits the model assumes; resolves once /health is 200. */
export async function spawn_fuzz_target(symbols: string[], frame_bytes_max: number, subscriptions_max: number) {
  const port = await free_port();
  const root = fileURLToPath(new URL('../..', import.meta.url));
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
