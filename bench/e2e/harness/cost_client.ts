// The reader side of bench/e2e/client_cost, one kind per process (IPC child),
// so each kind's CPU is its process's own (process.cpuUsage: every thread,
// GC included) and nothing of the other kind's heap or JIT state leaks in.
//   raw         harness/raw_ws.ts: node:net 'data' events (Node streams), a
//               frame-header walk, pings answered with pongs; no payload
//               looked at. What Node's streams and the kernel cost to
//               receive the same bytes.
//   raw_net     the SDK's NodeWebSocket (depthcast/client/node: node:net
//               `onread` into one shared buffer, frames parsed in place,
//               pings answered) with a counting onmessage: the leaner floor.
//   sdk         the SDK (src/client) on `ws`, one FeedClient per connection,
//               one depth-10 view each, with its defaults (no latency
//               histograms: opt-in since depthcast/client/latency): every frame
//               decoded, applied and verified (digest, range, not crossed),
//               Acks as the SDK sends them, pongs by `ws`.
//   sdk_net     the same SDK clients on NodeWebSocket instead of `ws`.
//   sdk_latency the same, recording both latency hops into one shared
//               HopHistograms as loadgen's clients do (the recording's engine
//               stamps are virtual: every sample lands in the overflow
//               bucket, which costs the same as any other).
// After every connection is open and `warmup_s` more, it samples CPU and the
// frames read, waits `window_s`, samples again, and reports. The SDK kinds
// also report their books' checks: any mismatch, break or resync fails the
// bench (a reader that skipped work would look cheap).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { connect, type FeedClient, type WebSocketConstructor } from '../../../src/client/index.js';
import { HopHistograms, client_hops } from '../../../src/metrics/hop_histograms.js';
import { NodeWebSocket } from '../../../src/client/node/index.js';
import { RawWs, opcode_binary } from './raw_ws.js';

export type CostKind = 'raw' | 'raw_net' | 'sdk' | 'sdk_net' | 'sdk_latency';

export interface CostClientResult {
  type: 'result';
  kind: CostKind;
  connections: number;
  window_s: number;
  frames: number;
  cpu_s: number;
  /** Of cpu_s, the kernel's share (system time: socket reads and writes, epoll). */
  cpu_system_s: number;
  event_loop_utilization: number;
  /** Acks the SDK sent in the window. */
  acks_sent: number;
  /** SDK kinds: digest mismatches + range breaks + resyncs + decode errors over the whole run (must be 0). */
  check_failures: number;
  views_synced: number;
}

const argv = process.argv.slice(2);
const value = (name: string): string => {
  const i = argv.indexOf(name);
  if (i < 0) throw new Error(`cost_client: ${name} missing`);
  return argv[i + 1];
};

const kind = value('--kind') as CostKind;
const port = Number(value('--port'));
const connections = Number(value('--connections'));
const views = value('--views').split(',');
const warmup_s = Number(value('--warmup-s'));
const window_s = Number(value('--window-s'));
const profile_out = argv.includes('--profile-out') ? value('--profile-out') : '';

let frames = 0;
const sdk_clients: FeedClient[] = [];
let opened = 0;

function open_raw(i: number): void {
  new RawWs({
    host: '127.0.0.1', port, path: `/ws?view=${i % views.length}`, want_payloads: false,
    on_open: () => { opened++; },
    on_message: (_ws, opcode) => { if (opcode === opcode_binary) frames++; },
    on_close: () => {},
  });
}

function open_raw_net(i: number): void {
  const ws = new NodeWebSocket(`ws://127.0.0.1:${port}/ws?view=${i % views.length}`);
  ws.onopen = () => { opened++; };
  ws.onmessage = (event: { data: unknown }) => { if (event.data instanceof Uint8Array) frames++; };
}

class BenchSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { perMessageDeflate: false });
    this.once('open', () => { opened++; });
  }
}

function open_sdk(i: number, hops: HopHistograms | undefined, socket_class: WebSocketConstructor): void {
  const view = i % views.length;
  const client = connect(`ws://127.0.0.1:${port}/ws?view=${view}`, {
    WebSocket: socket_class,
    ...(hops ? { hops } : {}),
    reconnect: false,
  });
  client.subscribe(views[view].split('|')[0], { depth: 10 });
  // NodeWebSocket's onopen is the SDK's: count opened sockets by the client's state instead.
  if (socket_class === NodeWebSocket) client.once('state', (state) => { if (state === 'synced') opened++; });
  sdk_clients.push(client);
}

function sdk_frames(): number {
  let n = 0;
  for (const c of sdk_clients) n += c.counters.snapshots + c.counters.deltas;
  return n;
}

function acks_sent(): number {
  let n = 0;
  for (const c of sdk_clients) n += c.acks_sent;
  return n;
}

const read_frames = (): number => (kind === 'raw' || kind === 'raw_net' ? frames : sdk_frames());
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const hops = kind === 'sdk_latency' ? new HopHistograms(client_hops) : undefined;
  for (let i = 0; i < connections; i++) {
    if (kind === 'raw') open_raw(i);
    else if (kind === 'raw_net') open_raw_net(i);
    else open_sdk(i, hops, kind === 'sdk_net' ? NodeWebSocket : BenchSocket as unknown as WebSocketConstructor);
    if (i % 50 === 49) await sleep(5);
  }
  for (let waited = 0; opened < connections; waited += 10) {
    if (waited > 20_000) throw new Error(`only ${opened}/${connections} connections opened`);
    await sleep(10);
  }
  await sleep(warmup_s * 1000);
  // The profile covers the measured window only (no start-up, no warm-up).
  const session = profile_out === '' ? null : new Session();
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const acks0 = acks_sent();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const frames0 = read_frames();
  await sleep(window_s * 1000);
  const cpu = process.cpuUsage(cpu0);
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profile_out, JSON.stringify(profile));
    session.disconnect();
  }
  const elu = performance.eventLoopUtilization(elu0);
  const counted = read_frames() - frames0;
  let check_failures = 0;
  let views_synced = 0;
  const acks = acks_sent() - acks0;
  for (const c of sdk_clients) {
    const k = c.counters;
    check_failures += k.digest_mismatches + k.range_breaks + k.resyncs + k.decode_errors + k.crossed_books + k.invalid_frames;
    for (const b of c.books()) if (b.state === 'synced') views_synced++;
    c.close();
  }
  const result: CostClientResult = {
    type: 'result', kind, connections, window_s, frames: counted, cpu_s: (cpu.user + cpu.system) / 1e6,
    cpu_system_s: cpu.system / 1e6, event_loop_utilization: Math.round(elu.utilization * 1000) / 1000, acks_sent: acks, check_failures, views_synced,
  };
  process.send?.(result);
  process.disconnect?.();
  setTimeout(() => process.exit(0), 200).unref();
}

main().catch((err: Error) => {
  process.send?.({ type: 'error', message: err.stack ?? err.message });
  process.exitCode = 1;
});
