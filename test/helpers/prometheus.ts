// Debian's prometheus and promtool (2.42), found on PATH, for tests: a real
// Prometheus on a random loopback port with its own TSDB directory, scraping
// the given targets every second as job "depthcast" (the job the shipped
// alert rules and dashboard expect), and promtool run as a child.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { free_port } from './nats_server.js';
import { wait_for } from './service.js';

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool found on PATH to its end, feeding it stdin if given. */
export function run_tool(command: string, args: string[], options: { stdin?: string; cwd?: string } = {}): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (err) => reject(new Error(`${command}: ${err.message} (is it installed? .ci/run installs Debian's prometheus package)`)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

export const promtool = (args: string[], options: { stdin?: string; cwd?: string } = {}) => run_tool('promtool', args, options);

/** One series of an instant query's result (resultType vector). */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusHandle {
  url: string;
  /** GET /api/v1/query at now; throws with Prometheus's error text on a bad expression. */
  query(expr: string): Promise<PromSample[]>;
  /** The process's output so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** host:port of each feed to scrape at /metrics. */
  targets: string[];
  /** Absolute paths of rule files to load (evaluated every second). */
  rule_files?: string[];
}

export async function start_prometheus(options: PrometheusOptions): Promise<PrometheusHandle> {
  const port = await free_port();
  const dir = mkdtempSync(join(tmpdir(), 'depthcast-prometheus-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    `rule_files: ${JSON.stringify(options.rule_files ?? [])}`,
    'scrape_configs:',
    '  - job_name: depthcast',
    '    static_configs:',
    `      - targets: ${JSON.stringify(options.targets)}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  child.once('error', (err) => { out += `\nspawn prometheus: ${err.message}`; });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await wait_for(`prometheus ready on ${port}`, async () => {
      if (exited) throw new Error(`prometheus exited:\n${out}`);
      try {
        return (await fetch(`${url}/-/ready`)).ok;
      } catch {
        return false;
      }
    }, 30_000, 100);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    output: () => out,
    stop,
    async query(expr: string): Promise<PromSample[]> {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await res.json() as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
      if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${expr}: ${body.error ?? res.status}`);
      if (body.data.resultType !== 'vector') throw new Error(`query ${expr}: result type ${body.data.resultType}, vector expected`);
      return body.data.result;
    },
  };
}
