// Runs `depthcast <command>` as a real child process (node --import tsx
// src/bin/depthcast.ts), so tests can kill it, freeze it (SIGSTOP/SIGCONT),
// send SIGTERM, and start it again on the same port.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { wait_for } from './service.js';

export { free_port } from './nats_server.js';

const repo_root = fileURLToPath(new URL('../..', import.meta.url));

export interface DepthcastProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** stdout and stderr so far (pino JSON lines). */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL if still running, and wait for the exit. */
  kill(): Promise<void>;
}

/**
 * Starts `depthcast feed|all` on `port` and resolves once /health answers
 * (200 or 503: listening). `args` are extra CLI flags.
 */
export async function spawn_depthcast(command: 'feed' | 'all', port: number, args: string[]): Promise<DepthcastProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/depthcast.ts', command, '--port', String(port), '--no-ui', ...args], {
    cwd: repo_root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let gone = false;
  void exited.then(() => { gone = true; });
  const handle: DepthcastProcess = {
    child, port, exited,
    output: () => out,
    signal: (sig) => { if (!gone) child.kill(sig); },
    async kill() {
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
  };
  try {
    await wait_for(`depthcast ${command} listening on ${port}`, async () => {
      if (gone) throw new Error(`depthcast ${command} exited early:\n${out}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        await res.arrayBuffer();
        return true;
      } catch {
        return false;
      }
    }, 20_000, 50);
  } catch (err) {
    await handle.kill();
    throw err;
  }
  return handle;
}
