// The last event batches one symbol published, kept so the engine can send
// them again after its NATS connection comes back (issue 24, the engine's own
// node lost). Core NATS gives no delivery receipt: when the node the engine
// publishes to dies, the batches in flight on it (in its socket, in its route
// buffers) are lost on every path of every feed, and nats.js discards what was
// published while it was reconnecting. Feeds drop copies they already have by
// (epoch, seq) before decoding (wire/batch_peek.ts), so sending again
// everything from shortly before the disconnect is safe and cheap.
//
// Cost: no copy (the publisher hands over a fresh buffer per batch and never
// touches it again, bus.ts); one slot write per batch; memory bounded by
// resend_batches_max and resend_bytes_max per symbol.

/** Batches kept per symbol: about a second at the default 2 ms batch interval. */
export const resend_batches_max = 512;
/** Bytes kept per symbol (a few large batches must not pin megabytes). */
export const resend_bytes_max = 4 * 1024 * 1024;

export class ResendRing {
  private readonly bytes_by_slot: (Uint8Array | null)[] = new Array<Uint8Array | null>(resend_batches_max).fill(null);
  private readonly sent_ns_by_slot = new Float64Array(resend_batches_max);
  /** Slot of the oldest batch kept, and how many are kept. */
  private head = 0;
  private count = 0;
  private bytes = 0;

  push(bytes: Uint8Array, sent_ns: number): void {
    if (this.count === resend_batches_max) this.drop_oldest();
    const slot = (this.head + this.count) % resend_batches_max;
    this.bytes_by_slot[slot] = bytes;
    this.sent_ns_by_slot[slot] = sent_ns;
    this.count++;
    this.bytes += bytes.byteLength;
    while (this.bytes > resend_bytes_max && this.count > 1) this.drop_oldest();
  }

  /** Hands every batch kept that was sent at or after `from_ns` to `send`, oldest first; returns how many. */
  since(from_ns: number, send: (bytes: Uint8Array) => void): number {
    let sent = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % resend_batches_max;
      if (this.sent_ns_by_slot[slot] < from_ns) continue;
      send(this.bytes_by_slot[slot]!);
      sent++;
    }
    return sent;
  }

  private drop_oldest(): void {
    const old = this.bytes_by_slot[this.head]!;
    this.bytes -= old.byteLength;
    this.bytes_by_slot[this.head] = null;
    this.head = (this.head + 1) % resend_batches_max;
    this.count--;
  }
}
