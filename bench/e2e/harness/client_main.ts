// The client side of a fan-out trial, run as its own process (pinned to the
// client core): N raw WebSocket clients of one transport, all subscribed to
// every view. Every client counts frames and bytes; every `sample_every`-th
// client also decodes each payload, records stamp-to-receive latency (one
// clock read per TCP read) and checks continuity (frame numbers for the
// baselines, seq ranges for depthcast). Decoding on a sample only keeps the
// client core from becoming the bottleneck; the sample sees the same frames
// as everyone, spread over the send order.
//
// Per sample, besides the latency against the frame's stamp (the real publish
// time): in paced windows, the latency against the tick's due time (the
// coordinated-omission-corrected figure; the tick comes from the baseline's
// header or JSON field, or, for depthcast, from the Delta's (view, seq) in the
// recording), and for depthcast the hops from the frame's stamps. The
// process's own event-loop lag is reported beside them: a client that lags
// adds its lag to every sample.
import './quiet.js';
import type { Histogram } from 'hdr-histogram-js';
import { new_latency_histogram } from '../../../src/metrics/hop_histograms.js';
import { now_ns } from '../../../src/util/clock.js';
import { body_delta, DeltaReader } from '../../../src/wire/delta_reader.js';
import { decode_server_frame } from '../../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../../src/wire/feed_encoder.js';
import { LoopLagMeter } from '../../../loadgen/loop_lag.js';
import { nats_subject } from '../../baselines/nats_ws.js';
import { hop_keys, type ClientCommand, type ClientReply, type ClientStart, type HopKey, type Schedule } from './protocol.js';
import { opcode_binary, opcode_text, RawWs } from './raw_ws.js';
import { load_recording } from './recording.js';
import { latency_summary } from './stats.js';
import { view_key } from '../../../src/util/symbol.js';

interface Client {
  ws: RawWs;
  sampled: boolean;
  ready: boolean;
  /** Newest stamp seen (sampled clients). */
  stamp_max: number;
  last_frame_no: number;
  /** depthcast: last seq per view. */
  seqs: Map<string, number>;
  /** NATS: bytes of a protocol message split across WebSocket messages. */
  leftover: Buffer | null;
}

const reply = (m: ClientReply): void => { process.send?.(m); };

let frames = 0;
let bytes = 0;
let sampled_frames = 0;
let gaps = 0;
let decode_errors = 0;
let negative_samples = 0;
let closed = 0;
const close_codes: Record<string, number> = {};
let read_ns = 0;
let histogram: Histogram = new_latency_histogram();
let co_histogram: Histogram = new_latency_histogram();
let hop_histograms = new_hop_histograms();
/** The paced window's timetable (null: saturation, no due times). */
let schedule: Schedule | null = null;
/** depthcast: the tick of each Delta, by view and seq (from the recording). */
const tick_of_seq = new Map<string, Map<number, number>>();
const loop_lag = new LoopLagMeter(10, false);
const clients: Client[] = [];
const delta_reader = new DeltaReader();

function new_hop_histograms(): Record<HopKey, Histogram> {
  return Object.fromEntries(hop_keys.map((k) => [k, new_latency_histogram()])) as Record<HopKey, Histogram>;
}

function record_us(h: Histogram, ns: number): void {
  h.recordValue(Math.min(60_000_000, Math.max(0, Math.round(ns / 1000))));
}

/** One sample: against the stamp, and (paced, tick known) against tick k's due time. */
function record_latency(stamp_ns: number, c: Client, tick: number): void {
  if (stamp_ns > c.stamp_max) c.stamp_max = stamp_ns;
  sampled_frames++;
  if (read_ns < stamp_ns) negative_samples++;
  record_us(histogram, read_ns - stamp_ns);
  if (schedule !== null && tick >= schedule.k0) record_us(co_histogram, read_ns - (schedule.t0_ns + ((tick - schedule.k0) * 1e9) / schedule.ticks_per_s));
}

function index_recording(path: string): void {
  for (const [k, frames] of load_recording(path).frames_by_tick.entries()) {
    for (const f of frames) {
      const msg = decode_server_frame(f.bytes);
      if (msg.type !== 'delta') continue;
      const key = view_key(msg.symbol, msg.depth);
      let seqs = tick_of_seq.get(key);
      if (seqs === undefined) tick_of_seq.set(key, (seqs = new Map()));
      seqs.set(msg.seq, k);
    }
  }
}

function check_frame_no(c: Client, n: number): void {
  if (c.last_frame_no >= 0 && n !== c.last_frame_no + 1) gaps += Math.max(1, n - c.last_frame_no - 1);
  c.last_frame_no = n;
}

