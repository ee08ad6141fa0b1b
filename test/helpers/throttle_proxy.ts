// Drives test/helpers/throttle_proxy.py: a slow reader on a real socket (small
// SO_RCVBUF, fixed byte rate, pausable) between the feed and a test client,
// and reads the proxy's own lag (a stalled proxy is the harness, not the feed).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./throttle_proxy.py', import.meta.url));

export class ThrottleProxy {
  private readonly waiting: ((answer: string) => void)[] = [];

  private constructor(private readonly child: ChildProcessWithoutNullStreams, readonly port: number) {}

  /** A proxy to 127.0.0.1:upstream_port reading at rate_bytes_per_s through a receive buffer of rcvbuf_bytes. */
  static async start(upstream_port: number, rcvbuf_bytes: number, rate_bytes_per_s: number): Promise<ThrottleProxy> {
    const child = spawn('python3', [script, String(upstream_port), String(rcvbuf_bytes), String(rate_bytes_per_s)], { stdio: 'pipe' });
    const lines = createInterface({ input: child.stdout });
    const answered: { proxy?: ThrottleProxy } = {};
    const port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`throttle_proxy.py exited with ${code}`)));
      lines.on('line', (line) => {
        const m = /^port (\d+)$/.exec(line);
        if (m !== null) resolve(Number(m[1]));
        else if (line === 'ok' || line.startsWith('lag ')) answered.proxy?.waiting.shift()?.(line);
      });
    });
    answered.proxy = new ThrottleProxy(child, port);
    return answered.proxy;
  }

  /** The proxy's process (benches read its CPU time). */
  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async rate(bytes_per_s: number): Promise<void> {
    await this.command(`rate ${bytes_per_s}`);
  }

  async pause(): Promise<void> {
    await this.command('pause');
  }

  async resume(): Promise<void> {
    await this.command('resume');
  }

  /** The proxy's own lateness since the last call: its worst and summed oversleep of 5 ms sleeps (load, the GIL). */
  async lag(): Promise<{ worst_ms: number; total_ms: number }> {
    const [, worst, total] = (await this.command('lag')).split(' ');
    return { worst_ms: Number(worst), total_ms: Number(total) };
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }

  private command(line: string): Promise<string> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin.write(line + '\n');
    });
  }
}
