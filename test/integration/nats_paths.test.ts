// A feed on two NATS paths (src/bus/nats_paths.ts) into a real 3-node
// nats-server cluster with the stream replicated (R3), issue 24:
// 1. one path loses messages (bursts, as a NATS slow consumer drops them,
//    injected by a wrapper beside the real connection) and the other path
//    lags a little, so every loss is a gap held for the other path: clients
//    see nothing of it;
// 2. the node one path is on is killed, then (after restarting it) the stream
//    leader, then a node that is both, restarting each before the next.
// Clients at depth 10 and full depth, and a conflating slow reader (through a
// throttling proxy), must see no Snapshot past their first, no Recovering,
// no gap between frames longer than 250 ms beyond the spacing they saw before
// the faults (plus any stall of this process, measured and printed), and
// every frame's digest right (test/helpers/view_mirror.ts); at the end every
// book equals the engine's. The engine publishes once, from the one node
// never killed (its own node's loss: engine_node_loss.test.ts). The rig and
// the measures: test/helpers/paths_rig.ts.
import { describe, expect, it } from 'vitest';
import type { BusHandler, BusSubscription } from '../../src/bus/bus.js';
import type { PathLink } from '../../src/bus/nats_paths.js';
import { FaultBus } from '../helpers/fault_bus.js';
import { cluster_suite, expect_nothing_reached_clients, NodeKills, start_rig } from '../helpers/paths_rig.js';
import { wait_for } from '../helpers/service.js';

/** One path's connection, disturbed: drops bursts of live batches (`drop`), or delivers them `delay_ms` late. */
class DisturbedPath extends FaultBus implements PathLink {
  constructor(private readonly link: PathLink, private readonly delay_ms: number) {
    super(link);
  }

  get server(): string {
    return this.link.server;
  }

  override subscribe(subject: string, handler: BusHandler): BusSubscription {
    if (this.delay_ms === 0) return super.subscribe(subject, handler);
    return this.link.subscribe(subject, (data, s) => { setTimeout(() => handler(data, s), this.delay_ms); });
  }
}

describe('a feed on two NATS paths', () => {
  const suite = cluster_suite();
  const closers = suite.closers;

  it('one path drops bursts of batches: the other fills every gap, clients see nothing', async () => {
    const t0 = performance.now();
    // Path 0 drops 3 batches in every 40 (a slow consumer's burst); path 1 delivers 3 ms late, so each loss is a gap
    // on the path that came first, held until path 1 brings the batches.
    const rig = await start_rig(suite.cluster(), 'paths_drop', closers, {
      open_link: (path, link) => {
        const disturbed = new DisturbedPath(link, path === 1 ? 3 : 0);
        if (path === 0) disturbed.decide = (subject, i) => (subject.includes('.events.') && i % 40 >= 37 ? 'drop' : 'deliver');
        return disturbed;
      },
    });
    await wait_for('gaps held and filled by the other path', () =>
      [...rig.feed.feed.symbols.values()].reduce((n, f) => n + f.stats.path_hold_fills, 0) >= 30, 20_000);
    const stats = await expect_nothing_reached_clients(rig);
    process.stdout.write(`nats paths, one path dropping: ${JSON.stringify({ ...stats, seconds: Math.round(performance.now() - t0) / 1000 })}\n`);
    expect(stats.recoveries).toBe(0);
    expect(stats.stream_fills).toBe(0);
    expect(stats.path_hold_fills).toBe(stats.path_holds);
    expect(stats.duplicates_skipped).toBeGreaterThan(stats.batches / 2);
    expect(stats.client_resyncs).toBe(0);
  }, 60_000);

  it('the feed\'s node, the stream leader, then a node that is both are killed: clients see nothing', async () => {
    const t0 = performance.now();
    const rig = await start_rig(suite.cluster(), 'paths_kill', closers);
    const kills = await NodeKills.open(suite.cluster(), rig, closers);
    const engine_node = kills.engine_node();
    await kills.measure_normal();
    // 1. A node one path is on, not leading the stream.
    const lead1 = await kills.leader();
    await kills.kill_and_restart(kills.feed_nodes().find((n) => n !== lead1 && n !== engine_node)!, 'a path\'s node');
    // 2. The stream leader, on no path's node.
    const free = suite.cluster().nodes.map((n) => n.name).find((n) => n !== engine_node && !kills.feed_nodes().includes(n))!;
    await kills.lead_on([free]);
    await kills.kill_and_restart(free, 'stream leader');
    // 3. A node that is both: a path's node leading the stream.
    await kills.lead_on(kills.feed_nodes().filter((n) => n !== engine_node));
    await kills.kill_and_restart(await kills.leader(), 'path node and stream leader');
    const stats = await expect_nothing_reached_clients(rig);
    process.stdout.write(`nats paths, node kills: ${JSON.stringify({ ...kills.report() as object, ...stats,
      seconds: Math.round(performance.now() - t0) / 1000 })}\n`);
    expect(stats.recoveries).toBe(0);
    expect(stats.client_resyncs).toBe(0);
    kills.expect_gaps_within_goal();
  }, 120_000);
});
