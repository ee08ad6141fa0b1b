// Wires the parts together; used by the CLI and by tests that want a whole
// service in-process. Engine and feed meet only through the Bus.
import type { Config } from './config.js';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory_bus.js';
import { Subjects } from './bus/subjects.js';
import { start_engine, type EngineHandle } from './engine/engine.js';
import { distribution, Feed } from './feed/feed.js';
import { ReplayStatusListener } from './feed/replay_status.js';
import { latency_interval_ms, LatencyWindows } from './metrics/latency_windows.js';
import { create_registry, register_feed_metrics, register_hop_histograms } from './metrics/registry.js';
import { kernel_send_queues } from './server/kernel_queues.js';
import { start_server, type ServerHandle } from './server/server.js';
import { start_gateway_server, type GatewayServerHandle } from './server/gateway_server.js';
import { register_gateway_metrics } from './metrics/gateway_metrics.js';
import { admission_refusal_kinds } from './server/auth.js';
import { register_admission_metrics } from './metrics/admission_metrics.js';
import { logger_for } from './util/log.js';

const log = logger_for('app');

/** `paths` 2 (a feed's --nats-paths) with two or more URLs: two connections on distinct nodes (bus/nats_paths.ts). */
export async function open_bus(config: Readonly<Config>, name: string, paths = 1): Promise<Bus> {
  if (config.nats_url === '') return new MemoryBus();
  const options = { url: config.nats_url, name, reconnect_wait_ms: 500, payload_bytes_max: config.batch_bytes_max };
  if (paths >= 2 && config.nats_url.split(',').filter((u) => u.trim() !== '').length >= 2) {
    const { NatsPathsBus } = await import('./bus/nats_paths.js');
    return NatsPathsBus.connect(options);
  }
  // Loaded only for NATS: the embedded bus (npm start) starts without it (~150 ms and ~10 MB of NATS client).
  const { NatsBus } = await import('./bus/nats_bus.js');
  return NatsBus.connect(options);
}

export interface FeedService {
  feed: Feed;
  server: ServerHandle;
  /** The Binance gateway, when --gateway-binance-port is set (>= 0). */
  gateway: GatewayServerHandle | null;
  url: string;
  stop(): Promise<void>;
}

export async function start_feed_service(config: Readonly<Config>, bus: Bus): Promise<FeedService> {
  const feed = new Feed(config, bus);
  const registry = create_registry();
  /** Set once the server listens: the kernel's send queues are read for its port. */
  let listening: ServerHandle | null = null;
  register_hop_histograms(registry, feed.latency);
  register_feed_metrics(registry, feed.counters, {
    symbol_live: () => [...feed.symbols].map(([s, f]) => [s, f.state === 'live'] as [string, boolean]),
    engine_messages: () => [...feed.symbols].map(([s, f]) => [s, f.stats.messages] as [string, number]),
    buffered_bytes: () => feed.buffered_bytes_now(),
    buffered_bytes_peak: () => feed.buffered_bytes_peak(),
    reader_flows: () => feed.reader_flows_now(),
    kernel_send_queues: () => (listening === null ? [] : kernel_send_queues(listening.port).map((q) => q.send_queue_bytes)),
  });
  // /stats latency: since start beside the last 10 s and the last minute.
  const latency_windows = new LatencyWindows(feed.latency);
  const latency_timer = setInterval(() => latency_windows.tick(), latency_interval_ms);
  latency_timer.unref();
  // A replay playing onto this bus (src/record/replay.ts): the page shows it.
  const replay_status = new ReplayStatusListener(bus, new Subjects(config.subject_prefix));
  const stats_sections = () => ({
    latency_us: latency_windows.stats(),
    // The kernel's share of what is in flight (Send-Q per socket), where the platform shows it.
    kernel_send_queue_bytes: listening === null ? null : distribution(kernel_send_queues(listening.port).map((q) => q.send_queue_bytes)),
    replay: replay_status.now(),
  });
  feed.start();
  let server: ServerHandle;
  let gateway: GatewayServerHandle | null = null;
  try {
    server = await start_server({ feed, registry, config, stats_sections });
    listening = server;
    const admission = server.admission;
    register_admission_metrics(registry, {
      reasons: admission_refusal_kinds, refused_by_reason: admission.refused_by_reason,
      token_expired_total: () => admission.token_expired_total, refreshes_total: admission.refreshes_total, jwks: server.jwks,
    });
    if (config.gateway_binance_port >= 0) {
      const listening_server = server;
      gateway = await start_gateway_server(feed, config).catch((err: unknown) => {
        listening_server.close();
        throw err;
      });
      const g = gateway.gateway;
      register_gateway_metrics(registry, g.counters, () => g.stream_subscriptions);
    }
  } catch (err) {
    clearInterval(latency_timer);
    replay_status.close();
    await feed.stop(); // no timers or bus subscriptions left behind by a server that never listened
    throw err;
  }
  let stopped = false;
  return {
    feed,
    server,
    gateway,
    url: `${server.tls ? 'wss' : 'ws'}://${server.host}:${server.port}/ws`,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(latency_timer);
      replay_status.close();
      await feed.stop();
      // Let the going-away closes reach the sockets before the listener goes.
      await new Promise((r) => setTimeout(r, 50));
      server.close();
      gateway?.close();
    },
  };
}

export interface AllInOne {
  bus: Bus;
  engine: EngineHandle;
  feed_service: FeedService;
  stop(): Promise<void>;
}

/** `depthcast all`: engine + feed + page in one process. */
export async function start_all(config: Readonly<Config>): Promise<AllInOne> {
  const bus = await open_bus(config, 'depthcast-all');
  const engine = await start_engine(config, bus);
  let feed_service: FeedService;
  try {
    feed_service = await start_feed_service(config, bus);
  } catch (err) {
    await engine.stop();
    await bus.close();
    throw err;
  }
  log.info({ url: `${feed_service.server.tls ? 'https' : 'http'}://${feed_service.server.host}:${feed_service.server.port}/`, bus: bus.kind }, 'depthcast is up');
  return {
    bus, engine, feed_service,
    async stop() {
      await feed_service.stop();
      await engine.stop();
      await bus.close();
    },
  };
}
