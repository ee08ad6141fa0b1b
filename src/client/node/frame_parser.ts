// RFC 6455 frames as a client receives them, parsed in place: the bytes of one
// TCP read are walked header by header and every whole frame is handed to the
// sink as a view into the caller's buffer (no copy, nothing allocated but the
// view). Only what a read cut off (a header or payload that continues in the
// next read) and the parts of a fragmented message are copied, into buffers
// owned here that grow to the largest frame seen (bounded by
// message_bytes_max). The caller may reuse its read buffer as soon as push()
// returns: nothing here keeps a reference to it.
//
// Checked, as a client must (a violation ends the stream: sink.violation with
// the close code to send, then nothing more is parsed): RSV bits (no extension
// is ever negotiated), reserved opcodes, masked server frames, control frames
// fragmented or over 125 bytes, continuation frames outside a message, a new
// message inside a fragmented one, messages over message_bytes_max (1009).
// Not checked here: UTF-8 of text messages (the socket decodes them).
//
// Cost per frame: a few byte reads and comparisons and one sink call.

/** Opcodes (RFC 6455 §5.2). */
export const opcode_continuation = 0;
export const opcode_text = 1;
export const opcode_binary = 2;
export const opcode_close = 8;
export const opcode_ping = 9;
export const opcode_pong = 10;

/** Close codes (RFC 6455 §7.4.1) the parser asks for. */
export const close_protocol_error = 1002;
export const close_message_too_big = 1009;

/** Control frame payloads are at most this long (RFC 6455 §5.5). */
const control_payload_bytes_max = 125;

export interface FrameSink {
  /** A whole data message (opcode_text or opcode_binary); `payload` is valid only during the call. */
  message(opcode: number, payload: Uint8Array): void;
  /** A control frame (close, ping, pong); `payload` is valid only during the call. */
  control(opcode: number, payload: Uint8Array): void;
  /** The stream broke the protocol: close with `code`. Called once; nothing is parsed after it. */
  violation(code: number, reason: string): void;
}

export class FrameParser {
  /** A frame cut off by the end of a read: its bytes so far (header included). */
  private held = new Uint8Array(256);
  private held_length = 0;
  /** Total bytes of the held frame, header included; 0 while its header is incomplete. */
  private held_need = 0;
  /** The parts of a fragmented message so far. */
  private fragments = new Uint8Array(0);
  private fragments_length = 0;
  private fragment_opcode = 0;
  private stopped = false;

  constructor(private readonly sink: FrameSink, private readonly message_bytes_max: number) {}

  /** Nothing more is parsed (the socket closed, or the stream broke). */
  stop(): void {
    this.stopped = true;
  }

  get is_stopped(): boolean {
    return this.stopped;
  }

  /** Parses bytes[start, end): every whole frame goes to the sink; the rest is kept for the next push. */
  push(bytes: Uint8Array, start: number, end: number): void {
    let i = start;
    if (this.held_length > 0) {
      i = this.fill_held(bytes, i, end);
      if (this.held_length > 0) return; // still incomplete: the whole read went into it
    }
    while (i < end && !this.stopped) {
      const available = end - i;
      if (available < 2) break;
      const b1 = bytes[i + 1];
      const len7 = b1 & 0x7f;
      const header = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (available < header) break;
      const length = len7 < 126 ? len7 : payload_length(bytes, i, len7);
      if (!this.header_ok(bytes[i], b1, length)) return;
      if (available < header + length) {
        this.held_need = header + length;
        break;
      }
      this.frame(bytes[i], bytes, i + header, i + header + length);
      i += header + length;
    }
    if (i < end && !this.stopped) this.hold(bytes, i, end);
  }

  /** Keeps bytes[start, end), the beginning of a frame (held_need set when its header is known). */
  private hold(bytes: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserve_held(Math.max(n, this.held_need));
    this.held.set(bytes.subarray(start, end), 0);
    this.held_length = n;
  }

  private reserve_held(n: number): void {
    if (this.held.byteLength >= n) return;
    const grown = new Uint8Array(Math.max(n, this.held.byteLength * 2));
    grown.set(this.held.subarray(0, this.held_length), 0);
    this.held = grown;
  }

