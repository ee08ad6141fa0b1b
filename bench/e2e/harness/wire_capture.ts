// Latency measured at the wire: when each frame's last byte left the server,
// as the kernel stamped the packet (tcpdump on the loopback, nanosecond
// timestamps), against the stamp inside the frame. A client process that
// reads 1,000 sockets on one core adds its own queueing to every receive
// time (issue 11: the harness, not the server); the packet's timestamp is
// taken in the server's send syscall, so the client's lag is not in it. On
// loopback the wire is the floor: what any client could at best receive.
//
// tcpdump captures only the server's side (`tcp src port P`) into a pcap
// file; after the window it is parsed here: IPv4 + TCP over the loopback's
// Ethernet framing, per connection the WebSocket frames (a frame split over
// two packets completes at the second), and per binary frame its stamp(s)
// through the caller's `stamps` function. The capture starts mid-stream, so
// a connection's first packet may begin inside a frame: its frames are
// measured from the first packet that valid frames fill exactly; the same
// after a jump in its TCP sequence (a packet the capture lost). Packets
// skipped so are counted.
//
// Costs: tcpdump (pinned to the client core) copies each packet; the kernel's
// copy to it runs in the server's send path, the same for every server kind.
// Parsing runs after the window, outside what is measured.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Histogram } from 'hdr-histogram-js';
import { latency_summary, new_bench_latency_histogram } from './stats.js';
import type { LatencySummaryUs } from './protocol.js';
import { body_delta, DeltaReader } from '../../../src/wire/delta_reader.js';

export const tcpdump_exists = existsSync('/usr/bin/tcpdump') || existsSync('/usr/sbin/tcpdump');

/** Bytes captured per packet: all of it (the loopback's MTU is 64 KiB, and a server's corked writes fill it). */
const snap_bytes = 65_600;
/** tcpdump's kernel buffer (KiB): a window's bursts must not overflow it. */
const capture_buffer_kib = 262_144;
const pcap_magic_ns = 0xa1b23c4d;
const linktype_ethernet = 1;
const ethernet_header_bytes = 14;
const ethertype_ipv4 = 0x0800;
const ip_protocol_tcp = 6;
const opcode_binary = 2;
/** Text, binary, close, ping, pong (no continuation frames: the servers here send whole messages). */
const known_opcodes = new Set([1, 2, 8, 9, 10]);
/** A frame longer than this is not one of the server's: the parse lost the connection's frame boundaries. */
const frame_bytes_max = 1 << 24;

/** What one binary frame's payload says: its stamps (ns, this host's wall clock), or null when it is not a measured frame. */
export type FrameStamps = (payload: Buffer) => { stamp_ns: number; ingest_ns: number | null } | null;

export interface WireSummary {
  /** Frame stamp → the packet carrying its last byte. */
  latency_us: LatencySummaryUs;
  /** For frames that carry an ingest stamp (depthcast): ingest → wire. */
  ingest_to_wire_us: LatencySummaryUs | null;
  packets: number;
  frames: number;
  /** Packets tcpdump says the kernel dropped (0 for a trustworthy window). */
  capture_dropped: number;
  truncated_packets: number;
  /** Packets skipped while a connection's frame boundaries were unknown (the window began inside a frame, or bytes were missing). */
  unsynced_packets: number;
  /** Times a connection's boundaries were lost after being known (a gap in its TCP sequence, a header that cannot be one). */
  resyncs: number;
}

export class WireCapture {
  private stderr = '';

  private constructor(private readonly proc: ChildProcess, private readonly path: string, private readonly port: number) {}

