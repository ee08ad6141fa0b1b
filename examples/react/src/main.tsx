// A ladder of one book with useBook. Open as /?feed=ws://HOST:PORT/ws&symbol=BTC-USD.
import { createRoot } from 'react-dom/client';
import { connect } from 'depthcast/client';
import { FeedProvider, useBook } from './use_book.js';
import './ladder.css';

const params = new URLSearchParams(location.search);
const feed = params.get('feed') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
const symbol = params.get('symbol') ?? 'BTC-USD';
const client = connect(feed);

function Ladder({ symbol, depth }: { symbol: string; depth: number }) {
  const book = useBook(symbol, { depth });
  if (book === null) return <p id="status">connecting to {feed}…</p>;
  const { handle } = book;
  const row = (side: 'bid' | 'ask', l: { price: number; size: number; orders: number }) => (
    <tr key={`${side}${l.price}`} data-side={side} data-price={l.price} data-size={l.size} data-orders={l.orders}>
      <td>{handle.format_price(l.price)}</td>
      <td>{handle.format_size(l.size)}</td>
      <td>{l.orders}</td>
    </tr>
  );
  return (
    <>
      <h1>{symbol} — depthcast</h1>
      <p id="status">{book.state} · seq {book.seq}</p>
      <table id="book" data-symbol={symbol} data-seq={book.seq} data-epoch={book.epoch} data-digest={book.digest} data-state={book.state}>
        <thead><tr><th>price</th><th>size</th><th>orders</th></tr></thead>
        <tbody>
          {[...book.asks].reverse().map((l) => row('ask', l))}
          {book.bids.map((l) => row('bid', l))}
        </tbody>
      </table>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <FeedProvider client={client}>
    <Ladder symbol={symbol} depth={10} />
  </FeedProvider>,
);
