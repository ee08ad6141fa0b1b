// What clients ask the feed for: one binary frame at a time, after the
// inbound rate limit and size check, decoded (attacker input: WireError on
// anything malformed) and answered. Subscribe (with its interval, group and
// resume points), Unsubscribe, Resync, Ping, Ack and Refresh; anything wrong gets an
// Error frame with a code (src/wire/codes.ts) and nothing else changes.
// Which mode a subscription then streams in is its Session's decision
// (Session.settle); the views and their fan-out are fanout.ts's.
//
// Cost: per frame, one token-bucket take, one decode, a map lookup per
// symbol; Status frames encoded once per request.

import type { Config } from '../config.js';
import { is_valid_group } from '../book/grouped_book.js';
import { view_key } from '../util/symbol.js';
import { now_ns } from '../util/clock.js';
import { close_code, depths_allowed, error_code, group_ticks_max, interval_ms_max } from '../wire/codes.js';
import { decode_client_frame } from '../wire/feed_decoder.js';
import type { FrameEncoder } from '../wire/feed_encoder.js';
import type { ClientMsg, ResumePoint, SymbolStatusRec } from '../wire/feed_types.js';
import { WireError } from '../wire/wire_error.js';
import { count_by, type FeedCounters } from './counters.js';
import type { Outbound } from './outbound.js';
import type { ResumeHistory } from './resume_history.js';
import type { Session } from './session.js';
import { Subscription } from './subscription.js';
import type { SymbolFeed } from './symbol_feed.js';
import type { SubscriptionChannel } from './subscription.js';

/** Inbound frames/s at this multiple of the limit close the connection (abuse). */
export const inbound_abuse_factor = 4;

/** What requests need of the feed: its config, counters and books, and the few operations on views it owns. */
export interface RequestHost {
  readonly config: Readonly<Config>;
  readonly counters: FeedCounters;
  readonly outbound: Outbound;
  readonly encoder: FrameEncoder;
  readonly symbols: ReadonlyMap<string, SymbolFeed>;
  readonly resume_history: ResumeHistory;
  readonly resumes_total: Map<string, number>;
  channel_for(f: SymbolFeed, depth: number, group: number): SubscriptionChannel;
  flush_symbol(f: SymbolFeed): void;
  /** Snapshot now, then the view's Deltas. */
  start_sub(session: Session, sub: Subscription): void;
  remove_sub(session: Session, sub: Subscription): void;
  queue_other(session: Session, frame: Uint8Array): void;
  send_error(session: Session, code: number, message: string, symbol: string): void;
}

export class ClientRequests {
  private readonly config: Readonly<Config>;
  private readonly counters: FeedCounters;
  private readonly encoder: FrameEncoder;
  private readonly symbols: ReadonlyMap<string, SymbolFeed>;
  private readonly resume_history: ResumeHistory;
  private readonly resumes_total: Map<string, number>;

  constructor(private readonly host: RequestHost) {
    this.config = host.config;
    this.counters = host.counters;
    this.encoder = host.encoder;
    this.symbols = host.symbols;
    this.resume_history = host.resume_history;
    this.resumes_total = host.resumes_total;
  }

