// What the topic fan-out (src/feed/session.ts, "Topics") relies on in
// uWebSockets.js itself, checked against the real library over real sockets,
// so an upgrade that changes any of it fails here first:
//   1. order: a socket gets what was published to its topics before any later
//      direct send to it, and direct sends before later publishes, whatever
//      the mix (small frames batched per loop turn, large ones sent at once);
//   2. leaving the LAST topic drops what was published to the socket and not
//      yet written; holding an anchor topic (never published to) keeps it;
//   3. maxBackpressure skips a socket in a publish silently (uWebSockets
//      issue 1338), and maxBackpressure 0 never skips: a reader that stops
//      gets every frame once it reads again;
//   4. when a small publish is written: at uWS's drain of the topic tree,
//      which runs before Node's immediates, so a publish made before the check
//      phase goes out ahead of them, and one made in an immediate waits for
//      every immediate queued behind it (src/feed/fanout.ts, "When the flush
//      runs": slow readers' catch-ups run in immediates).
// Frames carry a u32 sequence number; the client checks the order it got.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import uWS from '../../src/server/uws.js';
import type { WebSocket as UwsSocket, us_listen_socket } from '../../src/server/uws.js';
import { sleep, wait_for } from '../helpers/service.js';

interface Rig {
  port: number;
  socket: () => UwsSocket<unknown>;
  client: WebSocket;
  received: number[];
  publish: (topic: string, seq: number, bytes?: number) => void;
  send: (seq: number, bytes?: number) => void;
  close: () => void;
}

let rig: Rig | null = null;
afterEach(() => {
  rig?.close();
  rig = null;
});

function frame(seq: number, bytes: number): Uint8Array {
  const f = new Uint8Array(Math.max(4, bytes));
  new DataView(f.buffer).setUint32(0, seq, true);
  return f;
}

async function start(max_backpressure: number, topics: string[]): Promise<Rig> {
  const app = uWS.App();
  let socket: UwsSocket<unknown> | null = null;
  app.ws('/ws', {
    maxBackpressure: max_backpressure,
    open: (ws) => {
      socket = ws;
      for (const t of topics) ws.subscribe(t);
    },
  });
  let listen: us_listen_socket | null = null;
  const port = await new Promise<number>((resolve, reject) => app.listen('127.0.0.1', 0, (s) => {
    if (!s) reject(new Error('listen failed'));
    listen = s as us_listen_socket;
    resolve(uWS.us_socket_local_port(listen));
  }));
  const client = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  client.binaryType = 'nodebuffer';
  const received: number[] = [];
  client.on('message', (data: Buffer) => received.push(data.readUInt32LE(0)));
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  await wait_for('server socket open', () => socket !== null);
  rig = {
    port,
    socket: () => socket!,
    client,
    received,
    publish: (topic, seq, bytes = 64) => { app.publish(topic, frame(seq, bytes), true, false); },
    send: (seq, bytes = 64) => { socket!.send(frame(seq, bytes), true, false); },
    close: () => {
      client.terminate();
      if (listen !== null) uWS.us_listen_socket_close(listen);
    },
  };
  return rig;
}

const pause = (c: WebSocket) => (c as unknown as { _socket: Socket })._socket.pause();
const resume = (c: WebSocket) => (c as unknown as { _socket: Socket })._socket.resume();

