// What the client tells the server about its own progress, and how old its
// books are by its own reckoning (docs/PROTOCOL.md, "Slow readers").
//
// Acks: after the application has processed frames (the SDK's verification
// and every listener, i.e. the page's own work), an Ack frame reports the
// payload bytes processed on this connection — at most one per
// ack_interval_ms, and one trailing Ack after the last frame of a burst. The
// server caps what it has in flight by it. That covers what WebSocket pings
// cannot: a browser answers pings on its network thread while its main
// thread may be seconds behind, and then only Acks show the backlog.
//
// Staleness: every server frame with a server timestamp (Delta and Snapshot
// ts_send_ns, Heartbeat and Pong server_time_ns) says "the server's state as
// of then". floor = the smallest (processed − sent) seen: clock offset plus
// the quickest path, so no clock agreement is needed. staleness(now) = now −
// sent(newest processed) − floor: how much older the newest processed state
// is than it would be on an idle path. Behind = staleness over behind_ms.
//
// Acks go on a connection only where its pongs do not prove the same
// (FeedClient decides per socket, reset(acking)): the server reads the lower
// of pongs and Acks, so an Ack that only repeats a pong is a socket write for
// nothing.
//
// Cost per frame: a few additions and comparisons; at most one timer at a time.
// Invariant: bytes_processed counts this connection only (reset on open),
// exactly as the server counts what it sent on it.

/** The floor forgets its oldest half this often, so a clock step or a changed path is learned. */
export const staleness_floor_window_ns = 30e9;

export class ReaderProgress {
  /** Payload bytes of binary frames processed on this connection. */
  bytes_processed = 0;
  acks_sent = 0;
  private bytes_acked = 0;
  private last_ack_ns = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Acks go on this connection (send_ack given and reset(true)). */
  private acking: boolean;
  private newest_sent_ns = 0;
  private floor_ns = Infinity;
  private floor_previous_ns = Infinity;
  private floor_window_start_ns = 0;

  constructor(
    private readonly ack_interval_ms: number,
    private readonly send_ack: ((bytes_processed: number) => void) | null,
    private readonly clock_ns: () => number,
  ) {
    this.acking = send_ack !== null;
  }

  /** A new connection: the server counts from zero again; `acking` false: this one gets no Acks (its pongs say it). */
  reset(acking = true): void {
    this.acking = acking && this.send_ack !== null;
    this.bytes_processed = 0;
    this.bytes_acked = 0;
    this.last_ack_ns = -Infinity;
    this.cancel_timer();
  }

  /** A frame of `bytes` was processed at now_ns; sent_ns is its server timestamp (0 when it has none). */
  processed(bytes: number, sent_ns: number, now_ns: number): void {
    this.bytes_processed += bytes;
    if (sent_ns > 0) this.observe(sent_ns, now_ns);
    if (!this.acking) return;
    const wait_ms = this.ack_interval_ms - (now_ns - this.last_ack_ns) / 1e6;
    if (wait_ms <= 0) this.ack(now_ns);
    else this.timer ??= setTimeout(() => {
      this.timer = null;
      this.ack(this.clock_ns());
    }, wait_ms);
  }

  /** ms by which the newest state processed is older than on an idle path (0 before the first frame). */
  staleness_ms(now_ns: number): number {
    if (this.newest_sent_ns === 0) return 0;
    const floor = Math.min(this.floor_ns, this.floor_previous_ns);
    return Math.max(0, (now_ns - this.newest_sent_ns - floor) / 1e6);
  }

  stop(): void {
    this.cancel_timer();
  }

  private observe(sent_ns: number, now_ns: number): void {
    if (sent_ns > this.newest_sent_ns) this.newest_sent_ns = sent_ns;
    if (now_ns - this.floor_window_start_ns > staleness_floor_window_ns) {
      this.floor_previous_ns = this.floor_ns;
      this.floor_ns = Infinity;
      this.floor_window_start_ns = now_ns;
    }
    const d = now_ns - sent_ns;
    if (d < this.floor_ns) this.floor_ns = d;
  }

  private ack(now_ns: number): void {
    this.cancel_timer();
    if (this.bytes_processed === this.bytes_acked) return;
    this.bytes_acked = this.bytes_processed;
    this.last_ack_ns = now_ns;
    this.acks_sent++;
    this.send_ack!(this.bytes_processed);
  }

  private cancel_timer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
