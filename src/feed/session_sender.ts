// How one connection's frames leave for the socket: the frames queued in this
// event-loop turn go out together at the turn's end, corked into one
// syscall, with the reader-flow probes (WebSocket pings) they call for, and
// deflated when they are a lagging reader's catch-ups. Session (session.ts)
// decides what is queued and what the results mean; this only sends.
//
// The common case on the fan-out path is one frame per session per turn and
// no probe: it goes out with a plain send (uWS corks and uncorks it itself, so
// its result says whether anything stayed buffered). Several frames, or a
// frame and a probe, go out inside one cork, whose result only the buffered
// amount tells.
//
// Cost per flush: a pass over the queued frames (sizes), the sends, and a
// probe every reader_probe_interval_ms. No allocation: the queue's slots and
// the cork callback are made once per connection (slots are overwritten, not
// the array resized).

import type { ReaderFlow } from './reader_flow.js';
import { send_dropped, send_ok, type ClientTransport } from './transport.js';

/** Frames queued for one connection within one event-loop turn; past it we flush early. */
export const session_pending_frames_max = 1024;
/** Smaller frames go uncompressed even to a lagging reader: deflate would save little and cost a call. */
const compress_bytes_min = 512;

/** What an emptied slot holds. */
const no_frame = new Uint8Array(0);

/** What queue() asks of its caller. */
export const queued_more = 0;
export const queued_first = 1;
export const queued_full = 2;

export class FrameSender {
  /** Frames and bytes the socket accepted (sent or buffered). */
  frames_sent = 0;
  bytes_sent = 0;
  last_send_ms: number;
  /** Uncompressed bytes of the last flush's frames. */
  last_flush_bytes = 0;
  /** Queued frames are pending[0 .. pending_count) (slots are reused: no array resizing per flush). */
  private readonly pending: Uint8Array[] = [];
  private pending_count = 0;
  private scheduled = false;
  /** This flush's frames go deflated (a lagging reader that negotiated deflate). */
  private compress_now = false;
  private probe_pending = false;
  private path_probe_pending = false;
  private cork_status = send_ok;
  private probe_now_ms = 0;

  constructor(
    private readonly transport: ClientTransport,
    private readonly flow: ReaderFlow,
    /** The transport can send pings and probing is on: the reader's lag is measured. */
    private readonly probing: boolean,
    private readonly events: { on_bytes_sent(bytes: number): void },
    now_ms: number,
  ) {
    this.last_send_ms = now_ms;
  }

  get pending_frames(): number {
    return this.pending_count;
  }

  /** Queues a frame for this turn's flush: queued_first (schedule a flush), queued_full (flush now) or queued_more. */
  queue(frame: Uint8Array): number {
    this.pending[this.pending_count++] = frame;
    if (this.pending_count >= session_pending_frames_max) return queued_full;
    if (this.scheduled) return queued_more;
    this.scheduled = true;
    return queued_first;
  }

  /** The flush ran (or the connection is closing): the next queued frame schedules another. */
  unschedule(): void {
    this.scheduled = false;
  }

  drop_pending(): void {
    for (let i = 0; i < this.pending_count; i++) this.pending[i] = no_frame;
    this.pending_count = 0;
  }

