// Soak: nats-server, `depthcast engine` and `depthcast feed` as child
// processes, the engine at a fixed order rate for a bounded time, with SDK
// clients (src/client over `ws`) joining and leaving all the time, some
// pausing their reads long enough to be conflated. Every few seconds it
// samples the feed's RSS and V8 heap (/metrics), connections, views and book
// sizes (/stats), and the engine's RSS, and writes them to a JSON file. Then
// it says whether the feed's RSS was flat after warm-up: RSS saws up and down
// with V8's major GCs, so the verdict is on the per-minute floor (least-squares
// slope, MB per minute). The engine runs apart so that its own growth (resting
// orders) does not count against the feed. Every client verifies every frame;
// any digest mismatch, range break or crossed book fails the run.
//
//   npx tsx scripts/soak.ts [--minutes 10] [--rate 2000] [--clients 100] [--churn-per-s 5]
//                           [--slow-fraction 0.05] [--sample-s 5] [--out artifacts/soak.json]
//
// Caveat: the clients run in this process, on the same 2 cores as the server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { connect, seeded_random, type FeedClient } from '../src/client/index.js';
import { free_port, process_rss_bytes } from '../src/util/host.js';
import { least_squares_slope } from '../bench/lib.js';

interface Options {
  minutes: number;
  rate: number;
  clients: number;
  churn_per_s: number;
  slow_fraction: number;
  sample_s: number;
  out: string;
  seed: number;
}