  /** Starts capturing what the server on `port` sends (to `to_ports` only, when given); resolves once tcpdump is listening. */
  static start(port: number, core: number | null, to_ports: readonly number[] = []): Promise<WireCapture> {
    const path = join(tmpdir(), `depthcast-wire-${port}-${process.pid}-${Date.now()}.pcap`);
    const filter = `tcp src port ${port}${to_ports.length === 0 ? '' : ` and (${to_ports.map((p) => `dst port ${p}`).join(' or ')})`}`;
    const args = ['-i', 'lo', '-n', '-s', String(snap_bytes), '-B', String(capture_buffer_kib), '--time-stamp-precision=nano', '-w', path, filter];
    const proc = core === null ? spawn('tcpdump', args, { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn('taskset', ['-c', String(core), 'tcpdump', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const capture = new WireCapture(proc, path, port);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`tcpdump did not start: ${capture.stderr}`)); }, 10_000);
      proc.stderr!.on('data', (d: Buffer) => {
        capture.stderr += d.toString();
        if (capture.stderr.includes('listening on')) { clearTimeout(timer); resolve(capture); }
      });
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`tcpdump exited (${code}): ${capture.stderr}`)); });
    });
  }

  /** Stops the capture and measures every frame in it. */
  async stop(stamps: FrameStamps): Promise<WireSummary> {
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.kill('SIGINT');
    await exited;
    const dropped = /(\d+) packets? dropped by kernel/.exec(this.stderr);
    try {
      return { ...parse_pcap(readFileSync(this.path), this.port, stamps), capture_dropped: dropped === null ? -1 : Number(dropped[1]) };
    } finally {
      rmSync(this.path, { force: true });
    }
  }
}

/** Per connection: where its byte stream is, and whether frame boundaries are known. */
const delta_reader = new DeltaReader();

/** depthcast's frames: a Delta carries its engine and ingest stamps (anything else is not measured). */
export const depthcast_frame_stamps: FrameStamps = (payload) => {
  try {
    return delta_reader.read(payload) === body_delta ? { stamp_ns: delta_reader.ts_engine_ns, ingest_ns: delta_reader.ts_ingest_ns } : null;
  } catch {
    return null; // not a frame of ours: the parse lost a boundary
  }
};

interface Stream { next_seq: number; partial: Buffer | null; synced: boolean }

/** The frame header at i, or null when it cannot be one of the server's (RSV bits, a mask, an unknown opcode, an absurd length). */
function frame_at(bytes: Buffer, i: number): { opcode: number; header: number; length: number } | null {
  if (i + 2 > bytes.length) return null;
  const b0 = bytes[i];
  const b1 = bytes[i + 1];
  const opcode = b0 & 0x0f;
  if ((b0 & 0x70) !== 0 || (b1 & 0x80) !== 0 || !known_opcodes.has(opcode)) return null;
  let length = b1 & 0x7f;
  let header = 2;
  if (length === 126) {
    if (i + 4 > bytes.length) return null;
    length = bytes.readUInt16BE(i + 2);
    header = 4;
  } else if (length === 127) {
    if (i + 10 > bytes.length) return null;
    length = Number(bytes.readBigUInt64BE(i + 2));
    header = 10;
  }
  return length > frame_bytes_max ? null : { opcode, header, length };
}

/** The first offset from which valid frames fill the packet exactly (a frame boundary), or -1. */
function boundary_in(bytes: Buffer): number {
  for (let start = 0; start < bytes.length - 1; start++) {
    let i = start;
    for (;;) {
      const f = frame_at(bytes, i);
      if (f === null) break;
      i += f.header + f.length;
      if (i === bytes.length) return start;
      if (i > bytes.length) break;
    }
  }
  return -1;
}

