// The engine's own NATS node killed (issue 24: "any one NATS node"), twice in
// a row with the first restarted in between, in a real 3-node nats-server
// cluster with the stream replicated (R3). The engine publishes once; the
// batches in flight on its node when it dies (and those nats.js drops while
// reconnecting) are lost on both of the feed's paths. The engine sends its
// last batches again once connected elsewhere (src/engine/resend_ring.ts) and
// the feed holds the gap for them (src/feed/path_hold.ts), so:
// 1. the engine's node, also leading the stream, on neither of the feed's paths;
// 2. the engine's node again (where it reconnected: one of the feed's paths),
//    made to lead the stream too: engine, path and stream leader at once.
// Clients at depth 10 and full depth and a conflating slow reader must see no
// Snapshot past their first, no Recovering, no gap between frames longer than
// 250 ms beyond their spacing before the faults (plus this process's measured
// stall), every digest right, and at the end the engine's books.
import { describe, expect, it } from 'vitest';
import { cluster_suite, expect_nothing_reached_clients, NodeKills, start_rig } from '../helpers/paths_rig.js';

describe('the engine\'s NATS node is lost', () => {
  const suite = cluster_suite();
  const closers = suite.closers;

  it('twice in a row (as stream leader, then as a path\'s node and leader): clients see nothing', async () => {
    const t0 = performance.now();
    // The engine starts on the third node (no path's) and falls back to the first, then the second.
    const [n1, n2, n3] = suite.cluster().nodes.map((n) => n.url);
    const rig = await start_rig(suite.cluster(), 'engine_loss', closers, { engine_url: [n3, n1, n2].join(',') });
    const kills = await NodeKills.open(suite.cluster(), rig, closers);
    await kills.measure_normal();
    const first = kills.engine_node();
    expect(kills.feed_nodes()).not.toContain(first);
    await kills.lead_on([first]);
    await kills.kill_and_restart(first, 'engine node and stream leader');
    const resent_first = rig.engine.stats().resent;
    const second = kills.engine_node();
    expect(second).not.toBe(first);
    expect(kills.feed_nodes()).toContain(second);
    await kills.lead_on([second]);
    await kills.kill_and_restart(second, 'engine node, a path\'s node and stream leader');
    const resent = rig.engine.stats().resent;
    const stats = await expect_nothing_reached_clients(rig);
    process.stdout.write(`engine node loss: ${JSON.stringify({ ...kills.report() as object, ...stats, resent_first, resent,
      seconds: Math.round(performance.now() - t0) / 1000 })}\n`);
    // Both losses made the engine send its last batches again.
    expect(resent_first).toBeGreaterThan(0);
    expect(resent).toBeGreaterThan(resent_first);
    expect(stats.recoveries).toBe(0);
    expect(stats.client_resyncs).toBe(0);
    kills.expect_gaps_within_goal();
  }, 120_000);
});