  /** A binary frame from a client. `bytes` is only valid during the call. */
  on_client_frame(session: Session, bytes: Uint8Array): void {
    if (session.closing) return;
    this.counters.frames_in_total++;
    this.counters.bytes_in_total += bytes.byteLength;
    const now_ms = Date.now();
    if (!session.inbound.take(now_ms)) {
      session.inbound_refused++;
      if (session.inbound_refused > this.config.inbound_messages_per_s_max * inbound_abuse_factor) {
        session.close(close_code.policy_rate, 'inbound message rate far over the limit');
        return;
      }
      this.send_error(session, error_code.rate_limited, `more than ${this.config.inbound_messages_per_s_max} messages/s; frame ignored`, '');
      return;
    }
    session.inbound_refused = 0;
    if (bytes.byteLength > this.config.inbound_frame_bytes_max) {
      this.send_error(session, error_code.frame_too_large, `frame of ${bytes.byteLength} bytes exceeds ${this.config.inbound_frame_bytes_max}`, '');
      return;
    }
    let msg: ClientMsg;
    try {
      msg = decode_client_frame(bytes);
    } catch (err) {
      const code = err instanceof WireError ? err.code : error_code.bad_frame;
      this.send_error(session, code, `bad frame: ${(err as Error).message}`, '');
      return;
    }
    switch (msg.type) {
      case 'subscribe': this.subscribe(session, msg.symbols, msg.depth, msg.interval_ms, msg.resume, msg.group ?? 1); break;
      case 'unsubscribe': this.unsubscribe(session, msg.symbols, msg.depth, msg.group ?? 1); break;
      case 'resync': this.resync(session, msg.symbol, msg.depth, msg.group ?? 1); break;
      case 'ack': session.on_ack(msg.bytes_processed, now_ms); break;
      case 'refresh': this.refresh(session, msg.token); break;
      case 'ping':
        this.queue_other(session, this.encoder.pong({ nonce: msg.nonce, client_time_ns: msg.client_time_ns, server_time_ns: now_ns() }));
        break;
    }
  }

  /** Text frames are not part of the protocol. */
  on_text_frame(session: Session): void {
    this.send_error(session, error_code.text_frame, 'text frames are not supported; send binary FlatBuffers frames (docs/PROTOCOL.md)', '');
  }

  private subscribe(session: Session, symbols: string[], depth: number, interval_ms: number, resume: (ResumePoint | null)[] | undefined, group: number): void {
    if (!is_valid_group(group)) {
      this.send_error(session, error_code.bad_group, `group must be a price bucket of 1 to ${group_ticks_max} ticks (1 = ungrouped), got ${group}`, '');
      return;
    }
    if (!depths_allowed.includes(depth)) {
      this.send_error(session, error_code.bad_depth, `depth must be one of ${depths_allowed.join(', ')} (0 = full book), got ${depth}`, '');
      return;
    }
    if (!Number.isInteger(interval_ms) || interval_ms < 0 || interval_ms > interval_ms_max) {
      this.send_error(session, error_code.bad_interval, `interval_ms must be 0..${interval_ms_max}, got ${interval_ms}`, '');
      return;
    }
    if (symbols.length === 0) {
      this.send_error(session, error_code.bad_request, 'subscribe needs at least one symbol', '');
      return;
    }
    const statuses: SymbolStatusRec[] = [];
    // Views resumed without a Snapshot: started after the Status that says so (a client discards Deltas until then).
    const resumed: { sub: Subscription; frame: Uint8Array | null }[] = [];
    for (let i = 0; i < symbols.length; i++) {
      const symbol = symbols[i];
      const f = this.symbols.get(symbol);
      if (f === undefined) {
        this.send_error(session, error_code.unknown_symbol, `unknown symbol '${symbol}'`, symbol);
        continue;
      }
      if (session.transport.entitled !== undefined && !session.transport.entitled(symbol)) {
        this.send_error(session, error_code.not_entitled, `your token does not entitle you to '${symbol}'`, symbol);
        continue;
      }
      const key = view_key(symbol, depth, group);
      const existing = session.subs.get(key);
      if (existing !== undefined) {
        session.set_interval(existing, interval_ms, Date.now());
        statuses.push(status_of(f));
        continue;
      }
      if (session.subs.size >= this.config.subscriptions_per_connection_max) {
        this.send_error(session, error_code.too_many_subscriptions, `at most ${this.config.subscriptions_per_connection_max} subscriptions per connection`, symbol);
        continue;
      }
      const channel = this.channel_for(f, depth, group);
      const sub = new Subscription(session, channel, interval_ms);
      session.add_view(sub, Date.now());
      this.counters.subscriptions++;
      const point = resume?.[i] ?? null;
      if (point === null) {
        statuses.push(status_of(f));
        this.start_sub(session, sub); // when the symbol is live (Fanout.start_sub decides)
        continue;
      }
      this.flush_symbol(f); // the view reaches the current commit point first (a book that is not live is not flushed)
      const decision = this.resume_history.decide(channel, point);
      count_by(this.resumes_total, decision.outcome);
      statuses.push({ ...status_of(f), resume: decision.outcome, resume_depth: depth, ...(group > 1 ? { resume_group: group } : {}) });
      if (decision.outcome === 'resumed') resumed.push({ sub, frame: decision.frame });
      else this.start_sub(session, sub);
    }
    if (statuses.length > 0) this.queue_other(session, this.encoder.status({ symbols: statuses }));
    for (const r of resumed) {
      if (r.frame !== null) this.host.outbound.resumed_delta();
      session.resume_view(r.sub, r.frame, Date.now());
    }
  }