function parse_pcap(file: Buffer, port: number, stamps: FrameStamps): Omit<WireSummary, 'capture_dropped'> {
  if (file.length < 24 || file.readUInt32LE(0) !== pcap_magic_ns) throw new Error('not a nanosecond pcap file (tcpdump --time-stamp-precision=nano)');
  if (file.readUInt32LE(20) !== linktype_ethernet) throw new Error(`unexpected link type ${file.readUInt32LE(20)} (the loopback's is Ethernet)`);
  const latency = new_bench_latency_histogram();
  const ingest = new_bench_latency_histogram();
  let negative = 0;
  let ingest_negative = 0;
  let packets = 0;
  let frames = 0;
  let truncated = 0;
  let unsynced = 0;
  let resyncs = 0;
  const streams = new Map<number, Stream>();
  const record = (h: Histogram, from_ns: number, wire_ns: number): boolean => {
    const us = Math.round((wire_ns - from_ns) / 1000);
    if (us < 0) return false;
    h.recordValue(Math.max(1, us));
    return true;
  };
  const on_frame = (opcode: number, payload: Buffer, wire_ns: number): void => {
    if (opcode !== opcode_binary) return;
    const s = stamps(payload);
    if (s === null) return;
    frames++;
    if (!record(latency, s.stamp_ns, wire_ns)) negative++;
    if (s.ingest_ns !== null && !record(ingest, s.ingest_ns, wire_ns)) ingest_negative++;
  };
  let off = 24;
  while (off + 16 <= file.length) {
    const wire_ns = file.readUInt32LE(off) * 1e9 + file.readUInt32LE(off + 4);
    const incl = file.readUInt32LE(off + 8);
    const orig = file.readUInt32LE(off + 12);
    const p = off + 16;
    off = p + incl;
    if (off > file.length) break; // the last record, cut by the stop
    if (file.readUInt16BE(p + 12) !== ethertype_ipv4) continue;
    const ip = p + ethernet_header_bytes;
    const ihl = (file[ip] & 0x0f) * 4;
    if (file[ip + 9] !== ip_protocol_tcp) continue;
    const ip_total = file.readUInt16BE(ip + 2);
    const tcp = ip + ihl;
    if (file.readUInt16BE(tcp) !== port) continue;
    const dst = file.readUInt16BE(tcp + 2);
    const seq = file.readUInt32BE(tcp + 4);
    const data = tcp + (file[tcp + 12] >> 4) * 4;
    const data_len = ip_total - ihl - (data - tcp);
    if (data_len <= 0) continue;
    packets++;
    let st = streams.get(dst);
    if (st === undefined) {
      st = { next_seq: seq, partial: null, synced: false };
      streams.set(dst, st);
    }
    if (((seq - st.next_seq) | 0) < 0) continue; // a retransmission of what was seen
    if (incl < orig || seq !== st.next_seq) {
      // Bytes the capture does not have: this connection's frame boundaries must be found again.
      if (incl < orig) truncated++;
      if (st.synced) resyncs++;
      st.synced = false;
      st.partial = null;
      st.next_seq = (seq + data_len) >>> 0;
      if (incl < orig) continue;
    }
    st.next_seq = (seq + data_len) >>> 0;
    let bytes = file.subarray(data, data + data_len);
    let i = 0;
    if (!st.synced) {
      // The window began (or a gap fell) inside a frame: measure from the first packet whose frames are whole.
      i = boundary_in(bytes);
      if (i < 0) {
        unsynced++;
        continue;
      }
      st.synced = true;
    } else if (st.partial !== null) {
      bytes = Buffer.concat([st.partial, bytes]);
      st.partial = null;
    }
    for (;;) {
      const f = frame_at(bytes, i);
      if (f === null || i + f.header + f.length > bytes.length) break;
      on_frame(f.opcode, bytes.subarray(i + f.header, i + f.header + f.length), wire_ns);
      i += f.header + f.length;
    }
    if (i < bytes.length) {
      // A frame continued in the next packet, or (a header that cannot be) lost boundaries.
      if (frame_at(bytes, i) === null && bytes.length - i >= 10) {
        st.synced = false;
        resyncs++;
      } else {
        st.partial = Buffer.from(bytes.subarray(i));
      }
    }
  }
  return {
    latency_us: latency_summary(latency, negative),
    ingest_to_wire_us: ingest.totalCount === 0 ? null : latency_summary(ingest, ingest_negative),
    packets, frames, truncated_packets: truncated, unsynced_packets: unsynced, resyncs,
  };
}
