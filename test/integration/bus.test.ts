// The Bus contract, run against both implementations: the in-process
// MemoryBus and NatsBus on a real nats-server. Plus: NatsBus waits for a
// server that is not there yet, and reconnects after a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../src/bus/bus.js';
import { BusNoResponderError, BusTimeoutError, subject_matches } from '../../src/bus/bus.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { NatsBus } from '../../src/bus/nats_bus.js';
import { start_nats_server, type NatsServerHandle } from '../helpers/nats_server.js';
import { wait_for } from '../helpers/service.js';

let nats: NatsServerHandle;
beforeAll(async () => { nats = await start_nats_server(); });
afterAll(async () => { await nats?.stop(); });

const implementations: [string, () => Promise<Bus>][] = [
  ['MemoryBus', async () => new MemoryBus()],
  ['NatsBus', () => NatsBus.connect({ url: nats.url, name: 'bus-test', reconnect_wait_ms: 50 })],
];

describe.each(implementations)('%s', (_name, make) => {
  it('delivers in order to wildcard subscribers', async () => {
    const bus = await make();
    const got: [string, number[]][] = [];
    const sub = bus.subscribe('t.events.*', (data, subject) => got.push([subject, [...data]]));
    bus.publish('t.events.A', new Uint8Array([1, 2, 3]));
    bus.publish('t.events.B', new Uint8Array([4]));
    bus.publish('t.other.A', new Uint8Array([5]));
    await bus.flush();
    await wait_for('2 messages', () => got.length >= 2);
    expect(got).toEqual([['t.events.A', [1, 2, 3]], ['t.events.B', [4]]]);
    sub.unsubscribe();
    bus.publish('t.events.A', new Uint8Array([6]));
    await bus.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(got.length).toBe(2);
    await bus.close();
  });

  it('answers requests, and says when nobody answers or the answer is late', async () => {
    const bus = await make();
    bus.serve('t.snapshot.*', (data, subject) => new Uint8Array([data.length, subject.length]));
    bus.serve('t.slow', () => new Promise<Uint8Array>((r) => setTimeout(() => r(new Uint8Array(0)), 500)));
    expect([...await bus.request('t.snapshot.X', new Uint8Array(4), 1000)]).toEqual([4, 12]);
    await expect(bus.request('t.nobody', new Uint8Array(0), 1000)).rejects.toBeInstanceOf(BusNoResponderError);
    await expect(bus.request('t.slow', new Uint8Array(0), 50)).rejects.toBeInstanceOf(BusTimeoutError);
    await bus.close();
  });
});

describe('NatsBus connection handling', () => {
  it('waits for a server that is not up yet, then works; reconnects after a server restart', async () => {
    const late = await start_nats_server();
    await late.stop();
    // The port is free now: connect() must keep retrying, not throw.
    const connecting = NatsBus.connect({ url: late.url, name: 'late', reconnect_wait_ms: 50 });
    await new Promise((r) => setTimeout(r, 300));
    const again = await start_nats_server_on(late.port);
    const bus = await connecting;
    expect(bus.is_connected()).toBe(true);
    const statuses: string[] = [];
    bus.on_status((s) => statuses.push(s));
    await again.restart();
    await wait_for('reconnected', () => statuses.includes('reconnected'));
    const got: number[] = [];
    bus.subscribe('x', (d) => got.push(d[0]));
    await bus.flush();
    bus.publish('x', new Uint8Array([7]));
    await wait_for('message after reconnect', () => got.length === 1);
    expect(statuses[0]).toBe('disconnected');
    await bus.close();
    await again.stop();
  });

  it('matches subjects like NATS', () => {
    expect(subject_matches('a.*', 'a.b')).toBe(true);
    expect(subject_matches('a.*', 'a.b.c')).toBe(false);
    expect(subject_matches('a.>', 'a.b.c')).toBe(true);
    expect(subject_matches('a.>', 'a')).toBe(false);
    expect(subject_matches('a.b', 'a.c')).toBe(false);
  });
});

async function start_nats_server_on(port: number): Promise<NatsServerHandle> {
  return start_nats_server({ port });
}