  private unsubscribe(session: Session, symbols: string[], depth: number, group: number): void {
    for (const symbol of symbols) {
      const sub = session.subs.get(view_key(symbol, depth, group));
      if (sub === undefined) {
        this.send_error(session, error_code.not_subscribed, `not subscribed to ${symbol} at depth ${depth}`, symbol);
        continue;
      }
      this.remove_sub(session, sub);
    }
  }

  private resync(session: Session, symbol: string, depth: number, group: number): void {
    const sub = session.subs.get(view_key(symbol, depth, group));
    if (sub === undefined) {
      this.send_error(session, error_code.not_subscribed, `resync: not subscribed to ${symbol} at depth ${depth}`, symbol);
      return;
    }
    this.counters.client_resyncs_total++;
    this.start_sub(session, sub); // a symbol that is not live sends the snapshot when it is again
  }

  /**
   * A new token (docs/PROTOCOL.md §5.9), checked by the transport (src/server): views it no
   * longer covers are dropped, each with Error 11, then Refreshed. Refused: Error 14, nothing changes.
   */
  private refresh(session: Session, token: string): void {
    const transport = session.transport;
    if (transport.refresh === undefined) {
      this.send_error(session, error_code.refresh_refused, 'this feed runs without access control: nothing to refresh', '');
      return;
    }
    void transport.refresh(token).then((outcome) => {
      if (session.closing) return;
      if (!outcome.ok) {
        this.send_error(session, error_code.refresh_refused, `refresh refused: ${outcome.reason}`, '');
        return;
      }
      for (const sub of [...session.subs.values()]) {
        const symbol = sub.channel.symbol_feed.symbol;
        if (outcome.entitled(symbol)) continue;
        this.remove_sub(session, sub);
        this.send_error(session, error_code.not_entitled, `your new token does not entitle you to '${symbol}': unsubscribed`, symbol);
      }
      this.queue_other(session, this.encoder.refreshed({ expires_at_ms: outcome.expires_at_ms }));
    });
  }

  private send_error(session: Session, code: number, message: string, symbol: string): void {
    this.host.send_error(session, code, message, symbol);
  }

  private queue_other(session: Session, frame: Uint8Array): void {
    this.host.queue_other(session, frame);
  }

  private channel_for(f: SymbolFeed, depth: number, group: number): SubscriptionChannel {
    return this.host.channel_for(f, depth, group);
  }

  private flush_symbol(f: SymbolFeed): void {
    this.host.flush_symbol(f);
  }

  private start_sub(session: Session, sub: Subscription): void {
    this.host.start_sub(session, sub);
  }

  private remove_sub(session: Session, sub: Subscription): void {
    this.host.remove_sub(session, sub);
  }
}

/** A symbol's state as a Status entry. */
export function status_of(f: SymbolFeed): SymbolStatusRec {
  return { symbol: f.symbol, state: f.state, epoch: f.epoch, seq: f.committed_seq, engine_silent: f.engine_silent };
}
