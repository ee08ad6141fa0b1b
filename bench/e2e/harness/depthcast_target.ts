// depthcast under test: the real Feed and uWS server (src/app.ts
// start_feed_service) ingesting the recorded engine stream from a MemoryBus
// (the embedded bus of `depthcast all`). Publishing tick k writes the stamp
// into every event's ts_engine_ns (as if the engine processed the orders at
// that instant) and publishes the tick's batches; the Feed then ingests,
// updates the views, encodes one Delta per view and fans it out, in its next
// flush. Snapshot requests are answered with an empty book at seq 0, which
// the stream's first tick (the prefilled books) builds on.
import { start_feed_service } from '../../../src/app.js';
import { MemoryBus } from '../../../src/bus/memory_bus.js';
import { bench_config, event_timestamp_offsets, patch_u64, type Recording, serve_empty_snapshots } from './recording.js';
import type { Target } from './target.js';

interface PreparedBatch {
  subject: string;
  bytes: Uint8Array;
  view: DataView;
  ts_offsets: number[];
}

/** `fanout_topics` false: the JS fan-out path (kind depthcast_js), to compare with uWS topics in the same run. */
export async function start_depthcast(r: Recording, fanout_topics = true): Promise<Target> {
  // BENCH_DEPTHCAST_CONFIG='{"reader_probe_interval_ms":0}': config overrides for an experiment (say so beside its numbers).
  const overrides = JSON.parse(process.env.BENCH_DEPTHCAST_CONFIG ?? '{}') as Record<string, unknown>;
  const config = Object.freeze({ ...bench_config(r.meta.orders_per_tick, r.meta.symbols), fanout_topics, ...overrides });
  const bus = new MemoryBus();
  serve_empty_snapshots(bus, config);
  const service = await start_feed_service(config, bus);
  for (let i = 0; i < 400 && !service.feed.health().ready; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!service.feed.health().ready) throw new Error('depthcast target: the feed did not go live');
  const ticks: PreparedBatch[][] = r.batches_by_tick.map((tick) => tick.map((b) => ({
    subject: b.subject, bytes: b.bytes, view: new DataView(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength),
    ts_offsets: event_timestamp_offsets(b.bytes),
  })));
  return {
    kind: fanout_topics ? 'depthcast' : 'depthcast_js',
    port: service.server.port,
    extra_pids: [],
    publish_tick(k, stamp_ns) {
      if (k >= ticks.length) return false; // continuity: the recorded stream cannot loop
      for (const b of ticks[k]) {
        patch_u64(b.view, b.ts_offsets, stamp_ns);
        bus.publish(b.subject, b.bytes);
      }
      return true;
    },
    stats() {
      const s = service.feed.stats() as { connections: number; conflation_episodes: number; slow_closes: number; counters: Record<string, unknown> };
      const c = s.counters;
      return {
        connections: s.connections, conflation_episodes: s.conflation_episodes, slow_closes: s.slow_closes,
        deltas_out_total: c.deltas_out_total, conflated_frames_total: c.conflated_frames_total, closes_total: c.closes_total,
      };
    },
    counts() {
      let probes_sent = 0;
      let pongs_seen = 0;
      for (const s of service.feed.sessions) {
        probes_sent += s.flow.probes.probes_sent;
        pongs_seen += s.flow.probes.pongs_seen;
      }
      // Conflated frames: a window where readers conflated (the feed learning their windows) carries catch-up encodes.
      const conflated_frames = Number((service.feed.stats() as { counters: Record<string, unknown> }).counters.conflated_frames_total);
      return { probes_sent, pongs_seen, conflated_frames };
    },
    async close() {
      await service.stop();
      await bus.close();
    },
  };
}
