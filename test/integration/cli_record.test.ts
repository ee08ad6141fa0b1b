// record, book-at and replay as a user runs them: separate processes, a real
// nats-server, the recorder killed with SIGKILL (a crash), then book-at on
// what it left and a replay feed whose clients end on exactly that book, its
// /stats saying it is a replay. Bad flags are refused with the flag named.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digest_of } from '../../src/book/digest.js';
import { free_port } from '../../src/util/host.js';
import { kill_cli_processes, run_cli, start_cli } from '../helpers/cli_process.js';
import { at_engine_book, type EngineBook } from '../helpers/engine_book.js';
import { start_nats_server, type NatsServerHandle } from '../helpers/nats_server.js';
import { ProtocolClient } from '../helpers/protocol_client.js';
import { sleep, wait_for } from '../helpers/service.js';

const dir = mkdtempSync(join(tmpdir(), 'dcrec-cli-'));
let nats: NatsServerHandle | undefined;
let client: ProtocolClient | undefined;
const run = run_cli;
const start = start_cli;

afterAll(async () => {
  client?.close();
  kill_cli_processes();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('depthcast record / book-at / replay', () => {
  it('answers --help without the required options, refuses bad flags naming them', () => {
    const help = run(['book-at', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--time .*\n.*required/);
    const speed = run(['replay', '--speed', 'fast']);
    expect(speed.status).toBe(2);
    expect(speed.stderr).toMatch(/option --speed .*expected a number from 0.01 to 10000 or 'max', got 'fast'/);
    const no_time = run(['book-at', '--symbol', 'BTC-USD', '--recording-dir', dir]);
    expect(no_time.status).toBe(2);
    expect(no_time.stderr).toMatch(/option --time .*is required/);
    const bad_time = run(['book-at', '--symbol', 'BTC-USD', '--time', 'yesterday']);
    expect(bad_time.stderr).toMatch(/option --time .*expected ms since 1970 or an ISO-8601 time/);
    const empty = run(['book-at', '--symbol', 'BTC-USD', '--time', '0', '--recording-dir', dir]);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/holds no recording segments/);
  });

  it('records from NATS, survives SIGKILL, book-at reads it, replay serves it', async () => {
    nats = await start_nats_server();
    const engine = start(['engine', '--nats-url', nats.url, '--no-stream', '--symbols', 'BTC-USD,ETH-USD', '--rate', '2000']);
    const recorder = start(['record', '--nats-url', nats.url, '--recording-dir', dir, '--record-checkpoint-interval-ms', '300']);
    await wait_for('recorder running', () => recorder.output().includes('recording segment started'), 30_000);
    await sleep(2500);
    recorder.child.kill('SIGKILL'); // a crash: whatever it had flushed must read back
    engine.child.kill('SIGTERM');

    const at = run(['book-at', '--recording-dir', dir, '--time', String(Date.now() + 60_000), '--symbol', 'BTC-USD', '--json']);
    expect(at.stderr).toBe('');
    const book = JSON.parse(at.stdout) as { seq: number; epoch: number; digest: number; bids: { price: number; size: number; orders: number }[]; asks: { price: number; size: number; orders: number }[] };
    expect(book.seq).toBeGreaterThan(100);
    expect(book.digest).toBe(digest_of(book.bids, book.asks));
    const table = run(['book-at', '--recording-dir', dir, '--time', new Date(Date.now() + 60_000).toISOString(), '--symbol', 'BTC-USD']);
    expect(table.stdout).toContain(`epoch ${book.epoch}  seq ${book.seq}  digest ${book.digest}`);

    const port = await free_port();
    const replay = start(['replay', '--recording-dir', dir, '--speed', '4', '--port', String(port), '--no-ui']);
    await wait_for('replay feed up', () => replay.output().includes('replay feed is up'), 30_000);
    client = await ProtocolClient.connect(`ws://127.0.0.1:${port}/ws`);
    client.subscribe(['BTC-USD'], 0);
    const stats = async () => (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { replay: { state: string; speed: number } | null };
    await wait_for('/stats shows the replay', async () => (await stats()).replay !== null, 20_000);
    expect((await stats()).replay?.speed).toBe(4);
    await wait_for(`replayed book of seq ${book.seq}`, () => at_engine_book(client!.book('BTC-USD', 0), book), 30_000);
    expect(client.book('BTC-USD', 0)!.digest).toBe(book.digest);
    expect(client.book('BTC-USD', 0)!.epoch).toBe(book.epoch);
    expect(client.violations).toEqual([]);
    await wait_for('/stats shows the replay ended', async () => (await stats()).replay?.state === 'ended', 20_000);
  });

  it('replays onto NATS: a feed in another process serves the replayed book and shows the replay in /stats', async () => {
    const end = String(Date.now() + 60_000);
    const at = JSON.parse(run(['book-at', '--recording-dir', dir, '--time', end, '--symbol', 'ETH-USD', '--json']).stdout) as EngineBook & { digest: number };
    const [replay_port, feed_port] = [await free_port(), await free_port()];
    const replay = start(['replay', '--recording-dir', dir, '--nats-url', nats!.url, '--subject-prefix', 'rp', '--speed', '3', '--port', String(replay_port), '--no-ui']);
    const feed = start(['feed', '--nats-url', nats!.url, '--subject-prefix', 'rp', '--symbols', 'BTC-USD,ETH-USD', '--port', String(feed_port), '--no-ui', '--no-stream']);
    await wait_for('replay and feed up', () => replay.output().includes('replay feed is up') && feed.output().includes('feed is up'), 30_000);
    const c = await ProtocolClient.connect(`ws://127.0.0.1:${feed_port}/ws`);
    try {
      c.subscribe(['ETH-USD'], 0);
      const stats = async () => (await (await fetch(`http://127.0.0.1:${feed_port}/stats`)).json()) as { replay: { speed: number } | null };
      await wait_for('the other feed sees the replay', async () => (await stats()).replay?.speed === 3, 20_000);
      await wait_for(`replayed ETH-USD's book of seq ${at.seq} through NATS`, () => at_engine_book(c.book('ETH-USD', 0), at), 30_000);
      expect(c.book('ETH-USD', 0)!.digest).toBe(at.digest);
      expect(c.book('ETH-USD', 0)!.epoch).toBe(at.epoch);
      expect(c.violations).toEqual([]);
    } finally {
      c.close();
    }
  });
});