function parse_args(argv: readonly string[]): Options {
  const o: Options = { minutes: 10, rate: 2000, clients: 100, churn_per_s: 5, slow_fraction: 0.05, sample_s: 5, out: 'artifacts/soak.json', seed: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const raw = argv[i + 1];
    const key = flag.replace(/^--/, '').replace(/-/g, '_') as keyof Options;
    if (!(key in o) || raw === undefined) throw new Error(`unknown option or missing value: ${flag} (see the header of scripts/soak.ts)`);
    if (key === 'out') o.out = raw;
    else {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: expected a non-negative number, got '${raw}'`);
      o[key] = n;
    }
  }
  return o;
}

interface Sample {
  t_s: number;
  feed_rss_mb: number;
  feed_heap_used_mb: number;
  engine_rss_mb: number;
  book_levels: number;
  connections: number;
  subscriptions: number;
  conflating: number;
  frames_out: number;
  clients_open: number;
  soak_rss_mb: number;
}

function rss_mb_of(pid: number): number {
  return (process_rss_bytes(pid) ?? 0) / 2 ** 20;
}

/** The lowest RSS and heap-used samples in each minute of the run (the last minute only if it is whole). */
function per_minute_floor(samples: readonly Sample[], sample_s: number): { minute: number; rss_mb: number; heap_used_mb: number }[] {
  const by_minute = new Map<number, { rss_mb: number; heap_used_mb: number; n: number }>();
  for (const s of samples) {
    const minute = Math.floor(s.t_s / 60);
    const f = by_minute.get(minute) ?? { rss_mb: Infinity, heap_used_mb: Infinity, n: 0 };
    by_minute.set(minute, { rss_mb: Math.min(f.rss_mb, s.feed_rss_mb), heap_used_mb: Math.min(f.heap_used_mb, s.feed_heap_used_mb), n: f.n + 1 });
  }
  const whole = Math.max(1, Math.floor(60 / sample_s) - 1);
  return [...by_minute].filter(([, f]) => f.n >= whole).map(([minute, f]) => ({ minute, rss_mb: f.rss_mb, heap_used_mb: f.heap_used_mb }));
}

const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'];
const depths = [10, 50, 0];

async function main(): Promise<void> {
  const o = parse_args(process.argv.slice(2));
  const random = seeded_random(o.seed);
  const root = fileURLToPath(new URL('..', import.meta.url));
  const children: ChildProcess[] = [];
  const nats_port = await free_port();
  const nats_dir = mkdtempSync(join(tmpdir(), 'depthcast-soak-nats-'));
  const nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(nats_port), '-sd', nats_dir], { stdio: 'ignore' });
  children.push(nats);
  const nats_url = `nats://127.0.0.1:${nats_port}`;
  const depthcast = (args: string[]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/depthcast.ts', ...args, '--log-level', 'warn'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(child);
    return child;
  };
  const engine = depthcast(['engine', '--nats-url', nats_url, '--rate', String(o.rate), '--symbols', symbols.join(','), '--seed', String(o.seed)]);
  const port = await free_port();
  const server = depthcast(['feed', '--nats-url', nats_url, '--port', String(port), '--no-ui', '--symbols', symbols.join(',')]);
  let server_exit: number | null | undefined;
  server.once('exit', (code) => { server_exit = code; });
  const stop_all = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(nats_dir, { recursive: true, force: true });
  };
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (server_exit !== undefined) throw new Error(`depthcast feed exited during start-up (${server_exit})`);
    try {
      if ((await fetch(`${base}/health`)).status === 200) break;
    } catch { /* not up yet */ }
    if (i > 600) {
      await stop_all();
      throw new Error('depthcast feed did not become healthy');
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  // The socket each client opened first, so that slow clients can stop reading for a while.
  // The SDK opens its socket inside connect(): the newest socket after connect() returns is that client's.
  const sockets = new WeakMap<FeedClient, WebSocket>();
  let newest_socket: WebSocket | null = null;
  const TrackedWebSocket = function make(url: string, protocols?: string | string[]): WebSocket {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
    newest_socket = ws;
    return ws;
  };
  const clients = new Set<FeedClient>();
  const totals = { opened: 0, closed: 0, digest_mismatches: 0, range_breaks: 0, crossed_books: 0, invalid_frames: 0, decode_errors: 0, frames: 0, conflated_frames: 0, reconnects: 0, slow_pauses: 0 };
  const fold = (c: FeedClient) => {
    const k = c.counters;
    totals.digest_mismatches += k.digest_mismatches;
    totals.range_breaks += k.range_breaks;
    totals.crossed_books += k.crossed_books;
    totals.invalid_frames += k.invalid_frames;
    totals.decode_errors += k.decode_errors;
    totals.frames += k.frames;
    totals.conflated_frames += k.conflated_frames;
    totals.reconnects += k.reconnects;
  };
  const open_client = () => {
    const c = connect(`ws://127.0.0.1:${port}/ws`, { WebSocket: TrackedWebSocket as never, random });
    if (newest_socket !== null) sockets.set(c, newest_socket);
    const views = 1 + Math.floor(random() * 3);
    for (let v = 0; v < views; v++) {
      const interval_ms = random() < 0.2 ? 250 : 0;
      c.subscribe(symbols[Math.floor(random() * symbols.length)], { depth: depths[Math.floor(random() * depths.length)], interval_ms });
    }
    clients.add(c);
    totals.opened++;
  };
  const close_client = (c: FeedClient) => {
    fold(c);
    c.close();
    clients.delete(c);
    totals.closed++;
  };

  process.stdout.write(`soak: ${o.minutes} min at ${o.rate} orders/s, ~${o.clients} clients, ${o.churn_per_s} join+leave/s; feed pid ${server.pid}, engine pid ${engine.pid}\n`);
  for (let i = 0; i < o.clients; i++) open_client();

  const samples: Sample[] = [];
  const t0 = Date.now();
  const end = t0 + o.minutes * 60_000;
  let next_sample = t0;
  let churn_carry = 0;
  while (Date.now() < end && server_exit === undefined) {
    await new Promise((r) => setTimeout(r, 200));
    churn_carry += o.churn_per_s / 5;
    for (; churn_carry >= 1; churn_carry--) {
      const list = [...clients];
      if (list.length > 0) close_client(list[Math.floor(random() * list.length)]);
      open_client();
      // A few clients stop reading for a while: the server conflates them, then they catch up.
      if (random() < o.slow_fraction && list.length > 0) {
        const victim = list[Math.floor(random() * list.length)];
        const ws = sockets.get(victim) as unknown as { _socket?: { pause(): void; resume(): void } } | undefined;
        if (ws?._socket) {
          totals.slow_pauses++;
          ws._socket.pause();
          setTimeout(() => ws._socket?.resume(), 500 + random() * 1000);
        }
      }
    }
    if (Date.now() >= next_sample) {
      next_sample += o.sample_s * 1000;
      try {
        const stats = await (await fetch(`${base}/stats`)).json() as {
          connections: number; counters: { subscriptions: number; deltas_out_total: number; conflating_connections: number };
          symbols: Record<string, { bid_levels: number; ask_levels: number }>;
        };
        const metrics = await (await fetch(`${base}/metrics`)).text();
        const heap = /^depthcast_nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics);
        samples.push({
          t_s: Math.round((Date.now() - t0) / 1000), feed_rss_mb: Math.round(rss_mb_of(server.pid!) * 10) / 10,
          feed_heap_used_mb: heap ? Math.round(Number(heap[1]) / 2 ** 20 * 10) / 10 : -1, engine_rss_mb: Math.round(rss_mb_of(engine.pid!) * 10) / 10,
          book_levels: Object.values(stats.symbols).reduce((n, x) => n + x.bid_levels + x.ask_levels, 0),
          connections: stats.connections, subscriptions: stats.counters.subscriptions, conflating: stats.counters.conflating_connections,
          frames_out: stats.counters.deltas_out_total, clients_open: clients.size, soak_rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
        });
        const s = samples[samples.length - 1];
        process.stdout.write(`  t=${s.t_s}s feed rss=${s.feed_rss_mb} MB heap=${s.feed_heap_used_mb} MB, engine rss=${s.engine_rss_mb} MB, `
          + `levels=${s.book_levels} connections=${s.connections} views=${s.subscriptions} conflating=${s.conflating}\n`);
      } catch (err) {
        process.stdout.write(`  sample failed: ${(err as Error).message}\n`);
      }
    }
  }
  for (const c of [...clients]) close_client(c);
  const died = server_exit !== undefined;
  await stop_all();

  // Warm-up: the first fifth of the run, at least 30 s (JIT, pools and the books grow to their working size).
  const warmup_s = Math.max(30, (o.minutes * 60) / 5);
  const after = samples.filter((s) => s.t_s >= warmup_s);
  const slope_mb_per_min = least_squares_slope(after.map((s) => s.t_s / 60), after.map((s) => s.feed_rss_mb));
  const rss_after = after.map((s) => s.feed_rss_mb);
  // RSS saws up and down with V8's major GCs; its floor (the lowest sample of each minute) shows a leak more clearly.
  const floors = per_minute_floor(after, o.sample_s);
  const floor_slope = least_squares_slope(floors.map((f) => f.minute), floors.map((f) => f.rss_mb));
  const heap_floor_slope = least_squares_slope(floors.map((f) => f.minute), floors.map((f) => f.heap_used_mb));
  const heaps = after.map((x) => x.feed_heap_used_mb);
  const summary = {
    warmup_s,
    feed_heap_used_mb_min_max_after_warmup: heaps.length ? [Math.min(...heaps), Math.max(...heaps)] : null,
    book_levels_first_last: [samples[0]?.book_levels ?? null, samples.at(-1)?.book_levels ?? null],
    engine_rss_mb_first_last: [samples[0]?.engine_rss_mb ?? null, samples.at(-1)?.engine_rss_mb ?? null],
    samples_after_warmup: after.length,
    rss_mb_at_warmup_end: rss_after[0] ?? null,
    rss_mb_last: rss_after.at(-1) ?? null,
    rss_mb_min_after_warmup: rss_after.length ? Math.min(...rss_after) : null,
    rss_mb_max_after_warmup: rss_after.length ? Math.max(...rss_after) : null,
    slope_mb_per_min: Math.round(slope_mb_per_min * 100) / 100,
    rss_floor_mb_per_minute: floors,
    floor_slope_mb_per_min: Math.round(floor_slope * 100) / 100,
    heap_floor_slope_mb_per_min: Math.round(heap_floor_slope * 100) / 100,
    // Flat: the trend of the per-minute floor, over the post-warm-up span, is under 5% of RSS (or 5 MB).
    flat: floors.length >= 2 && Math.abs(floor_slope) * (floors.at(-1)!.minute - floors[0].minute) < Math.max(5, 0.05 * floors[0].rss_mb),
    server_died: died,
    clients: totals,
  };
  const verified = totals.digest_mismatches + totals.range_breaks + totals.crossed_books + totals.invalid_frames + totals.decode_errors === 0;
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify({ options: o, summary, samples }, null, 2) + '\n');
  process.stdout.write(`soak: RSS after warm-up ${summary.rss_mb_at_warmup_end} → ${summary.rss_mb_last} MB (min ${summary.rss_mb_min_after_warmup}, max ${summary.rss_mb_max_after_warmup}), `
    + `slope ${summary.slope_mb_per_min} MB/min, per-minute floor ${floors.map((f) => f.rss_mb).join(' ')} MB (slope ${summary.floor_slope_mb_per_min} MB/min), `
    + `heap-used floor ${floors.map((f) => f.heap_used_mb).join(' ')} MB (slope ${summary.heap_floor_slope_mb_per_min} MB/min): ${summary.flat ? 'flat' : 'NOT flat'}; clients opened ${totals.opened}, frames ${totals.frames}, `
    + `conflated ${totals.conflated_frames}, verification ${verified ? 'clean' : 'FAILED'}; report ${o.out}\n`);
  process.exit(!died && verified ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
