// depthcast/client: the depthcast client SDK, one import for browsers and Node
// (docs/SDK.md). Its cost: ~20 KB minified+gzipped with flatbuffers and the
// wire codec (CI's size check prints the number); latency histograms are the
// opt-in entry depthcast/client/latency (src/client/latency.ts).
//
//   import { connect } from 'depthcast/client';
//   const client = connect('ws://127.0.0.1:8080/ws', { WebSocket });   // Node 20: pass ws's WebSocket
//   const book = client.subscribe('BTC-USD', { depth: 10 });
//   book.on('update', () => render(book.bids, book.asks, book.mid()));
//   client.on('error', (e) => …);   client.counters, client.staleness_ms()
export {
  connect, FeedClient, type FeedClientOptions, type SubscribeOptions, type ClientEvents,
  type LatencySink, type ClientHop, type HopSampleRecorder,
} from './feed_client.js';
export { BookHandle, type BookEvents, type ViewState, type UpdateInfo } from './book_handle.js';
export {
  stale_heartbeats, client_close_stale, type ConnectionState, type WebSocketLike, type WebSocketConstructor,
} from './connection.js';
export { FeedClientError, client_error_code, type ClientCounters, type ClientErrorKind } from './counters.js';
export { error_code, close_code, type ErrorCode } from '../wire/codes.js';
export { ClientBook, type Verdict, type InstrumentInfo, type SnapshotLike, type DeltaLike, type DeltaSource } from './book.js';
export { DecimalFormat } from './decimal_format.js';
export { Backoff } from './backoff.js';
export { seeded_random, type RandomSource } from '../util/random.js';
export { Emitter, type EventMap } from './emitter.js';
export { type TokenOption } from './token_keeper.js';
export type {
  TradeRec, TradeAggregateRec, TradeIdRange, SymbolStateName, SymbolStatusRec, ResumeName, SnapshotMsg, DeltaMsg, StatusMsg,
} from '../wire/feed_types.js';
export { side_bid, side_ask, type L2Level, type Side } from '../book/types.js';
/** @deprecated the same type as L2Level (one level type: {price, size, orders}); kept so existing SDK code compiles. */
export type { L2Level as LevelUpdate } from '../book/types.js';
