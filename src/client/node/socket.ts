// NodeWebSocket: a lean WebSocket client for Node (the `depthcast/client/node`
// entry), for processes that run many SDK clients (the load generator, bots).
// It implements the SDK's WebSocketLike, so it plugs in where `ws` does:
// connect(url, { WebSocket: NodeWebSocket }).
//
// Why not `ws`: at one frame per TCP read, `ws` + Node streams cost more than
// the SDK's own decode, verify and apply (bench/e2e/client_cost). Here each
// read lands, through node:net's `onread`, in one buffer shared by every
// socket of the process; frames are parsed in place (frame_parser.ts) and each
// message goes to onmessage as a Uint8Array view into that buffer: no stream machinery,
// no EventEmitter per message, no copy (only what a read cut off is copied).
// So a message's `data` is valid only during the onmessage call (the SDK reads
// it there); copy it to keep it.
//
// Pongs are written from this thread, in order with the messages, after the
// onmessage handlers of the frames before the ping ran (pong() is public, as
// in `ws`: the SDK then skips Acks, docs/PROTOCOL.md §5.7). Writes made while
// a read is handled (pongs, the SDK's frames) are corked and leave in one
// write at the end of the read.
//
// Scope: RFC 6455 as a client, no extensions (no permessage-deflate), ws:// and
// wss:// (node:tls); no proxy, no redirects. Handshake checks: handshake.ts.
// Protocol violations (frame_parser.ts, bad UTF-8 in a text message) raise an
// error event (`message` says what) and close the socket with the RFC's code;
// the close event then says 1006, as with `ws`.
import { randomFillSync } from 'node:crypto';
import { connect as tcp_connect, type Socket } from 'node:net';
import { connect as tls_connect, type ConnectionOptions } from 'node:tls';
import {
  FrameParser, close_protocol_error, opcode_binary, opcode_close, opcode_ping, opcode_pong, opcode_text, type FrameSink,
} from './frame_parser.js';
import { check_upgrade, handshake_bytes_max, upgrade_request, type UpgradeRequest } from './handshake.js';

/** Options of a NodeWebSocket (third constructor argument, or node_websocket(options)). */
export interface NodeWebSocketOptions {
  /** Source address of the TCP connection (spreading many clients over 127.0.0.x). */
  local_address?: string;
  /** A message longer than this closes the socket (1009). Default 64 MiB. */
  message_bytes_max?: number;
}

const connecting = 0;
const open = 1;
const closing = 2;
const closed = 3;

/** Every socket's reads land here, one at a time: it is parsed before the next read of any socket. */
const read_buffer_bytes = 64 * 1024;
let shared_read_buffer: Buffer | null = null;
/** The same memory as a plain Uint8Array: messages are its subarrays (a Buffer's subarray costs a FastBuffer per frame). */
let shared_read_view: Uint8Array = new Uint8Array(0);

/** Masking keys (RFC 6455 §5.3: unpredictable): 4 bytes per frame from a pool refilled by the CSPRNG. */
const mask_pool = Buffer.alloc(8192);
let mask_at = mask_pool.byteLength;

/** After our close frame, the server has this long to close the TCP connection. */
const close_timeout_ms = 2000;
const default_message_bytes_max = 64 * 1024 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A WebSocket client over node:net that parses frames in place; plugs into connect(url, { WebSocket: NodeWebSocket }). */
export class NodeWebSocket {
  /** readyState values, as the browser's WebSocket has them. */
  static readonly CONNECTING = connecting;
  /** Open: messages flow both ways. */
  static readonly OPEN = open;
  /** The closing handshake is under way. */
  static readonly CLOSING = closing;
  /** Closed (the close event fired). */
  static readonly CLOSED = closed;

  /** 'nodebuffer' (default): binary messages are Uint8Array views over the read buffer; 'arraybuffer': each message copied into its own. */
  binaryType = 'nodebuffer';
  /** The URL given to the constructor. */
  readonly url: string;
  /** The subprotocol the server chose ('' until open, or for none). */
  protocol = '';
  /** Called once the server accepted the upgrade. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onopen: ((event: any) => void) | null = null;
  /** Called per message with `{ data }`: a Uint8Array over the read buffer (valid during the call only), an ArrayBuffer copy, or a string for text. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onmessage: ((event: any) => void) | null = null;
  /** Called once with `{ code, reason, wasClean }` when the connection is gone. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onclose: ((event: any) => void) | null = null;
  /** Called with `{ message }` on a failure (connect, handshake, protocol violation); the close event follows. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onerror: ((event: any) => void) | null = null;

  private state = connecting;
  private readonly socket: Socket;
  private readonly parser: FrameParser;
  private readonly request: UpgradeRequest;
  private handshake = '';
  /** One event object, refilled per message (handlers must not keep it). */
  private readonly message_event: { type: 'message'; data: unknown; target: NodeWebSocket };
  private in_read = false;
  private corked = false;
  private close_code = 1006;
  private close_reason = '';
  private close_timer: ReturnType<typeof setTimeout> | null = null;

