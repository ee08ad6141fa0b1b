// EventStream over JetStream (nats-server 2.9.10 and later): one file stream
// per subject prefix holding <prefix>.events.* (captured from the engine's
// core-NATS publishes: the live path pays nothing for it) and <prefix>.book.*
// (snapshots published with `Nats-Rollup: sub`, so one per symbol is kept).
//
// Reads: the latest snapshot by direct get (`last_by_subj`, answered by any
// replica: allow_direct), then the batches after it through an ordered
// consumer (memory, R1, no acks; one filter subject and no explicit
// deliver_policy 'all', which 2.9.10 mishandles). A recovery costs two round
// trips plus the batches since the snapshot (at most one snapshot interval's
// worth when the engine is up).
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { logger_for } from '../util/log.js';
import type { EventStream, ReplayResult, StoredMessage, StreamInfo, StreamLimits } from './event_stream.js';
import type { Subjects } from './subjects.js';

const log = logger_for('bus.stream');

/** JetStream API requests (stream info, direct get, consumer create) give up after this. */
const api_timeout_ms = 2000;
/** Messages pulled per request by the replaying consumer. */
const replay_pull_messages = 256;

export class NatsEventStream implements EventStream {
  readonly name: string;
  private readonly js: JetStreamClient;
  private jsm_promise: Promise<JetStreamManager> | undefined;

  constructor(private readonly nc: NatsConnection, private readonly subjects: Subjects) {
    this.name = subjects.stream_name;
    this.js = jetstream(nc, { timeout: api_timeout_ms });
  }

  private jsm(): Promise<JetStreamManager> {
    // checkAPI: false: no $JS.API.INFO round trip; a server without JetStream fails the first real call instead.
    this.jsm_promise ??= jetstreamManager(this.nc, { timeout: api_timeout_ms, checkAPI: false });
    return this.jsm_promise;
  }

  async ensure(limits: Readonly<StreamLimits>): Promise<void> {
    const jsm = await this.jsm();
    const max_age_ns = limits.age_s_max * 1e9;
    const config = {
      name: this.name,
      subjects: [this.subjects.events_all, this.subjects.book_all],
      max_age: max_age_ns,
      max_bytes: limits.bytes_max,
      num_replicas: limits.replicas,
      allow_direct: true,
      allow_rollup_hdrs: true,
      // The dedupe window may not exceed max_age (default 2 min); we never set Nats-Msg-Id anyway.
      duplicate_window: Math.min(max_age_ns, 120e9),
    };
    try {
      await jsm.streams.add(config);
      log.info({ stream: this.name, ...limits }, 'JetStream stream ready');
    } catch (err) {
      if (!/already in use|already exists/i.test((err as Error).message)) throw err;
      // Exists with other limits: bring them to ours (replicas can change on 2.9 too).
      await jsm.streams.update(this.name, config);
      log.info({ stream: this.name, ...limits }, 'JetStream stream updated');
    }
  }

  async put_snapshot(symbol: string, data: Uint8Array): Promise<void> {
    const h = headers();
    h.set('Nats-Rollup', 'sub');
    await this.js.publish(this.subjects.book(symbol), data, { headers: h, timeout: api_timeout_ms });
  }

  async last_snapshot(symbol: string): Promise<StoredMessage | null> {
    const jsm = await this.jsm();
    const msg = await jsm.direct.getMessage(this.name, { last_by_subj: this.subjects.book(symbol) });
    return msg === null ? null : { data: msg.data, stream_seq: msg.seq };
  }

  async replay(symbol: string, after_stream_seq: number, on_batch: (data: Uint8Array, stream_seq: number) => boolean,
    timeout_ms: number): Promise<ReplayResult> {
    const result: ReplayResult = { batches: 0, bytes: 0, stopped: false };
    const subject = this.subjects.events(symbol);
    const jsm = await this.jsm();
    // Where the stream ends for this symbol now: the replay stops there and live messages take over.
    const last = await jsm.direct.getMessage(this.name, { last_by_subj: subject });
    if (last === null || last.seq <= after_stream_seq) return result;
    const consumer = await this.js.consumers.get(this.name, { filter_subjects: subject, opt_start_seq: after_stream_seq + 1 });
    const messages = await consumer.consume({ max_messages: replay_pull_messages });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => { void messages.close(); }, timeout_ms);
    };
    arm();
    let done = false;
    try {
      for await (const m of messages) {
        arm();
        result.batches++;
        result.bytes += m.data.byteLength;
        if (!on_batch(m.data, m.seq)) {
          result.stopped = true;
          done = true;
          break;
        }
        if (m.seq >= last.seq || m.info.pending === 0) {
          done = true;
          break;
        }
      }
    } finally {
      clearTimeout(timer);
      void messages.close();
    }
    if (!done) throw new Error(`replay of ${subject} stalled after ${result.batches} batches (no message for ${timeout_ms} ms)`);
    return result;
  }

  async info(): Promise<StreamInfo | null> {
    const jsm = await this.jsm();
    try {
      const si = await jsm.streams.info(this.name);
      return {
        messages: si.state.messages, bytes: si.state.bytes, first_seq: si.state.first_seq, last_seq: si.state.last_seq,
        leader: si.cluster?.leader ?? '', replicas: si.config.num_replicas,
      };
    } catch (err) {
      if (/not found/i.test((err as Error).message)) return null;
      throw err;
    }
  }
}
