// "This client's view shows the engine's book": what a test waits for once
// the engine has paused or stopped, for any client of the tests (the
// mirror's MirrorView, a RawClient's ClientBook, the SDK's BookHandle).
//
// Not "the view reached the engine's last seq": a version of the book that
// changes nothing in a view sends no frame (PROTOCOL.md §5.2). When the last
// events of a feed update net to no level change (the seeded engine adds
// ETH-USD order 2025 at seq 3589 and cancels it at 3590), even the full
// book's view stays at an earlier seq for good, and a wait for the engine's
// seq times out (grouped_views failed CI so at 009435f). What a client can
// see is the engine's book, in the engine's epoch, at a seq no later than the
// engine's; the client that holds the view verified every frame that built
// it (ranges, digests), and the tests assert that separately.
//
// Cost: a comparison of the two books' levels per call (tests poll it).
import type { L2Level } from '../../src/book/types.js';
import { rows } from './raw_client.js';
import { MirrorView } from './view_mirror.js';

type Rows = [number, number, number][];

/** A book as the engine had it (an L2Snapshot, or a recording's book_at). */
export interface EngineBook { readonly epoch: number; readonly seq: number; readonly bids: readonly L2Level[]; readonly asks: readonly L2Level[] }

/** One client's view of one book. */
export type ClientView = MirrorView | EngineBook;

function view_rows(view: ClientView): { bids: Rows; asks: Rows } {
  return view instanceof MirrorView ? view.sorted() : { bids: rows(view.bids), asks: rows(view.asks) };
}

const same = (a: Rows, b: Rows) => a.length === b.length && a.every((r, i) => r[0] === b[i][0] && r[1] === b[i][1] && r[2] === b[i][2]);

/** The view (of `depth` levels per side, 0 = all) equals the engine's book: its epoch, its top levels, at a seq no later than its. */
export function at_engine_book(view: ClientView | undefined, engine: EngineBook, depth = 0): boolean {
  if (view === undefined || view.epoch !== engine.epoch || view.seq > engine.seq) return false;
  const got = view_rows(view);
  return same(got.bids, rows(engine.bids, depth)) && same(got.asks, rows(engine.asks, depth));
}

