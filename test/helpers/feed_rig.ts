// What feed unit tests start (an engine, a Feed, the in-process bus) and how
// they stop it: the engine first (no more events), then the feed, then the bus.
import type { MemoryBus } from '../../src/bus/memory_bus.js';
import type { EngineHandle } from '../../src/engine/engine.js';
import type { Feed } from '../../src/feed/feed.js';

export interface FeedRigParts { engine: EngineHandle; feed: Feed; bus: MemoryBus }

/** Stops every rig in the list and empties it (afterEach). */
export async function stop_feed_rigs(rigs: FeedRigParts[]): Promise<void> {
  for (const r of rigs.splice(0)) {
    await r.engine.stop();
    await r.feed.stop();
    await r.bus.close();
  }
}