  constructor(url: string, protocols?: string | string[], options: NodeWebSocketOptions = {}) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new SyntaxError(`NodeWebSocket: expected a ws:// or wss:// URL, got '${url}'`);
    this.url = url;
    this.request = upgrade_request(parsed, protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : protocols);
    const sink: FrameSink = {
      message: (opcode, payload) => this.on_message(opcode, payload),
      control: (opcode, payload) => this.on_control(opcode, payload),
      violation: (code, reason) => this.on_violation(code, reason),
    };
    this.parser = new FrameParser(sink, options.message_bytes_max ?? default_message_bytes_max);
    this.message_event = { type: 'message', data: null, target: this };
    if (shared_read_buffer === null) {
      shared_read_buffer = Buffer.allocUnsafe(read_buffer_bytes);
      shared_read_view = new Uint8Array(shared_read_buffer.buffer, shared_read_buffer.byteOffset, shared_read_buffer.byteLength);
    }
    const onread = { buffer: shared_read_buffer, callback: (n: number, buf: Uint8Array): boolean => this.on_read(n, buf as Buffer) };
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const secure = parsed.protocol === 'wss:';
    const port = Number(parsed.port || (secure ? 443 : 80));
    this.socket = secure
      ? tls_connect({ host, port, servername: host, localAddress: options.local_address, onread } as ConnectionOptions)
      : tcp_connect({ host, port, localAddress: options.local_address, noDelay: true, onread });
    this.socket.once(secure ? 'secureConnect' : 'connect', () => {
      if (secure) this.socket.setNoDelay(true);
      this.socket.write(this.request.text);
    });
    this.socket.on('error', (err) => this.emit_error(err.message));
    this.socket.on('close', () => this.on_socket_close());
  }

  /** CONNECTING, OPEN, CLOSING or CLOSED. */
  get readyState(): number {
    return this.state;
  }

  /** Bytes written but not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Sends a binary message (text for a string). Throws while connecting; dropped once closing. */
  send(data: Uint8Array | string): void {
    if (this.state === connecting) throw new Error('NodeWebSocket: send() before the socket opened');
    if (this.state !== open) return;
    if (typeof data === 'string') this.write_frame(opcode_text, Buffer.from(data));
    else this.write_frame(opcode_binary, data);
  }

  /** Sends a ping (at most 125 bytes of payload). */
  ping(data: Uint8Array = empty): void {
    if (this.state === open) this.write_frame(opcode_ping, data);
  }

  /** Sends a pong; pings from the server are answered without this. */
  pong(data: Uint8Array = empty): void {
    if (this.state === open) this.write_frame(opcode_pong, data);
  }

  /** Starts the closing handshake (code and reason in the close frame); the close event follows the server's close. */
  close(code?: number, reason = ''): void {
    if (this.state >= closing) return;
    if (this.state === connecting) {
      this.state = closing;
      this.socket.destroy();
      return;
    }
    this.state = closing;
    this.write_close(code, reason);
    this.socket.end();
    this.close_timer = setTimeout(() => this.socket.destroy(), close_timeout_ms);
    this.close_timer.unref?.();
  }

  /** Drops the connection now, without a closing handshake. */
  terminate(): void {
    if (this.state === closed) return;
    this.state = closing;
    this.parser.stop();
    this.socket.destroy();
  }

  /** Stops reading (backpressure: the server sees a full window); resume() reads on. */
  pause(): void {
    this.socket.pause();
  }

  /** Reads again after pause(). */
  resume(): void {
    this.socket.resume();
  }

  // ---- reading ----

  private on_read(n: number, buf: Buffer): boolean {
    this.in_read = true;
    try {
      if (this.state === connecting) this.read_handshake(buf, n);
      else if (this.state === open) this.parser.push(buf === shared_read_buffer ? shared_read_view : buf, 0, n);
    } finally {
      this.in_read = false;
      if (this.corked) {
        this.corked = false;
        this.socket.uncork();
      }
    }
    return true;
  }

  private read_handshake(buf: Buffer, n: number): void {
    const before = this.handshake.length;
    this.handshake += buf.toString('latin1', 0, n);
    const end = this.handshake.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.handshake.length > handshake_bytes_max) this.fail_handshake(`the server's answer has over ${handshake_bytes_max} bytes of headers`);
      return;
    }
    const answer = check_upgrade(this.handshake.slice(0, end), this.request);
    this.handshake = '';
    if (answer.error !== '') {
      this.fail_handshake(answer.error);
      return;
    }
    this.protocol = answer.protocol;
    this.state = open;
    this.onopen?.({ type: 'open', target: this });
    // Frames that came in the same read as the handshake's end (latin1: one character per byte).
    const at = end + 4 - before;
    if (at < n && this.state === open) this.parser.push(buf === shared_read_buffer ? shared_read_view : buf, at, n);
  }

  private fail_handshake(why: string): void {
    this.emit_error(why);
    this.state = closing;
    this.socket.destroy();
  }

  // ---- frames (frame_parser.ts) ----

  private on_message(opcode: number, payload: Uint8Array): void {
    if (this.state !== open) return;
    const event = this.message_event;
    if (opcode === opcode_text) {
      try {
        event.data = utf8.decode(payload);
      } catch {
        this.on_violation(1007, 'a text message is not valid UTF-8');
        return;
      }
    } else if (this.binaryType === 'nodebuffer') {
      event.data = payload;
    } else {
      event.data = payload.slice().buffer;
    }
    this.onmessage?.(event);
    event.data = null;
  }

  private on_control(opcode: number, payload: Uint8Array): void {
    if (opcode === opcode_ping) {
      this.pong(payload);
      return;
    }
    if (opcode !== opcode_close || this.state === closed) return;
    // The server closes: answer with its code (RFC 6455 §5.5.1), then the TCP connection ends.
    if (payload.byteLength === 1) {
      this.on_violation(close_protocol_error, 'close frame with a 1-byte payload');
      return;
    }
    const code = payload.byteLength >= 2 ? (payload[0] << 8) | payload[1] : 1005;
    let reason: string;
    try {
      reason = payload.byteLength > 2 ? utf8.decode(payload.subarray(2)) : '';
    } catch {
      this.on_violation(1007, 'close reason is not valid UTF-8');
      return;
    }
    this.close_code = code;
    this.close_reason = reason;
    this.parser.stop();
    if (this.state === open) {
      this.state = closing;
      this.write_close(code === 1005 ? undefined : code, '');
    }
    this.socket.end();
  }

  private on_violation(code: number, reason: string): void {
    this.parser.stop();
    this.emit_error(`${reason} (close ${code})`);
    if (this.state === open) {
      this.state = closing;
      this.write_close(code, '');
    }
    this.socket.end();
    this.close_timer ??= setTimeout(() => this.socket.destroy(), close_timeout_ms);
    this.close_timer.unref?.();
  }

  // ---- writing ----

  private write_close(code: number | undefined, reason: string): void {
    if (code === undefined) {
      this.write_frame(opcode_close, empty, true);
      return;
    }
    const text = Buffer.from(reason.slice(0, 120));
    const payload = Buffer.allocUnsafe(2 + text.byteLength);
    payload.writeUInt16BE(code, 0);
    text.copy(payload, 2);
    this.write_frame(opcode_close, payload, true);
  }

  /** One masked frame; corked while a read is handled (flushed at its end). */
  private write_frame(opcode: number, data: Uint8Array, closing_frame = false): void {
    if (this.socket.destroyed || (!closing_frame && this.state !== open)) return;
    const n = data.byteLength;
    const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(head + 4 + n);
    frame[0] = 0x80 | opcode;
    if (n < 126) frame[1] = 0x80 | n;
    else if (n < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(n, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeUInt32BE(Math.floor(n / 4294967296), 2);
      frame.writeUInt32BE(n >>> 0, 6);
    }
    if (mask_at + 4 > mask_pool.byteLength) {
      randomFillSync(mask_pool);
      mask_at = 0;
    }
    const m0 = mask_pool[mask_at];
    const m1 = mask_pool[mask_at + 1];
    const m2 = mask_pool[mask_at + 2];
    const m3 = mask_pool[mask_at + 3];
    mask_at += 4;
    const at = head;
    frame[at] = m0;
    frame[at + 1] = m1;
    frame[at + 2] = m2;
    frame[at + 3] = m3;
    const body = at + 4;
    for (let i = 0; i < n; i++) {
      const k = i & 3;
      frame[body + i] = data[i] ^ (k === 0 ? m0 : k === 1 ? m1 : k === 2 ? m2 : m3);
    }
    if (this.in_read && !this.corked) {
      this.corked = true;
      this.socket.cork();
    }
    this.socket.write(frame);
  }

  // ---- lifecycle ----

  private emit_error(message: string): void {
    if (this.state === closed) return;
    this.onerror?.({ type: 'error', message, error: new Error(message), target: this });
  }

  private on_socket_close(): void {
    if (this.state === closed) return;
    if (this.close_timer !== null) clearTimeout(this.close_timer);
    this.state = closed;
    this.parser.stop();
    const code = this.close_code;
    this.onclose?.({ type: 'close', code, reason: this.close_reason, wasClean: code !== 1006, target: this });
  }
}

const empty = new Uint8Array(0);