function path_for(s: ClientStart): string {
  const views = encodeURIComponent(s.views.join(','));
  switch (s.kind) {
    case 'depthcast':
    case 'depthcast_js': return '/ws';
    case 'uws':
    case 'uws_send': return `/ws?views=${views}`;
    case 'ws': return `/?views=${views}`;
    case 'socketio': return `/socket.io/?EIO=4&transport=websocket&views=${views}`;
    case 'nats': return '/';
  }
}

// ---- per-transport message handling ----

function on_depthcast(c: Client, payload: Buffer | null): void {
  c.ready = true;
  frames++;
  if (!c.sampled || payload === null) return;
  const d = delta_reader;
  try {
    if (d.read(payload) !== body_delta) {
      const msg = decode_server_frame(payload);
      if (msg.type === 'snapshot') c.seqs.set(view_key(msg.symbol, msg.depth), msg.seq);
      return;
    }
  } catch {
    decode_errors++;
    return;
  }
  const key = view_key(d.symbol, d.depth);
  const last = c.seqs.get(key);
  if (last !== undefined && d.seq_first !== last + 1) gaps++;
  c.seqs.set(key, d.seq);
  record_latency(d.ts_engine_ns, c, tick_of_seq.get(key)?.get(d.seq) ?? -1);
  record_us(hop_histograms.engine_to_ingest, d.ts_ingest_ns - d.ts_engine_ns);
  record_us(hop_histograms.ingest_to_send, d.ts_send_ns - d.ts_ingest_ns);
  record_us(hop_histograms.send_to_receive, read_ns - d.ts_send_ns);
  record_us(hop_histograms.ingest_to_receive, read_ns - d.ts_ingest_ns);
}

function on_binary_baseline(c: Client, payload: Buffer | null): void {
  frames++;
  if (!c.sampled || payload === null) return;
  record_latency(payload.readDoubleLE(0), c, payload.readUInt32LE(8));
  check_frame_no(c, payload.readUInt32LE(12));
}

function on_json_baseline(c: Client, text: string): void {
  let msg: { t: number; n: number; k: number };
  try {
    msg = JSON.parse(text) as { t: number; n: number; k: number };
  } catch {
    decode_errors++;
    return;
  }
  record_latency(msg.t, c, msg.k);
  check_frame_no(c, msg.n);
}

function on_socketio(c: Client, payload: Buffer): void {
  // Engine.IO v4 over WebSocket: '0' open, '2' ping, '4' message; socket.io '40' connect, '42' event.
  const p0 = payload[0];
  if (p0 === 0x32 && payload.byteLength === 1) { c.ws.send(opcode_text, '3'); return; }
  if (p0 === 0x30) { c.ws.send(opcode_text, '40'); return; }
  if (p0 !== 0x34) return;
  if (payload[1] === 0x30) { c.ready = true; return; }
  if (payload[1] !== 0x32) return;
  frames++;
  if (!c.sampled) return;
  const text = payload.toString('utf8', 2);
  const comma = text.indexOf(',');
  on_json_baseline(c, text.slice(comma + 1, text.length - 1));
}

const crlf = Buffer.from('\r\n');

function nats_hello(views: string[]): string {
  const connect = JSON.stringify({ verbose: false, pedantic: false, protocol: 1, echo: false, headers: false, no_responders: false, lang: 'bench', version: '1' });
  return `CONNECT ${connect}\r\n${views.map((v, i) => `SUB ${nats_subject(v)} ${i + 1}\r\n`).join('')}PING\r\n`;
}

function on_nats(c: Client, payload: Buffer, views: string[]): void {
  const buf = c.leftover === null ? payload : Buffer.concat([c.leftover, payload]);
  c.leftover = null;
  let i = 0;
  while (i < buf.byteLength) {
    const eol = buf.indexOf(crlf, i);
    if (eol < 0) break;
    const b0 = buf[i];
    if (b0 === 0x4d) { // MSG <subject> <sid> <size>
      let size = 0;
      let at = eol - 1;
      let scale = 1;
      for (; buf[at] !== 0x20; at--, scale *= 10) size += (buf[at] - 48) * scale;
      const end = eol + 2 + size + 2;
      if (end > buf.byteLength) break; // the payload is in the next WebSocket message
      frames++;
      if (c.sampled) {
        const p = buf.subarray(eol + 2, eol + 2 + size);
        record_latency(p.readDoubleLE(0), c, p.readUInt32LE(8));
        check_frame_no(c, p.readUInt32LE(12));
      }
      i = end;
      continue;
    }
    const line = buf.toString('latin1', i, Math.min(eol, i + 8));
    if (line.startsWith('INFO')) c.ws.send(opcode_binary, nats_hello(views));
    else if (line.startsWith('PING')) c.ws.send(opcode_binary, 'PONG\r\n');
    else if (line.startsWith('PONG')) c.ready = true;
    else if (line.startsWith('-ERR')) { decode_errors++; process.stderr.write(`nats: ${buf.toString('latin1', i, eol)}\n`); }
    i = eol + 2;
  }
  if (i < buf.byteLength) c.leftover = Buffer.from(buf.subarray(i));
}

