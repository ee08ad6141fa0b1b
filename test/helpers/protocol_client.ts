// A deliberately independent client: it knows only docs/PROTOCOL.md and
// schemas/feed.fbs. It decodes with the flatc-generated classes (not our
// codec) and hands every Snapshot and Delta to ViewMirror (./view_mirror.ts),
// the tests' one protocol checker: contiguous seq ranges, the digest after
// every frame recomputed from the documented algorithm, never crossed, trades
// in order. Tests read `violations` and the rebuilt books.
import * as flatbuffers from 'flatbuffers';
import WebSocket from 'ws';
import type { DeltaMsg, SnapshotMsg, TradeAggregateRec, TradeRec } from '../../src/wire/feed_types.js';
import type { L2Level, Side } from '../../src/book/types.js';
import { Body } from '../../src/wire/generated/depthcast/feed/body.js';
import { Delta } from '../../src/wire/generated/depthcast/feed/delta.js';
import { Error as ErrorFrame } from '../../src/wire/generated/depthcast/feed/error.js';
import { Frame } from '../../src/wire/generated/depthcast/feed/frame.js';
import { Level } from '../../src/wire/generated/depthcast/feed/level.js';
import { Snapshot } from '../../src/wire/generated/depthcast/feed/snapshot.js';
import { Status } from '../../src/wire/generated/depthcast/feed/status.js';
import { Subscribe } from '../../src/wire/generated/depthcast/feed/subscribe.js';
import { Resync } from '../../src/wire/generated/depthcast/feed/resync.js';
import type { Trade } from '../../src/wire/generated/depthcast/feed/trade.js';
import type { TradeAggregate } from '../../src/wire/generated/depthcast/feed/trade-aggregate.js';
import { ViewMirror, type MirrorView } from './view_mirror.js';

export class ProtocolClient {
  /** Recoveries and resyncs restart a view: trade ids may skip there (see ViewMirror). */
  readonly mirror: ViewMirror;
  readonly errors: { code: number; message: string; symbol: string }[] = [];
  readonly statuses: { symbol: string; state: number; engine_silent: boolean; resume: number; resume_depth: number; resume_group: number }[] = [];
  /** Problems the decoding itself found (text frames, unknown bodies); the mirror adds the protocol's. */
  private readonly own_violations: string[] = [];
  frames = 0;
  close_code: number | null = null;
  private ws!: WebSocket;

  /** `mirror`: the books of an earlier connection, kept (a client that reconnects and resumes its views). */
  private constructor(mirror?: ViewMirror) {
    this.mirror = mirror ?? new ViewMirror(() => performance.now(), true);
  }

