// The production path: `npm run build:server` makes dist/depthcast.js, and
// bin/depthcast.mjs runs it in-process (no tsx, no child process), rebuilding
// first only when a source changed; stack traces in its logs name TypeScript
// lines; while it builds it loads the service's packages (their list is
// checked against the build's metafile). Real processes, real sockets. About 3 s.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { service_packages } from '../../scripts/build_server.mjs';
import { free_port } from '../helpers/depthcast_process.js';
import { wait_for } from '../helpers/service.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const built = join(root, 'dist', 'depthcast.js');
const bin = join(root, 'bin', 'depthcast.mjs');

function run_bin(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'info' } });
}

describe('server build', () => {
  beforeAll(() => {
    const r = spawnSync('npm', ['run', '-s', 'build:server'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('the bin runs the build without rebuilding when nothing changed', () => {
    const before_ms = statSync(built).mtimeMs;
    const r = run_bin(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: depthcast <command>');
    expect(r.stderr).not.toContain('built dist/');
    expect(statSync(built).mtimeMs).toBe(before_ms);
  });

  it('rebuilds when a source is newer than the build', () => {
    const source = join(root, 'src', 'config.ts');
    const saved = statSync(source);
    const future_s = Date.now() / 1000 + 5;
    utimesSync(source, future_s, future_s);
    try {
      const r = run_bin(['--help']);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/built dist\/ in \d+ ms \(.*src\/config\.ts changed\)/);
    } finally {
      utimesSync(source, saved.atime, saved.mtime);
    }
  });

  it('preloads, while it builds, the packages the service imports on its way to /health', () => {
    interface Output { entryPoint?: string; imports: { path: string; kind: string; external?: boolean }[] }
    const outputs = (JSON.parse(readFileSync(join(root, 'dist', 'depthcast.meta.json'), 'utf8')) as { outputs: Record<string, Output> }).outputs;
    // What `depthcast all` loads before it is ready: the entry and the app chunk, with the chunks they import statically.
    const start = Object.keys(outputs).filter((o) => ['src/bin/depthcast.ts', 'src/app.ts'].includes(outputs[o].entryPoint ?? ''));
    expect(start).toHaveLength(2);
    const packages = new Set<string>();
    const seen = new Set<string>();
    const visit = (output: string) => {
      if (seen.has(output)) return;
      seen.add(output);
      for (const i of outputs[output].imports) {
        if (i.kind !== 'import-statement') continue;
        if (i.external !== true) visit(i.path);
        else if (!i.path.startsWith('node:')) packages.add(i.path);
      }
    };
    start.forEach(visit);
    expect([...packages].sort()).toEqual([...(service_packages as string[])].sort());
  });

  it('logs stack traces that point at TypeScript lines', () => {
    // A certificate that is not there fails in src/server/tls_app.ts, called from src/server/server.ts, at start-up.
    const r = run_bin(['all', '--port', '0', '--no-ui', '--tls-cert-path', '/nonexistent/cert.pem', '--tls-key-path', '/nonexistent/key.pem']);
    expect(r.status).toBe(1);
    const fatal = r.stdout.split('\n').find((l) => l.includes('depthcast failed to start'));
    expect(fatal, r.stdout + r.stderr).toBeDefined();
    const stack = JSON.parse(fatal!).stack as string;
    expect(stack).toMatch(/src\/server\/server\.ts:\d+:\d+/);
    expect(stack).not.toContain('dist/depthcast.js');
  });

  describe('a running service', () => {
    let child: ReturnType<typeof spawn> | undefined;
    afterAll(() => { child?.kill('SIGKILL'); });

    it('answers /health from one process with no children', async () => {
      const port = await free_port();
      child = spawn(process.execPath, [bin, 'all', '--port', String(port)], { cwd: root, stdio: 'ignore' });
      let status = 0;
      await wait_for('/health 200', async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/health`);
          status = res.status;
          await res.arrayBuffer();
          return status === 200;
        } catch {
          return false;
        }
      }, 20_000, 50);
      // The page bundle (esbuild, a child process while it builds) is done once /main.js answers.
      const page = await fetch(`http://127.0.0.1:${port}/main.js`);
      expect(page.status).toBe(200);
      await page.arrayBuffer();
      await wait_for('no child processes', () => {
        const ps = spawnSync('ps', ['-o', 'pid=', '--ppid', String(child!.pid)], { encoding: 'utf8' });
        return ps.stdout.trim() === '';
      }, 10_000, 50);
    });
  });
});
