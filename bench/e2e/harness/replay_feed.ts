// The feed side of bench/e2e/client_cost: a bare TCP server that speaks just
// enough WebSocket (RFC 6455 handshake, unmasked server frames) to replay one
// recorded stream to every connection, paced, with the reader-flow probes the
// real feed sends. Run as a child process (IPC): it is not what is measured,
// the client process is, so it must be cheap and identical for every reader.
//
// The stream (harness/recording.ts): the real Feed's Delta frames of the
// engine's seeded order flow, one view per connection (`/ws?view=N`, the
// views of the recording in turn), after an empty Snapshot at seq 0 (the
// recording's books start empty). Each connection plays it from its first
// tick at `ticks_per_s`, one write per due tick (several due ticks go in
// one corked write), and, like the feed's ReaderFlow, a WebSocket ping whose
// 8-byte payload is the payload bytes sent so far, at most every `probe_ms`
// while frames flow. What comes back is counted, not decoded: pongs and
// binary frames (Acks, Subscribes).
//
// Cost: per connection per due tick, one write of prebuilt bytes (no copy,
// no encode). Its own schedule lag (how late it wrote a tick, p99 and max)
// and the frames per write (1 on time; more when late ticks go together) are
// reported with each round: a late feed means fewer reads per frame, which
// flatters the reader. --ticks-per-write K (default 1) batches on purpose: a
// connection is written only when K ticks are due (same rate, K ticks per
// write), the regime of a busier feed or a reader on a slower path; its
// schedule lag then includes up to K ticks of waiting by design.
import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { instrument_spec } from '../../../src/engine/instruments.js';
import { FrameEncoder } from '../../../src/wire/feed_encoder.js';
import { make_recording, recording_epoch } from './recording.js';

export type ReplayCommand = { type: 'round_stats' } | { type: 'stop' };
export type ReplayReply =
  | { type: 'ready'; port: number; views: string[]; ticks: number; frames_per_tick_per_view: number; frame_bytes_mean: number }
  | { type: 'round_stats'; connections: number; frames_sent: number; writes: number; frames_per_write: number; pings: number; pongs: number; client_binary_frames: number; schedule_lag_ms_p99: number; schedule_lag_ms_max: number }
  | { type: 'error'; message: string };

const websocket_guid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One server frame: FIN + opcode, unmasked, 7/16/64-bit length. */
function ws_frame(opcode: number, payload: Uint8Array): Buffer {
  const n = payload.byteLength;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  out.set(payload, head);
  return out;
}

interface ViewStream {
  snapshot: Buffer;
  snapshot_payload: number;
  /** by_tick[k]: the framed Deltas of tick k for this view (null: none). */
  by_tick: (Buffer | null)[];
  payload_by_tick: number[];
  frames_by_tick: number[];
}

interface Conn {
  socket: Socket;
  view: number;
  start_ms: number;
  tick: number;
  payload_sent: number;
  last_ping_ms: number;
  /** Bytes of a client frame header still to come, and payload to skip. */
  pending: Buffer;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const value = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  const ticks = value('--ticks', 4000);
  const ticks_per_s = value('--ticks-per-s', 300);
  const probe_ms = value('--probe-ms', 100);
  const ticks_per_write = Math.max(1, value('--ticks-per-write', 1));
  const recording = await make_recording(ticks, 8, [10]);
  const enc = new FrameEncoder();
  const streams: ViewStream[] = recording.meta.views.map((key) => {
    const symbol = key.split('|')[0];
    const i = instrument_spec(symbol).instrument;
    const snapshot = enc.snapshot({
      symbol, depth: 10, epoch: recording_epoch, seq: 0, digest: 0, tick_size: i.tick_size, lot_size: i.lot_size,
      price_decimals: i.price_decimals, size_decimals: i.size_decimals, bids: [], asks: [], ts_engine_ns: 0, ts_ingest_ns: 0, ts_send_ns: 0,
    });
    return { snapshot: ws_frame(2, snapshot), snapshot_payload: snapshot.byteLength, by_tick: [], payload_by_tick: [], frames_by_tick: [] };
  });
  for (const tick of recording.frames_by_tick) {
    const parts: Buffer[][] = streams.map(() => []);
    const payload = streams.map(() => 0);
    for (const f of tick) {
      parts[f.view].push(ws_frame(2, f.bytes));
      payload[f.view] += f.bytes.byteLength;
    }
    streams.forEach((s, v) => {
      s.by_tick.push(parts[v].length === 0 ? null : Buffer.concat(parts[v]));
      s.payload_by_tick.push(payload[v]);
      s.frames_by_tick.push(parts[v].length);
    });
  }

