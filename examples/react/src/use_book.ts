// useBook(symbol, { depth }): the verified book of one view, as React state.
//
// The client comes from <FeedProvider> (one connection for the whole app). The
// hook subscribes in an effect (and unsubscribes when the component goes or
// the view changes), and reads the book through useSyncExternalStore, so a
// render sees one consistent version: levels and the seq they belong to.
import { createContext, createElement, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { BookHandle, FeedClient, L2Level, SubscribeOptions, ViewState } from 'depthcast/client';

const FeedContext = createContext<FeedClient | null>(null);

export function FeedProvider({ client, children }: { client: FeedClient; children: ReactNode }) {
  return createElement(FeedContext.Provider, { value: client }, children);
}

/** What a component renders: one version of the book. */
export interface BookView {
  handle: BookHandle;
  state: ViewState;
  seq: number;
  epoch: number;
  digest: number;
  bids: readonly L2Level[];
  asks: readonly L2Level[];
}

export function useBook(symbol: string, options: SubscribeOptions = {}): BookView | null {
  const client = useContext(FeedContext);
  if (client === null) throw new Error('useBook needs a <FeedProvider client={connect(url)}> above it');
  const { depth = 10, interval_ms = 0, group = 1 } = options;
  const [handle, set_handle] = useState<BookHandle | null>(null);

  useEffect(() => {
    const book = client.subscribe(symbol, { depth, interval_ms, group });
    set_handle(book);
    return () => {
      client.unsubscribe(book);
      set_handle(null);
    };
  }, [client, symbol, depth, interval_ms, group]);

  const subscribe = useCallback((changed: () => void) => {
    if (handle === null) return () => {};
    handle.on('update', changed);
    handle.on('state', changed);
    return () => {
      handle.off('update', changed);
      handle.off('state', changed);
    };
  }, [handle]);

  // useSyncExternalStore wants the same object until something changed.
  const last = useRef<BookView | null>(null);
  const snapshot = useCallback((): BookView | null => {
    if (handle === null || !handle.has_snapshot) return null;
    const v = last.current;
    if (v !== null && v.handle === handle && v.seq === handle.seq && v.epoch === handle.epoch && v.state === handle.state) return v;
    last.current = {
      handle, state: handle.state, seq: handle.seq, epoch: handle.epoch, digest: handle.digest, bids: handle.bids, asks: handle.asks,
    };
    return last.current;
  }, [handle]);

  return useSyncExternalStore(subscribe, snapshot);
}
