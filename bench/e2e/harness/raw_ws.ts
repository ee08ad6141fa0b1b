// A minimal WebSocket client over node:net, for load: one 'data' callback per
// TCP read and a frame-header walk, no per-message event objects or buffer
// copies unless the caller wants payloads. Hundreds of these share one core
// with room to spare, so the bench measures servers, not the client library.
// Enough of RFC 6455 for the servers here: unfragmented or fragmented data
// frames, ping → pong, close; no extensions (every server runs without
// compression). Client frames are masked as the RFC requires.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export const opcode_text = 1;
export const opcode_binary = 2;
const opcode_close = 8;
const opcode_ping = 9;
const opcode_pong = 10;

export interface RawWsOptions {
  host: string;
  port: number;
  path: string;
  /** Source address (spread many clients over 127.0.0.x). */
  local_address?: string;
  /** Deliver whole payloads to on_message; otherwise only opcode and length (counting clients). */
  want_payloads: boolean;
  on_open(ws: RawWs): void;
  /** payload is null unless want_payloads; valid only during the call. */
  on_message(ws: RawWs, opcode: number, payload: Buffer | null, length: number): void;
  /** Once per TCP read, before its messages (one clock read per read). */
  on_read?(ws: RawWs): void;
  on_close(ws: RawWs, code: number, reason: string): void;
}

export class RawWs {
  private readonly socket: Socket;
  private open = false;
  private closed = false;
  private handshake = '';
  // Frame parser state.
  private readonly header = Buffer.alloc(14);
  private header_have = 0;
  private remaining = 0;
  private frame_opcode = 0;
  private frame_fin = false;
  private message_opcode = 0;
  private message_length = 0;
  private parts: Buffer[] = [];
  private control_parts: Buffer[] = [];
  private collecting = false;

  constructor(private readonly o: RawWsOptions) {
    this.socket = connect({ host: o.host, port: o.port, localAddress: o.local_address, noDelay: true });
    this.socket.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      this.socket.write(`GET ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    this.socket.on('data', (chunk: Buffer) => this.on_data(chunk));
    this.socket.on('error', (err) => this.finish(1006, err.message));
    this.socket.on('close', () => this.finish(1006, 'socket closed'));
  }

  /** This end's TCP port (what a capture of the server's sends to it filters on). */
  get local_port(): number {
    return this.socket.localPort ?? 0;
  }

  get is_closed(): boolean {
    return this.closed;
  }

  get is_open(): boolean {
    return this.open && !this.closed;
  }

  send(opcode: number, payload: Buffer | Uint8Array | string): void {
    if (this.closed) return;
    const data = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const n = data.byteLength;
    const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(head + 4 + n);
    frame[0] = 0x80 | opcode;
    if (n < 126) frame[1] = 0x80 | n;
    else if (n < 65536) { frame[1] = 0x80 | 126; frame.writeUInt16BE(n, 2); }
    else { frame[1] = 0x80 | 127; frame.writeUInt32BE(0, 2); frame.writeUInt32BE(n, 6); }
    const mask = randomBytes(4);
    mask.copy(frame, head);
    for (let i = 0; i < n; i++) frame[head + 4 + i] = data[i] ^ mask[i & 3];
    this.socket.write(frame);
  }

  close(): void {
    if (this.closed) return;
    this.send(opcode_close, Buffer.from([0x03, 0xe8]));
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 500).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.o.on_close(this, code, reason);
  }

  private on_data(chunk: Buffer): void {
    if (!this.open) {
      this.handshake += chunk.toString('latin1');
      const end = this.handshake.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!this.handshake.startsWith('HTTP/1.1 101')) {
        this.finish(1002, `upgrade refused: ${this.handshake.slice(0, this.handshake.indexOf('\r\n'))}`);
        this.socket.destroy();
        return;
      }
      const rest = Buffer.from(this.handshake.slice(end + 4), 'latin1');
      this.handshake = '';
      this.open = true;
      this.o.on_open(this);
      if (rest.byteLength > 0) this.on_data(rest);
      return;
    }
    this.o.on_read?.(this);
    const n = chunk.byteLength;
    let i = 0;
    while (i < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        if (this.collecting) (this.frame_opcode >= 8 ? this.control_parts : this.parts).push(chunk.subarray(i, i + take));
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.end_frame();
        continue;
      }
      // Frame header: 2 bytes, then 2 or 8 bytes of length (servers never mask).
      if (this.header_have === 0) {
        const need = header_length(chunk, i, n - i);
        if (need > 0 && n - i >= need) {
          this.begin_frame(chunk, i);
          i += need;
          if (this.remaining === 0) this.end_frame();
          continue;
        }
      }
      // A header split across reads: gather it byte by byte.
      this.header[this.header_have++] = chunk[i++];
      const total = header_length(this.header, 0, this.header_have);
      if (total === 0 || this.header_have < total) continue;
      this.header_have = 0;
      this.begin_frame(this.header, 0);
      if (this.remaining === 0) this.end_frame();
    }
  }

  private begin_frame(h: Buffer, at: number): void {
    const b0 = h[at];
    const len7 = h[at + 1] & 0x7f;
    const length = len7 < 126 ? len7 : len7 === 126 ? h.readUInt16BE(at + 2) : h.readUInt32BE(at + 2) * 4294967296 + h.readUInt32BE(at + 6);
    this.frame_fin = (b0 & 0x80) !== 0;
    this.frame_opcode = b0 & 0x0f;
    this.remaining = length;
    if (this.frame_opcode >= 8) {
      this.collecting = true; // control frames: always kept (small), apart from a fragmented message's parts
      this.control_parts = [];
      return;
    }
    if (this.frame_opcode !== 0) {
      this.message_opcode = this.frame_opcode;
      this.message_length = 0;
      this.parts = [];
    }
    this.message_length += length;
    this.collecting = this.o.want_payloads;
  }

  private end_frame(): void {
    const opcode = this.frame_opcode;
    if (opcode >= 8) {
      const payload = this.control_parts.length === 1 ? this.control_parts[0] : Buffer.concat(this.control_parts);
      this.control_parts = [];
      this.collecting = this.o.want_payloads;
      if (opcode === opcode_ping) this.send(opcode_pong, payload);
      else if (opcode === opcode_close) {
        const code = payload.byteLength >= 2 ? payload.readUInt16BE(0) : 1005;
        this.finish(code, payload.subarray(2).toString());
        this.socket.end();
      }
      return;
    }
    if (!this.frame_fin) return;
    let payload: Buffer | null = null;
    if (this.o.want_payloads) payload = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    this.o.on_message(this, this.message_opcode, payload, this.message_length);
  }
}

/** Header length once enough bytes are there to tell (0 = not yet). */
function header_length(b: Buffer, at: number, have: number): number {
  if (have < 2) return 0;
  const len7 = b[at + 1] & 0x7f;
  return len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
}

export { opcode_pong, opcode_ping };
