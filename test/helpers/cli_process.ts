// The depthcast CLI as a user runs it, for tests: one node process per run
// (tsx's loader), so killing it leaves no orphan behind. `run` waits for the
// exit (help, bad flags, one-shot commands); `start` keeps it running and
// collects its output; kill_all() in afterAll.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

const cli = ['--import', 'tsx', 'src/bin/depthcast.ts'];
const children: ChildProcess[] = [];

export function run_cli(args: string[]) {
  return spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn' } });
}

export function start_cli(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [...cli, ...args], { env: { ...process.env, LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  children.push(child);
  return { child, output: () => out };
}

/** SIGKILL every process start_cli started that is still running. */
export function kill_cli_processes(): void {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
