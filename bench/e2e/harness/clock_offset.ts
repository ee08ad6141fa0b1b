// The offset between a server process's clock and ours (src/util/clock.ts is
// anchored per process), for benches that compare a frame's ts_engine_ns with
// their own receive time: from the app-level Ping/Pong with the smallest
// round trip, offset = server_time − midpoint of send and receive.
//
// Cost: 40 pings 25 ms apart (the server allows 50 frames/s per connection): one second.
import WebSocket from 'ws';
import { now_ns } from '../../../src/util/clock.js';
import { decode_server_frame } from '../../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../../src/wire/feed_encoder.js';
import { round } from '../../lib.js';

const pings = 40;
const ping_spacing_ms = 25;

/** Server clock − ours (ns), and the smallest round trip seen (µs). */
export async function estimate_clock_offset(port: number): Promise<{ offset_ns: number; rtt_us: number }> {
  const enc = new FrameEncoder();
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  ws.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  let best = { offset_ns: 0, rtt_us: Infinity };
  let on_pong: ((server_time_ns: number) => void) | null = null;
  ws.on('message', (data: Buffer) => {
    const msg = decode_server_frame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (msg.type === 'pong') on_pong?.(msg.server_time_ns);
  });
  for (let i = 1; i <= pings; i++) {
    const sent = now_ns();
    const server_time_ns = await new Promise<number>((resolve) => {
      on_pong = resolve;
      ws.send(enc.ping({ nonce: i, client_time_ns: sent }));
    });
    const received = now_ns();
    const rtt_us = (received - sent) / 1000;
    if (rtt_us < best.rtt_us) best = { offset_ns: server_time_ns - (sent + received) / 2, rtt_us };
    await new Promise((r) => setTimeout(r, ping_spacing_ms));
  }
  ws.close();
  return { offset_ns: Math.round(best.offset_ns), rtt_us: round(best.rtt_us, 1) };
}
