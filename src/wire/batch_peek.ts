// The seq range of an engine EventBatch (schemas/engine_events.fbs), read
// without decoding it: a feed that takes every batch from two NATS paths
// (bus/nats_paths.ts) drops the second copy on this alone.
//
// Why the FlatBuffers message and not a NATS header set by the engine: the
// range is already in the message, a header would cost the engine an encode
// per batch and the feed a text parse per copy, and recordings and replays
// (which have no headers) arbitrate the same way.
//
// Cost: about fifteen byte reads and bounds checks, no allocation, no string,
// no event touched (EventBatchReader.read validates every event and decodes
// the symbol: it runs only for the copy that is applied). A malformed message
// peeks as not-ok and takes the full, checked path, which counts and skips it.

/** Where peek_batch_range writes (one reused object per reader). */
export interface BatchRange {
  epoch: number;
  seq_first: number;
  /** Events in the batch; 0 = an engine heartbeat at seq_first. */
  count: number;
}

const two_pow_32 = 4294967296;
/** EventBatch field slots: symbol 0, epoch 1, seq_first 2, ts_publish_ns 3, events 4. */
const slot_epoch = 1;
const slot_seq_first = 2;
const slot_events = 4;

function u16(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8);
}

function u32(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 16777216;
}

/** Offset inside the table of field `slot`, 0 when absent or out of the vtable. */
function field(b: Uint8Array, vt: number, vt_size: number, slot: number): number {
  const entry = 4 + 2 * slot;
  return entry + 2 > vt_size ? 0 : u16(b, vt + entry);
}

/**
 * Reads (epoch, seq_first, count) of an EventBatch into `out`; false when the
 * bytes are not a well-formed one as far as those fields go (the caller then
 * decodes fully, which reports why).
 */
export function peek_batch_range(b: Uint8Array, out: BatchRange): boolean {
  const n = b.byteLength;
  if (n < 8) return false;
  const table = u32(b, 0);
  if (table % 4 !== 0 || table + 4 > n) return false;
  const soffset = u32(b, table) | 0;
  const vt = table - soffset;
  if (vt < 0 || vt % 2 !== 0 || vt + 4 > n) return false;
  const vt_size = u16(b, vt);
  const table_size = u16(b, vt + 2);
  if (vt_size < 4 || vt + vt_size > n || table + table_size > n) return false;
  const epoch_at = field(b, vt, vt_size, slot_epoch);
  const seq_at = field(b, vt, vt_size, slot_seq_first);
  const events_at = field(b, vt, vt_size, slot_events);
  if (events_at === 0 || events_at + 4 > table_size) return false;
  if ((epoch_at !== 0 && epoch_at + 8 > table_size) || (seq_at !== 0 && seq_at + 8 > table_size)) return false;
  out.epoch = epoch_at === 0 ? 0 : u32(b, table + epoch_at + 4) * two_pow_32 + u32(b, table + epoch_at);
  out.seq_first = seq_at === 0 ? 0 : u32(b, table + seq_at + 4) * two_pow_32 + u32(b, table + seq_at);
  const vector = table + events_at + u32(b, table + events_at);
  if (vector + 4 > n) return false;
  out.count = u32(b, vector);
  return true;
}
