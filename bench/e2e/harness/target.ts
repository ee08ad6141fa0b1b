// What every server under test looks like to the tick driver: it publishes
// tick k of the shared recording to its subscribers, stamped `stamp_ns`.
// Baseline payloads carry the stamp and a frame number:
//   binary (uWS, NATS): [f64 stamp_ns LE][u32 tick LE][u32 frame_no LE] + the depthcast Delta bytes
//   JSON (ws, socket.io): the decoded Delta as an object plus { t: stamp_ns, n: frame_no, k: tick }
// depthcast's own frames carry the stamp as ts_engine_ns (the engine time of
// the events, which the driver writes into the batches it publishes).
import { decode_server_frame } from '../../../src/wire/feed_decoder.js';
import type { DeltaMsg } from '../../../src/wire/feed_types.js';
import type { Recording } from './recording.js';

/** depthcast_js: depthcast with --no-fanout-topics (every Delta sent per connection from JS), a fan-out diagnostic. */
export type TargetKind = 'depthcast' | 'depthcast_js' | 'uws' | 'uws_send' | 'ws' | 'socketio' | 'nats';
/** The transports compared in e2e/transports (uws_send is a fan-out diagnostic, in e2e/fanout). */
export const target_kinds: readonly TargetKind[] = ['depthcast', 'uws', 'ws', 'socketio', 'nats'];

export interface Target {
  readonly kind: TargetKind;
  /** The WebSocket port clients connect to. */
  readonly port: number;
  /** Other processes doing the server's work (nats-server), for CPU accounting. */
  readonly extra_pids: number[];
  /** Publishes tick k (modulo the recording for baselines); returns false when the stream is exhausted. */
  publish_tick(k: number, stamp_ns: number): boolean;
  stats(): Record<string, unknown>;
  /** Running totals of what the server did (depthcast: reader-flow probes sent, pongs read), read at a window's start and end. */
  counts?(): Record<string, number>;
  close(): Promise<void>;
}

export const baseline_header_bytes = 16;

export interface BinaryFrame {
  view: number;
  /** Header + Delta bytes; the header is rewritten in place before each publish. */
  buf: Buffer;
}

/** The recording's Deltas with room for the baseline header. */
export function binary_frames(r: Recording): BinaryFrame[][] {
  return r.frames_by_tick.map((tick) => tick.map((f) => {
    const buf = Buffer.alloc(baseline_header_bytes + f.bytes.byteLength);
    buf.set(f.bytes, baseline_header_bytes);
    return { view: f.view, buf };
  }));
}

export function stamp_binary(buf: Buffer, stamp_ns: number, tick: number, frame_no: number): void {
  buf.writeDoubleLE(stamp_ns, 0);
  buf.writeUInt32LE(tick >>> 0, 8);
  buf.writeUInt32LE(frame_no >>> 0, 12);
}

export type JsonDelta = DeltaMsg & { t: number; n: number; k: number };

export interface JsonFrame {
  view: number;
  msg: JsonDelta;
}

/** The recording's Deltas as the plain objects a ws or socket.io user would send. */
export function json_frames(r: Recording): JsonFrame[][] {
  return r.frames_by_tick.map((tick) => tick.map((f) => {
    const msg = decode_server_frame(f.bytes) as DeltaMsg;
    return { view: f.view, msg: { ...msg, t: 0, n: 0, k: 0 } };
  }));
}

/** The port of a listening node server (throws on a pipe or an unbound server). */
export function port_of(address: string | { port: number } | null, what: string): number {
  if (address === null || typeof address === 'string') throw new Error(`${what}: not listening on a TCP port`);
  return address.port;
}

/** Views a client asked for in its URL (?views=SYM|10,SYM2|10). */
export function views_from_query(query: string, known: readonly string[]): number[] {
  const raw = new URLSearchParams(query).get('views') ?? '';
  return raw.split(',').map((v) => known.indexOf(v)).filter((i) => i >= 0);
}
