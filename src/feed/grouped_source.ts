// The grouped book of one (symbol, group), shared by that group's views of
// every depth (view_channel.ts): updated from the symbol's book changes once
// per flush, whichever of its views moves first, so the cost of a group is
// one GroupedBook.update per update, not one per view.
// Cost: src/book/grouped_book.ts (per touched bucket, a search and a walk
// over its raw levels); one token compare per view per flush.

import { GroupedBook } from '../book/grouped_book.js';
import type { BookChanges, L2Book } from '../book/l2_book.js';
import type { PriceList } from '../book/ladder.js';
import type { SymbolFeed } from './symbol_feed.js';

export class GroupedSource {
  private readonly grouped: GroupedBook;
  /** The symbol's commit point the grouped book was last moved to, and the grouped changes of that move. */
  private at_seq = -1;
  private at_versions = -1;
  private last: BookChanges | null = null;
  private readonly raw: { bids: PriceList; asks: PriceList } = { bids: null as unknown as PriceList, asks: null as unknown as PriceList };

  constructor(readonly group: number) {
    this.grouped = new GroupedBook(group);
  }

  get book(): L2Book {
    return this.grouped.book;
  }

  /** Rebuilds from the symbol's book (a view restarts: new channel, new epoch, recovery). */
  reset(f: SymbolFeed): void {
    this.grouped.reset_from(f.book);
    this.last = this.grouped.book.take_changes();
    // Nothing changed for the views since: they restart from this book.
    this.last.bids.count = 0;
    this.last.asks.count = 0;
    this.at_seq = f.committed_seq;
    this.at_versions = f.versions;
  }

  /** The grouped changes of the symbol's current flush (its raw changes given), computed once per flush. */
  changes(f: SymbolFeed, changed_bids: PriceList, changed_asks: PriceList): BookChanges {
    if (this.last === null || f.committed_seq !== this.at_seq || f.versions !== this.at_versions) {
      this.raw.bids = changed_bids;
      this.raw.asks = changed_asks;
      this.grouped.update(f.book, this.raw);
      this.last = this.grouped.book.take_changes();
      this.at_seq = f.committed_seq;
      this.at_versions = f.versions;
    }
    return this.last;
  }
}
