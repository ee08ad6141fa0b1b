// Starts a real nats-server on a random loopback port with its own store
// directory, and waits for "Server is ready". Tests call stop() (or restart()
// to simulate a broker restart on the same port, the store kept on disk).
// `jetstream: true` adds -js (the durable event stream); a 3-node cluster is
// in nats_cluster.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { free_port } from '../../src/util/host.js';

export interface NatsServerHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export { free_port } from '../../src/util/host.js';

/** Spawns nats-server with `args` (and -sd store_dir) and resolves once it logs "Server is ready". */
export function launch_nats_server(args: readonly string[], store_dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('nats-server', [...args, '-sd', store_dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nats-server ${args.join(' ')} did not become ready:\n${output}`));
    }, 10_000);
    const on_data = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Server is ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout?.on('data', on_data);
    child.stderr?.on('data', on_data);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${output}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the process is gone. */
export async function kill_nats_server(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

export async function start_nats_server(options: { port?: number; jetstream?: boolean } = {}): Promise<NatsServerHandle> {
  const port = options.port ?? await free_port();
  const store_dir = mkdtempSync(join(tmpdir(), 'depthcast-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port), ...(options.jetstream === true ? ['-js'] : [])];
  const launch = () => launch_nats_server(args, store_dir);
  let child = await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async stop() {
      await kill_nats_server(child);
      rmSync(store_dir, { recursive: true, force: true });
    },
    async restart() {
      await kill_nats_server(child);
      child = await launch();
    },
  };
}
