// Starts a real nats-server on a random loopback port with its own store
// directory, and waits for "Server is ready". Tests call stop() (or restart()
// to simulate a broker restart on the same port).
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

function launch(port: number, store_dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-sd', store_dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nats-server did not become ready on port ${port}:\n${output}`));
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

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

export async function start_nats_server(options: { port?: number } = {}): Promise<NatsServerHandle> {
  const port = options.port ?? await free_port();
  const store_dir = mkdtempSync(join(tmpdir(), 'depthcast-nats-'));
  let child = await launch(port, store_dir);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async stop() {
      await kill(child);
      rmSync(store_dir, { recursive: true, force: true });
    },
    async restart() {
      await kill(child);
      child = await launch(port, store_dir);
    },
  };
}