describe('uWS topics, as the fan-out uses them', () => {
  it('publishes and direct sends arrive in program order, small and large, from timers and immediates', async () => {
    const r = await start(0, ['#anchor', 'a', 'b']);
    let seq = 0;
    const expected: number[] = [];
    // Each step is one of: publish small to a, publish small to b, direct send, publish large (sent at once by uWS).
    const step = (i: number): void => {
      const n = seq++;
      expected.push(n);
      switch (i % 5) {
        case 0: r.publish('a', n); break;
        case 1: r.publish('b', n); break;
        case 2: r.send(n); break;
        case 3: r.publish('a', n, 20_000); break;
        default: r.send(n, 20_000);
      }
    };
    for (let round = 0; round < 40; round++) {
      // A seeded-looking but fixed mix: runs of publishes (more than uWS's 32 per socket before it drains), then sends.
      for (let k = 0; k < 37; k++) step((round * 7 + k * (round % 3 + 1)) % 5);
      if (round % 2 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      else await sleep(1);
    }
    await wait_for('everything received', () => r.received.length === expected.length, 20_000);
    expect(r.received).toEqual(expected);
  });

  it('leaving the last topic drops what was published and not yet written; an anchor topic keeps it', async () => {
    const bare = await start(0, ['a']);
    bare.publish('a', 1);
    bare.socket().unsubscribe('a'); // its last topic: uWS frees its subscriber state, and the message with it
    bare.send(2);
    await wait_for('the direct send', () => bare.received.includes(2));
    await sleep(50);
    expect(bare.received).toEqual([2]);
    bare.close();

    const anchored = await start(0, ['#anchor', 'a']);
    anchored.publish('a', 1);
    anchored.socket().unsubscribe('a');
    anchored.send(2);
    await wait_for('both', () => anchored.received.length === 2);
    expect(anchored.received).toEqual([1, 2]);
  });

  it('maxBackpressure skips a stopped reader silently in a publish; 0 never does', async () => {
    const frames = 1500;
    const bytes = 12 * 1024; // 18 MB in all: more than the loopback socket buffers take (they autotune to megabytes)
    const run = async (max_backpressure: number): Promise<number[]> => {
      const r = await start(max_backpressure, ['#anchor', 'a']);
      pause(r.client);
      let buffered = 0;
      for (let i = 0; i < frames; i++) {
        r.publish('a', i, bytes);
        if (i % 50 === 49) {
          await sleep(2); // let uWS write and the kernel buffers fill
          buffered = Math.max(buffered, r.socket().getBufferedAmount());
        }
      }
      resume(r.client);
      // Settled: nothing new for 300 ms (a skipped reader may never get the last frame).
      for (let seen = -1; seen !== r.received.length;) {
        seen = r.received.length;
        await sleep(300);
      }
      expect(buffered, 'the reader was stopped long enough for uWS to buffer').toBeGreaterThan(64 * 1024);
      const got = [...r.received];
      r.close();
      rig = null;
      return got;
    };
    const limited = await run(64 * 1024);
    expect(limited.length, 'uWS skipped frames for the stopped reader').toBeLessThan(frames);
    expect(limited.every((s, i) => i === 0 || s > limited[i - 1]), 'what it got is in order').toBe(true);

    const unlimited = await run(0);
    expect(unlimited).toEqual(Array.from({ length: frames }, (_, i) => i));
  });

  it('a small publish made before the check phase is written ahead of its immediates; one made in an immediate only after those queued behind it', async () => {
    const r = await start(0, ['a']);
    // The reader is on its own thread, so it reads (and stamps) while this one is busy.
    const reader = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      const WebSocket = require(workerData.ws);
      const c = new WebSocket(workerData.url);
      c.binaryType = 'nodebuffer';
      c.on('open', () => parentPort.postMessage({ seq: -1, at_ms: 0 }));
      c.on('message', (d) => parentPort.postMessage({ seq: d.readUInt32LE(0), at_ms: performance.timeOrigin + performance.now() }));
    `, { eval: true, workerData: { ws: createRequire(import.meta.url).resolve('ws'), url: `ws://127.0.0.1:${r.port}/ws` } });
    try {
      const arrived = new Map<number, number>();
      reader.on('message', (m: { seq: number; at_ms: number }) => arrived.set(m.seq, m.at_ms));
      await wait_for('the reader connected', () => arrived.has(-1));
      await sleep(50); // its subscription is in place
      // Long enough that the reader thread's own wake-up on a loaded machine stays well inside the half margin.
      const busy_ms = 400;
      const wall_ms = () => performance.timeOrigin + performance.now();
      const busy_immediate = (done: (end_ms: number) => void) => setImmediate(() => {
        const t = wall_ms();
        while (wall_ms() - t < busy_ms) { /* the immediate's work */ }
        done(wall_ms());
      });
      // As the fan-out flushes: a microtask after the timer (engine turn) that ingested.
      const ahead_end_ms = await new Promise<number>((resolve) => setTimeout(() => {
        queueMicrotask(() => r.publish('a', 1));
        busy_immediate(resolve);
      }, 0));
      // As it flushed before: in an immediate, with another queued behind it.
      const behind_end_ms = await new Promise<number>((resolve) => setTimeout(() => {
        setImmediate(() => r.publish('a', 2));
        busy_immediate(resolve);
      }, 0));
      await wait_for('both publishes read', () => arrived.has(1) && arrived.has(2));
      expect(arrived.get(1)!, 'written before the immediate ran').toBeLessThan(ahead_end_ms - busy_ms / 2);
      expect(arrived.get(2)!, 'written only after the immediate behind it').toBeGreaterThanOrEqual(behind_end_ms - 1);
    } finally {
      await reader.terminate();
    }
  });
});