function open_client(s: ClientStart, index: number): Client {
  const sampled = index % s.sample_every === 0;
  const wants = sampled || s.kind === 'socketio' || s.kind === 'nats';
  // depthcast: one Subscribe per depth, every symbol in it.
  const encoder = new FrameEncoder();
  const depths = [...new Set(s.views.map((v) => Number(v.split('|')[1])))];
  const symbols = [...new Set(s.views.map((v) => v.split('|')[0]))];
  const subscribes = s.kind === 'depthcast' || s.kind === 'depthcast_js' ? depths.map((depth) => encoder.subscribe({ symbols, depth, interval_ms: 0 }).slice()) : [];
  const c: Client = { ws: null as unknown as RawWs, sampled, ready: false, stamp_max: 0, last_frame_no: -1, seqs: new Map(), leftover: null };
  c.ws = new RawWs({
    host: s.host, port: s.port, path: path_for(s), want_payloads: wants,
    on_open: (ws) => {
      for (const frame of subscribes) ws.send(opcode_binary, frame);
      if (s.kind === 'uws' || s.kind === 'uws_send' || s.kind === 'ws') c.ready = true;
    },
    on_read: () => { read_ns = now_ns(); },
    on_message: (_ws, _opcode, payload, length) => {
      bytes += length;
      switch (s.kind) {
        case 'depthcast':
        case 'depthcast_js': on_depthcast(c, payload); break;
        case 'uws':
        case 'uws_send': on_binary_baseline(c, payload); break;
        case 'ws':
          frames++;
          if (c.sampled && payload !== null) on_json_baseline(c, payload.toString());
          break;
        case 'socketio': if (payload !== null) on_socketio(c, payload); break;
        case 'nats': if (payload !== null) on_nats(c, payload, s.views); break;
      }
    },
    on_close: (_ws, code) => {
      closed++;
      close_codes[code] = (close_codes[code] ?? 0) + 1;
    },
  });
  return c;
}

async function connect_all(s: ClientStart): Promise<void> {
  if (s.kind === 'depthcast' || s.kind === 'depthcast_js') index_recording(s.recording_path);
  loop_lag.start();
  const connect_batch = 50;
  for (let i = 0; i < s.clients; i += connect_batch) {
    const batch: Client[] = [];
    for (let j = i; j < Math.min(s.clients, i + connect_batch); j++) batch.push(open_client(s, j));
    clients.push(...batch);
    const deadline = Date.now() + 10_000;
    while (batch.some((c) => !c.ready && !c.ws.is_closed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }
  const open = clients.filter((c) => c.ready && c.ws.is_open).length;
  reply({ type: 'connected', open, failed: s.clients - open, first_error: Object.keys(close_codes).length > 0 ? JSON.stringify(close_codes) : '' });
  if (s.credit) {
    let last = 0;
    setInterval(() => {
      let slowest = Infinity;
      for (const c of clients) if (c.sampled && c.ws.is_open && c.stamp_max < slowest) slowest = c.stamp_max;
      if (slowest !== Infinity && slowest !== last) {
        last = slowest;
        reply({ type: 'credit', stamp_ns: slowest });
      }
    }, 2);
  }
}


process.on('message', (m: ClientCommand) => {
  switch (m.type) {
    case 'start':
      connect_all(m).catch((err: unknown) => reply({ type: 'error', message: (err as Error).stack ?? String(err) }));
      break;
    case 'mark':
      if (m.reset_latency) {
        histogram = new_latency_histogram();
        co_histogram = new_latency_histogram();
        hop_histograms = new_hop_histograms();
        schedule = m.schedule;
        loop_lag.reset();
        negative_samples = 0;
        gaps = 0;
        decode_errors = 0;
      }
      reply({ type: 'mark', frames, bytes, sampled_frames });
      break;
    case 'report':
      reply({
        type: 'report', latency_us: latency_summary(histogram, negative_samples), gaps, decode_errors, closed, close_codes,
        open: clients.filter((c) => c.ws.is_open).length,
        co_latency_us: schedule === null ? null : latency_summary(co_histogram, 0),
        hops_us: hop_histograms.send_to_receive.totalCount === 0 ? null
          : Object.fromEntries(hop_keys.map((k) => [k, latency_summary(hop_histograms[k], 0)])) as Record<HopKey, ReturnType<typeof latency_summary>>,
        loop_lag_us: { p99: loop_lag.percentile_us(99), max: loop_lag.worst_us },
      });
      break;
    case 'exit':
      for (const c of clients) c.ws.destroy();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
