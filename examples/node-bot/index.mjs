// A Node bot on the depthcast SDK: keeps one verified book and prints its mid,
// spread and staleness once a second (one line each, then one line per error).
//
//   node index.mjs [ws://127.0.0.1:8080/ws] [BTC-USD]
//
// Node 20 has no global WebSocket: the bot passes ws's. Where the runtime has
// one (Node 22+, or Node 20 with --experimental-websocket) it uses that.
import { connect } from 'depthcast/client';

const [url = 'ws://127.0.0.1:8080/ws', symbol = 'BTC-USD'] = process.argv.slice(2);
const WebSocket = globalThis.WebSocket ?? (await import('ws')).WebSocket;
const client = connect(url, { WebSocket });
const book = client.subscribe(symbol, { depth: 10 });

client.on('error', (err) => console.error(`error ${err.kind} ${err.code}: ${err.message}`));

/** Ticks (possibly half a tick, for a mid) as a decimal string with one more digit than the instrument's prices. */
function price_of(ticks) {
  const { tick_size, price_decimals } = book.instrument;
  return (ticks * Number(tick_size)).toFixed(price_decimals + 1);
}

setInterval(() => {
  const websocket = globalThis.WebSocket ? 'global WebSocket' : 'ws';
  if (!book.has_snapshot) {
    console.log(`${symbol} ${book.state}: no book yet (${websocket})`);
    return;
  }
  const mid = book.mid();
  const spread = book.spread();
  console.log(`${symbol} ${book.state} seq ${book.seq} epoch ${book.epoch} digest ${book.digest}`
    + ` mid ${mid === undefined ? '-' : price_of(mid)} spread ${spread === undefined ? '-' : price_of(spread)}`
    + ` staleness ${client.staleness_ms().toFixed(0)} ms${client.behind ? ' BEHIND' : ''} (${websocket})`);
}, 1000);

process.on('SIGTERM', () => {
  client.close();
  process.exit(0);
});
