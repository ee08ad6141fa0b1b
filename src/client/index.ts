// The depthcast client SDK: one import for browsers and Node.
//
//   import { connect } from 'depthcast/src/client/index.js';
//   const client = connect('ws://127.0.0.1:8080/ws', { WebSocket });   // Node: pass ws's WebSocket
//   const book = client.subscribe('BTC-USD', { depth: 10 });
//   book.on('update', () => render(book.bids, book.asks, book.mid()));
//   client.on('error', (e) => …);   client.counters, client.hops.percentiles('engine_to_receive')
export { connect, FeedClient, type FeedClientOptions, type SubscribeOptions, type ClientEvents } from './feed_client.js';
export { BookHandle, type BookEvents, type ViewState, type UpdateInfo } from './book_handle.js';
export {
  stale_heartbeats, client_close_stale, type ConnectionState, type WebSocketLike, type WebSocketConstructor,
} from './connection.js';
export { FeedClientError, type ClientCounters, type ClientErrorKind } from './counters.js';
export { ClientBook, type Verdict, type InstrumentInfo } from './book.js';
export { DecimalFormat } from './decimal_format.js';
export { Backoff } from './backoff.js';
export { seeded_random, type RandomSource } from '../util/random.js';
export { Emitter } from './emitter.js';
export { type TokenOption } from './token_keeper.js';
export { HopHistograms, client_hops, type HopName, type HopPercentiles } from '../metrics/hop_histograms.js';
export type {
  TradeRec, TradeAggregateRec, SymbolStateName, SnapshotMsg, DeltaMsg, StatusMsg,
} from '../wire/feed_types.js';
export { side_bid, side_ask, type L2Level, type Side } from '../book/types.js';
/** @deprecated the same type as L2Level (one level type: {price, size, orders}); kept so existing SDK code compiles. */
export type { L2Level as LevelUpdate } from '../book/types.js';