  /**
   * Sends every queued frame (there is at least one), a path probe first when
   * one is due (nothing in flight yet: it measures the path alone) and a
   * probe after them when one is due. `catching_up`: the connection
   * conflates, so these frames are a catch-up round (deflated for a client
   * that negotiated it; the flow measures it as a round). Returns the
   * transport's status (send_dropped if any send was refused).
   */
  send(now_ms: number, catching_up: boolean): number {
    const frames = this.pending;
    const n = this.pending_count;
    const flow = this.flow;
    this.path_probe_pending = this.probing && flow.path_probe_due(now_ms);
    let largest = frames[0];
    let bytes = largest.byteLength;
    for (let i = 1; i < n; i++) {
      bytes += frames[i].byteLength;
      if (frames[i].byteLength > largest.byteLength) largest = frames[i];
    }
    this.last_flush_bytes = bytes;
    // Catch-ups to a client that negotiated deflate go deflated: the flow measures them in wire terms.
    const deflating = catching_up && this.probing && this.transport.deflate_ratio !== undefined;
    this.compress_now = deflating && bytes >= compress_bytes_min;
    // While it conflates, what is in flight is (mostly) deflated: a small uncompressed Status or
    // Heartbeat does not make the reader's rate samples uncompressed ones.
    if (this.compress_now) flow.wire_factor = this.transport.deflate_ratio!(largest, now_ms);
    else if (!deflating) flow.wire_factor = 1;
    if (catching_up) flow.start_round(now_ms); // a round after everything was acknowledged: a capacity sample
    flow.on_sent(bytes);
    this.probe_pending = this.probing && flow.probe_due(now_ms, catching_up);
    const bytes_before = this.bytes_sent;
    let status: number;
    if (n === 1 && !this.probe_pending && !this.path_probe_pending) {
      status = this.send_one(frames[0]);
    } else {
      this.cork_status = send_ok;
      this.probe_now_ms = now_ms;
      this.transport.cork(this.send_corked);
      status = this.cork_status;
    }
    for (let i = 0; i < n; i++) frames[i] = no_frame; // sent: not kept alive by this connection
    this.pending_count = 0;
    this.last_send_ms = now_ms;
    // Once per flush, not per frame: what the socket accepted of it.
    if (this.bytes_sent !== bytes_before) this.events.on_bytes_sent(this.bytes_sent - bytes_before);
    return status;
  }

  /** Frames the transport sent from a topic this connection holds (Session.collect_published): counted as sent now. */
  count_published(frames: number, bytes: number, now_ms: number): void {
    this.frames_sent += frames;
    this.bytes_sent += bytes;
    this.last_send_ms = now_ms;
    this.flow.on_sent(bytes);
  }

  /**
   * A probe alone (bytes in flight and none outstanding, or one due while
   * topics carry the data): send_dropped if the socket refused it. Corked:
   * uWS first writes what was published to this socket and not yet written
   * (it drains a subscriber before any direct send), so those frames and the
   * ping leave in one write instead of two.
   */
  probe(now_ms: number): number {
    this.probe_now_ms = now_ms;
    this.cork_status = send_dropped; // a transport that no longer corks (closed) sends nothing
    this.transport.cork(this.probe_corked);
    return this.cork_status;
  }

  /** The lone probe's cork callback, made once per connection. */
  private readonly probe_corked = (): void => {
    this.cork_status = this.transport.ping!(this.flow.probe(this.probe_now_ms));
  };

  /** The cork callback, made once per connection (not a closure per flush). */
  private readonly send_corked = (): void => {
    if (this.path_probe_pending) {
      this.path_probe_pending = false;
      if (this.transport.ping!(this.flow.path_probe(this.probe_now_ms)) === send_dropped) {
        this.cork_status = send_dropped;
        return;
      }
    }
    const frames = this.pending;
    for (let i = 0, n = this.pending_count; i < n; i++) {
      if (this.send_one(frames[i]) === send_dropped) {
        this.cork_status = send_dropped;
        return;
      }
    }
    if (this.probe_pending) {
      this.probe_pending = false;
      if (this.transport.ping!(this.flow.probe(this.probe_now_ms)) === send_dropped) this.cork_status = send_dropped;
    }
  };

  private send_one(frame: Uint8Array): number {
    // While conflating, what goes out is catch-ups: deflated they reach a thin reader about 4x sooner.
    const status = this.transport.send(frame, this.compress_now && frame.byteLength >= compress_bytes_min);
    if (status !== send_dropped) {
      this.frames_sent++;
      this.bytes_sent += frame.byteLength;
    }
    return status;
  }
}