  const conns = new Set<Conn>();
  const lags: number[] = [];
  const stats = { connections: 0, frames_sent: 0, writes: 0, pings: 0, pongs: 0, client_binary_frames: 0 };

  const server = createServer({ noDelay: true }, (socket) => {
    let head = '';
    const on_head = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', on_head);
      const key = /sec-websocket-key: *([^\r\n]+)/i.exec(head)?.[1]?.trim() ?? '';
      const view = Number(/[?&]view=(\d+)/.exec(head)?.[1] ?? 0) % streams.length;
      const accept = createHash('sha1').update(key + websocket_guid).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      const conn: Conn = { socket, view, start_ms: performance.now(), tick: 0, payload_sent: 0, last_ping_ms: performance.now(), pending: Buffer.alloc(0) };
      socket.write(streams[view].snapshot);
      conn.payload_sent = streams[view].snapshot_payload;
      stats.connections++;
      stats.frames_sent++;
      conns.add(conn);
      socket.on('data', (data: Buffer) => count_client_frames(conn, data));
    };
    socket.on('data', on_head);
    socket.on('error', () => {});
    socket.on('close', () => {
      for (const c of conns) if (c.socket === socket) conns.delete(c);
    });
  });

  /** Walks the client's frames (masked: 4-byte key) and counts pongs and binary frames; close → end. */
  function count_client_frames(conn: Conn, data: Buffer): void {
    let buf = conn.pending.byteLength > 0 ? Buffer.concat([conn.pending, data]) : data;
    for (;;) {
      if (buf.byteLength < 2) break;
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.byteLength < 4) break;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.byteLength < 10) break;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (buf[1] & 0x80) !== 0;
      const total = at + (masked ? 4 : 0) + len;
      if (buf.byteLength < total) break;
      if (opcode === 0x0a) stats.pongs++;
      else if (opcode === 0x02) stats.client_binary_frames++;
      else if (opcode === 0x08) conn.socket.end();
      buf = buf.subarray(total);
    }
    conn.pending = Buffer.from(buf);
  }

  const ping_payload = Buffer.alloc(8);
  const timer = setInterval(() => {
    const now = performance.now();
    for (const c of conns) {
      const s = streams[c.view];
      const due_now = Math.floor(((now - c.start_ms) * ticks_per_s) / 1000);
      const due = Math.min(s.by_tick.length, due_now - (due_now % ticks_per_write));
      if (c.tick >= due) continue;
      // How late the earliest due tick is being written.
      lags.push(now - c.start_ms - (c.tick * 1000) / ticks_per_s);
      c.socket.cork();
      let sent_frames = false;
      for (; c.tick < due; c.tick++) {
        const bytes = s.by_tick[c.tick];
        if (bytes === null) continue;
        c.socket.write(bytes);
        c.payload_sent += s.payload_by_tick[c.tick];
        stats.frames_sent += s.frames_by_tick[c.tick];
        sent_frames = true;
      }
      if (sent_frames && now - c.last_ping_ms >= probe_ms) {
        ping_payload.writeDoubleLE(c.payload_sent, 0);
        c.socket.write(ws_frame(9, ping_payload));
        c.last_ping_ms = now;
        stats.pings++;
      }
      c.socket.uncork();
      if (sent_frames) stats.writes++;
    }
  }, 1);

  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const frames = recording.meta.frames;
    send({
      type: 'ready', port, views: recording.meta.views, ticks,
      frames_per_tick_per_view: frames / ticks / streams.length, frame_bytes_mean: recording.meta.frame_bytes / frames,
    });
  });

  process.on('message', (m: ReplayCommand) => {
    if (m.type === 'round_stats') {
      lags.sort((a, b) => a - b);
      const p = (q: number): number => (lags.length === 0 ? 0 : Math.round(lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] * 100) / 100);
      send({ type: 'round_stats', ...stats, frames_per_write: Math.round((stats.frames_sent / Math.max(1, stats.writes)) * 1000) / 1000, schedule_lag_ms_p99: p(0.99), schedule_lag_ms_max: p(1) });
      for (const c of conns) c.socket.destroy();
      conns.clear();
      lags.length = 0;
      stats.connections = stats.frames_sent = stats.writes = stats.pings = stats.pongs = stats.client_binary_frames = 0;
    } else {
      clearInterval(timer);
      for (const c of conns) c.socket.destroy();
      server.close();
      process.disconnect?.();
    }
  });
}

function send(m: ReplayReply): void {
  process.send?.(m);
}

main().catch((err: Error) => {
  send({ type: 'error', message: err.stack ?? err.message });
  process.exitCode = 1;
});