  /** Completes the held frame from bytes[i, end); returns where its bytes end (held_length 0 once it went to the sink). */
  private fill_held(bytes: Uint8Array, i: number, end: number): number {
    for (;;) {
      let target = this.held_need;
      if (target === 0) target = this.held_length < 2 ? 2 : header_bytes(this.held[1]);
      if (this.held_length < target) {
        const take = Math.min(target - this.held_length, end - i);
        this.reserve_held(this.held_length + take);
        this.held.set(bytes.subarray(i, i + take), this.held_length);
        this.held_length += take;
        i += take;
        if (this.held_length < target) return i;
      }
      if (this.held_need === 0) {
        if (this.held_length < 2 || this.held_length < header_bytes(this.held[1])) continue;
        const len7 = this.held[1] & 0x7f;
        const length = len7 < 126 ? len7 : payload_length(this.held, 0, len7);
        if (!this.header_ok(this.held[0], this.held[1], length)) {
          this.held_length = 0;
          return end;
        }
        this.held_need = header_bytes(this.held[1]) + length;
        continue;
      }
      const held = this.held;
      const header = header_bytes(held[1]);
      const need = this.held_need;
      this.held_length = 0;
      this.held_need = 0;
      this.frame(held[0], held, header, need);
      return i;
    }
  }

  /** RFC 6455 checks on a frame's header; false after reporting a violation. */
  private header_ok(b0: number, b1: number, length: number): boolean {
    const opcode = b0 & 0x0f;
    let why = '';
    let code = close_protocol_error;
    if ((b0 & 0x70) !== 0) why = 'RSV bits set (no extension was negotiated)';
    else if ((opcode > opcode_binary && opcode < opcode_close) || opcode > opcode_pong) why = `reserved opcode ${opcode}`;
    else if ((b1 & 0x80) !== 0) why = 'a frame from the server is masked';
    else if (opcode >= opcode_close && (b0 & 0x80) === 0) why = `fragmented control frame (opcode ${opcode})`;
    else if (opcode >= opcode_close && length > control_payload_bytes_max) why = `control frame of ${length} bytes (at most ${control_payload_bytes_max})`;
    else if (opcode === opcode_continuation && this.fragment_opcode === 0) why = 'continuation frame outside a fragmented message';
    else if ((opcode === opcode_text || opcode === opcode_binary) && this.fragment_opcode !== 0) why = 'a new message inside a fragmented one';
    else if (length > this.message_bytes_max || (opcode === opcode_continuation && this.fragments_length + length > this.message_bytes_max)) {
      why = `message over ${this.message_bytes_max} bytes`;
      code = close_message_too_big;
    }
    if (why === '') return true;
    this.fail(code, why);
    return false;
  }

  private fail(code: number, reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.fragments = new Uint8Array(0);
    this.sink.violation(code, reason);
  }

  /** One whole frame, payload bytes[start, end). */
  private frame(b0: number, bytes: Uint8Array, start: number, end: number): void {
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if (opcode >= opcode_close) {
      this.sink.control(opcode, bytes.subarray(start, end));
      return;
    }
    if (opcode !== opcode_continuation) {
      if (fin) {
        this.sink.message(opcode, bytes.subarray(start, end));
        return;
      }
      this.fragment_opcode = opcode;
      this.fragments_length = 0;
    }
    const n = end - start;
    if (this.fragments.byteLength < this.fragments_length + n) {
      const grown = new Uint8Array(Math.max(this.fragments_length + n, this.fragments.byteLength * 2, 1024));
      grown.set(this.fragments.subarray(0, this.fragments_length), 0);
      this.fragments = grown;
    }
    this.fragments.set(bytes.subarray(start, end), this.fragments_length);
    this.fragments_length += n;
    if (!fin) return;
    const message_opcode = this.fragment_opcode;
    this.fragment_opcode = 0;
    this.sink.message(message_opcode, this.fragments.subarray(0, this.fragments_length));
  }
}

/** Header bytes of a server frame (never masked), from its second byte. */
function header_bytes(b1: number): number {
  const len7 = b1 & 0x7f;
  return len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
}

/** The 16- or 64-bit payload length after the first two header bytes at `at`. */
function payload_length(bytes: Uint8Array, at: number, len7: number): number {
  if (len7 === 126) return (bytes[at + 2] << 8) | bytes[at + 3];
  // 64-bit: anything past 2^53 is over every limit anyway; the top bit must be 0 (RFC 6455 §5.2).
  const high = ((bytes[at + 2] << 24) >>> 0) + (bytes[at + 3] << 16) + (bytes[at + 4] << 8) + bytes[at + 5];
  const low = ((bytes[at + 6] << 24) >>> 0) + (bytes[at + 7] << 16) + (bytes[at + 8] << 8) + bytes[at + 9];
  return high * 4294967296 + low;
}
