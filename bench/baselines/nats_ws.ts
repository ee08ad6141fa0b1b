// Transport floor: nats-server's own WebSocket listener (no TLS, no
// compression, loopback). A publisher process (this one, on the server's core)
// sends the same header-stamped Delta frames as the uWS baseline to subjects
// bench.<SYMBOL>.<depth> over TCP through src/bus's NatsBus; clients speak the
// NATS text protocol over WebSocket (CONNECT, SUB, MSG, PING/PONG) and
// subscribe to every view. nats-server (Go) is one more process on the server
// core; its CPU is counted as server CPU together with this publisher's.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsBus } from '../../src/bus/nats_bus.js';
import type { Recording } from '../e2e/harness/recording.js';
import { binary_frames, stamp_binary, type Target } from '../e2e/harness/target.js';
import { free_port } from '../../src/util/host.js';

/** Subject of a view `SYMBOL|depth`. */
export function nats_subject(view: string): string {
  const [symbol, depth] = view.split('|');
  return `bench.${symbol}.${depth}`;
}


function launch(config_path: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('nats-server', ['-c', config_path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`nats-server not ready:\n${output}`)); }, 10_000);
    const on_data = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Server is ready')) { clearTimeout(timer); resolve(child); }
    };
    child.stdout?.on('data', on_data);
    child.stderr?.on('data', on_data);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`nats-server exited with ${code}:\n${output}`)); });
  });
}

export async function start_nats_ws(r: Recording): Promise<Target> {
  const frames = binary_frames(r);
  const subjects = r.meta.views.map(nats_subject);
  const dir = mkdtempSync(join(tmpdir(), 'depthcast-bench-nats-'));
  const port = await free_port();
  const ws_port = await free_port();
  const config_path = join(dir, 'nats.conf');
  // max_pending: what a slow WebSocket client may have queued before the server cuts it (as a slow consumer).
  writeFileSync(config_path, [
    `listen: "127.0.0.1:${port}"`,
    `store_dir: "${dir}"`,
    'max_pending: 64MB',
    'websocket {',
    `  listen: "127.0.0.1:${ws_port}"`,
    '  no_tls: true',
    '  compression: false',
    '}',
    '',
  ].join('\n'));
  const server = await launch(config_path);
  const bus = await NatsBus.connect({ url: `nats://127.0.0.1:${port}`, name: 'bench-publisher', reconnect_wait_ms: 200 });
  let frame_no = 0;
  return {
    kind: 'nats',
    port: ws_port,
    extra_pids: server.pid === undefined ? [] : [server.pid],
    publish_tick(k, stamp_ns) {
      for (const f of frames[k % frames.length]) {
        stamp_binary(f.buf, stamp_ns, k, frame_no++);
        bus.publish(subjects[f.view], f.buf);
      }
      return true;
    },
    stats: () => ({ frames_published: frame_no }),
    async close() {
      await bus.close();
      await new Promise<void>((resolve) => {
        if (server.exitCode !== null) return resolve();
        server.once('exit', () => resolve());
        server.kill('SIGTERM');
        setTimeout(() => server.kill('SIGKILL'), 3000).unref();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
