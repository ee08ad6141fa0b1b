import { connect, errors, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { logger_for } from '../util/log.js';
import {
  type Bus, type BusHandler, type BusResponder, type BusStatus, type BusSubscription,
  BusNoResponderError, BusTimeoutError,
} from './bus.js';
import type { EventStream } from './event_stream.js';
import { NatsEventStream } from './nats_stream.js';
import type { Subjects } from './subjects.js';

const log = logger_for('bus.nats');

export interface NatsBusOptions {
  /** e.g. nats://127.0.0.1:4222; several separated by commas */
  url: string;
  name: string;
  reconnect_wait_ms: number;
  /** Largest message we publish; checked against the server's max_payload at connect. */
  payload_bytes_max?: number;
  /** false: try the servers in the order given (a feed's second path must land on another node); default: shuffled. */
  randomize?: boolean;
  /** Give up (reject) after this many failed first connects; default: never (a feed or engine waits for NATS). */
  attempts_max?: number;
}

/**
 * Bus over a real nats-server (core NATS; request/reply for snapshots).
 * Connecting waits for the first server forever (logging each failure), and
 * reconnects forever: a feed or engine never crashes because NATS is away.
 */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private status_listeners = new Set<(s: BusStatus) => void>();
  private connected = false;

  private constructor(private readonly nc: NatsConnection) {
    this.connected = true;
    void this.watch_status();
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const servers = options.url.split(',').map((s) => s.trim()).filter(Boolean);
    let attempt = 0;
    for (;;) {
      try {
        const nc = await connect({
          servers,
          name: options.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: options.reconnect_wait_ms,
          pingInterval: 10_000,
          noRandomize: options.randomize === false,
        });
        const info = nc.info;
        if (info && options.payload_bytes_max !== undefined && info.max_payload < options.payload_bytes_max) {
          log.warn({ server_max_payload: info.max_payload, ours: options.payload_bytes_max },
            'nats-server max_payload is below our batch bound; batches will be split smaller');
        }
        log.info({ server: nc.getServer(), attempts: attempt + 1 }, 'connected to NATS');
        return new NatsBus(nc);
      } catch (err) {
        attempt++;
        if (options.attempts_max !== undefined && attempt >= options.attempts_max) throw err;
        log.error({ url: options.url, attempt, err: (err as Error).message },
          `cannot reach NATS at ${options.url}; retrying in ${options.reconnect_wait_ms} ms`);
        await new Promise((r) => setTimeout(r, options.reconnect_wait_ms));
      }
    }
  }

  /** The server this connection is on now (host:port): which node of a cluster it depends on. */
  get server(): string {
    return this.nc.getServer();
  }

  get server_payload_bytes_max(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  private async watch_status(): Promise<void> {
    for await (const s of this.nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.connected = false;
          log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
          this.emit('disconnected');
          break;
        case 'reconnect':
          this.connected = true;
          log.info({ server: s.server }, 'NATS reconnected');
          this.emit('reconnected');
          break;
        case 'error':
          log.error({ err: String(s.error) }, 'NATS server error');
          break;
        case 'slowConsumer':
          log.warn({ sub: s.sub.getSubject(), pending: s.pending }, 'NATS slow consumer: messages dropped by the client library');
          break;
        default:
          break;
      }
    }
  }

  private emit(status: BusStatus): void {
    for (const l of this.status_listeners) l(status);
  }

  publish(subject: string, data: Uint8Array): void {
    try {
      this.nc.publish(subject, data);
    } catch (err) {
      // Closed/draining connection: the caller's sequence numbers still advance, so
      // consumers see a gap and recover; we only log.
      log.error({ subject, err: (err as Error).message }, 'NATS publish failed');
    }
  }

  subscribe(subject: string, handler: BusHandler): BusSubscription {
    // nats.js decodes a message's subject (TextDecoder) only when asked: for a subject without wildcards it is the
    // one subscribed, so no message pays that (a feed on two paths gets every batch twice).
    const exact = !subject.includes('*') && !subject.includes('>');
    const sub: Subscription = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          log.error({ subject, err: err.message }, 'NATS subscription error');
          return;
        }
        handler(msg.data, exact ? subject : msg.subject);
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  async request(subject: string, data: Uint8Array, timeout_ms: number): Promise<Uint8Array> {
    try {
      const msg = await this.nc.request(subject, data, { timeout: timeout_ms });
      return msg.data;
    } catch (err) {
      if (err instanceof errors.TimeoutError) throw new BusTimeoutError(subject, timeout_ms);
      if (err instanceof errors.RequestError && err.isNoResponders()) throw new BusNoResponderError(subject);
      if (err instanceof errors.NoRespondersError) throw new BusNoResponderError(subject);
      throw err;
    }
  }

  serve(subject: string, responder: BusResponder): BusSubscription {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          log.error({ subject, err: err.message }, 'NATS responder subscription error');
          return;
        }
        Promise.resolve()
          .then(() => responder(msg.data, msg.subject))
          .then((reply) => { msg.respond(reply); })
          .catch((e: unknown) => log.error({ subject: msg.subject, err: (e as Error).message }, 'responder failed'));
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  async flush(): Promise<void> {
    await this.nc.flush();
  }

  is_connected(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  on_status(listener: (s: BusStatus) => void): () => void {
    this.status_listeners.add(listener);
    return () => this.status_listeners.delete(listener);
  }

  /** The JetStream stream of these subjects (it may not exist yet: the engine creates it, readers see null or errors). */
  event_stream(subjects: Subjects): EventStream {
    return new NatsEventStream(this.nc, subjects);
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
    this.connected = false;
    this.emit('closed');
  }
}
