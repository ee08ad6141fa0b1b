// The CLI as a user runs it: separate engine and feed processes on a real
// nats-server, --help, and bad flags refused with a message naming them.
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, type WebSocketConstructor } from '../../src/client/index.js';
import { kill_cli_processes, run_cli, start_cli } from '../helpers/cli_process.js';
import { start_nats_server, type NatsServerHandle } from '../helpers/nats_server.js';
import { wait_for } from '../helpers/service.js';

let nats: NatsServerHandle | undefined;
const run = run_cli;
const start = start_cli;

afterAll(async () => {
  kill_cli_processes();
  await nats?.stop();
});

describe('depthcast CLI', () => {
  it('prints help and refuses bad flags with exit code 2', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: depthcast <command>/);
    const feed_help = run(['feed', '--help']);
    expect(feed_help.stdout).toMatch(/--send-buffer-bytes-max/);
    const bad = run(['feed', '--port', 'eighty']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/option --port: expected an integer, got 'eighty'/);
    const unknown = run(['serve']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'serve'/);
  });

  it('runs engine and feed as separate processes over NATS; SIGTERM closes clients with 1001', async () => {
    nats = await start_nats_server();
    const engine = start(['engine', '--nats-url', nats.url, '--symbols', 'BTC-USD,ETH-USD', '--rate', '2000']);
    const feed = start(['feed', '--nats-url', nats.url, '--symbols', 'BTC-USD,ETH-USD', '--port', '0', '--no-ui']);
    let port = 0;
    await wait_for('feed listening', () => {
      for (const line of feed.output().split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'listening' && entry.port) port = entry.port;
      }
      return port > 0;
    }, 20_000);
    await wait_for('feed healthy', async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200, 20_000);
    const client = connect(`ws://127.0.0.1:${port}/ws`, { WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: false });
    const book = client.subscribe('ETH-USD', { depth: 10 });
    await wait_for('synced with deltas', () => book.state === 'synced' && client.counters.deltas > 5, 20_000);
    expect(client.counters.digest_mismatches).toBe(0);
    const closes: number[] = [];
    client.on('disconnect', (code: number) => closes.push(code));
    feed.child.kill('SIGTERM');
    await wait_for('feed exited', () => feed.child.exitCode !== null, 20_000);
    expect(feed.child.exitCode).toBe(0);
    await wait_for('client saw the close', () => closes.length > 0);
    expect(closes[0]).toBe(1001);
    engine.child.kill('SIGTERM');
    await wait_for('engine exited', () => engine.child.exitCode !== null, 20_000);
    expect(engine.child.exitCode).toBe(0);
    client.close();
  }, 60_000);
});