  static async connect(url: string, options: { mirror?: ViewMirror } = {}): Promise<ProtocolClient> {
    const c = new ProtocolClient(options.mirror);
    c.ws = new WebSocket(url);
    c.ws.binaryType = 'nodebuffer';
    c.ws.on('message', (data: Buffer, is_binary: boolean) => {
      if (!is_binary) c.own_violations.push('text frame from server');
      c.on_frame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    c.ws.on('close', (code) => { c.close_code = code; });
    await new Promise<void>((resolve, reject) => {
      c.ws.once('open', () => resolve());
      c.ws.once('error', reject);
    });
    return c;
  }

  get socket(): WebSocket {
    return this.ws;
  }

  get violations(): string[] {
    return [...this.own_violations, ...this.mirror.violations];
  }

  /** `resume`: the raw resume vectors (any lengths, so tests can send malformed ones). */
  subscribe(symbols: string[], depth: number, interval_ms = 0, resume?: { epochs: number[]; seqs: number[] }, group = 0): void {
    const b = new flatbuffers.Builder(256);
    const syms = Subscribe.createSymbolsVector(b, symbols.map((s) => b.createString(s)));
    const epochs = resume === undefined ? 0 : Subscribe.createResumeEpochsVector(b, resume.epochs.map(BigInt));
    const seqs = resume === undefined ? 0 : Subscribe.createResumeSeqsVector(b, resume.seqs.map(BigInt));
    const sub = Subscribe.createSubscribe(b, syms, depth, interval_ms, epochs, seqs, group);
    b.finish(Frame.createFrame(b, Body.Subscribe, sub));
    this.ws.send(b.asUint8Array().slice());
  }

  resync(symbol: string, depth: number, group = 0): void {
    const b = new flatbuffers.Builder(64);
    const r = Resync.createResync(b, b.createString(symbol), depth, group);
    b.finish(Frame.createFrame(b, Body.Resync, r));
    this.ws.send(b.asUint8Array().slice());
  }

  send_raw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  close(): void {
    this.ws.close();
  }

  book(symbol: string, depth: number, group = 1): MirrorView | undefined {
    return this.mirror.view(symbol, depth, group);
  }

  /** The rebuilt book as sorted arrays, best first (for comparison with the engine). */
  sorted(symbol: string, depth: number, group = 1): { bids: [number, number, number][]; asks: [number, number, number][] } {
    return this.book(symbol, depth, group)?.sorted() ?? { bids: [], asks: [] };
  }

  private on_frame(bytes: Uint8Array): void {
    this.frames++;
    const frame = Frame.getRootAsFrame(new flatbuffers.ByteBuffer(bytes));
    switch (frame.bodyType()) {
      case Body.Snapshot: this.mirror.on_msg(snapshot_msg(frame.body(new Snapshot()) as Snapshot)); break;
      case Body.Delta: this.mirror.on_msg(delta_msg(frame.body(new Delta()) as Delta)); break;
      case Body.Error: {
        const e = frame.body(new ErrorFrame()) as ErrorFrame;
        this.errors.push({ code: e.code(), message: e.message() ?? '', symbol: e.symbol() ?? '' });
        break;
      }
      case Body.Status: {
        const s = frame.body(new Status()) as Status;
        for (let i = 0; i < s.symbolsLength(); i++) {
          const st = s.symbols(i)!;
          this.statuses.push({ symbol: st.symbol()!, state: st.state(), engine_silent: st.engineSilent(), resume: st.resume(), resume_depth: st.resumeDepth(), resume_group: st.resumeGroup() });
        }
        break;
      }
      case Body.Heartbeat:
      case Body.Pong:
        break;
      default:
        this.own_violations.push(`unexpected body type ${frame.bodyType()}`);
    }
  }
}

// ---- generated classes → the protocol's records (int64 as numbers: exact below 2^53) ----

function levels(n: number, get: (i: number, into: Level) => Level | null): L2Level[] {
  const out: L2Level[] = [];
  const level = new Level();
  for (let i = 0; i < n; i++) {
    get(i, level);
    out.push({ price: Number(level.price()), size: Number(level.size()), orders: level.orders() });
  }
  return out;
}

function trades(n: number, get: (i: number) => Trade | null): TradeRec[] {
  const out: TradeRec[] = [];
  for (let i = 0; i < n; i++) {
    const t = get(i)!;
    out.push({ trade_id: Number(t.tradeId()), price: Number(t.price()), size: Number(t.size()), ts_engine_ns: Number(t.tsEngineNs()), aggressor: t.aggressor() as Side });
  }
  return out;
}

function aggregate(a: TradeAggregate | null): TradeAggregateRec | null {
  if (a === null) return null;
  return {
    count: a.count(), first_trade_id: Number(a.firstTradeId()), last_trade_id: Number(a.lastTradeId()), volume: Number(a.volume()),
    vwap: a.vwap(), high: Number(a.high()), low: Number(a.low()), last: Number(a.last()), buy_volume: Number(a.buyVolume()),
  };
}

function snapshot_msg(s: Snapshot): SnapshotMsg {
  return {
    type: 'snapshot', symbol: s.symbol()!, depth: s.depth(), epoch: Number(s.epoch()), seq: Number(s.seq()), digest: s.digest(),
    tick_size: s.tickSize() ?? '', lot_size: s.lotSize() ?? '', price_decimals: s.priceDecimals(), size_decimals: s.sizeDecimals(),
    bids: levels(s.bidsLength(), (i, l) => s.bids(i, l)), asks: levels(s.asksLength(), (i, l) => s.asks(i, l)),
    ts_engine_ns: Number(s.tsEngineNs()), ts_ingest_ns: Number(s.tsIngestNs()), ts_send_ns: Number(s.tsSendNs()),
    trades: trades(s.tradesLength(), (i) => s.trades(i)), trade_aggregate: aggregate(s.tradeAggregate()),
    ...(s.group() > 1 ? { group: s.group() } : {}),
  };
}

function delta_msg(d: Delta): DeltaMsg {
  return {
    type: 'delta', symbol: d.symbol()!, depth: d.depth(), epoch: Number(d.epoch()), seq_first: Number(d.seqFirst()), seq: Number(d.seq()),
    digest: d.digest(), bids: levels(d.bidsLength(), (i, l) => d.bids(i, l)), asks: levels(d.asksLength(), (i, l) => d.asks(i, l)),
    trades: trades(d.tradesLength(), (i) => d.trades(i)), trade_aggregate: aggregate(d.tradeAggregate()),
    updates_merged: d.updatesMerged(), conflated: d.conflated(),
    ts_engine_ns: Number(d.tsEngineNs()), ts_ingest_ns: Number(d.tsIngestNs()), ts_send_ns: Number(d.tsSendNs()),
    ...(d.group() > 1 ? { group: d.group() } : {}),
    ...(d.missingFirstTradeId() > 0n ? { missing_trades: { first_trade_id: Number(d.missingFirstTradeId()), last_trade_id: Number(d.missingLastTradeId()) } } : {}),
  };
}
