// The service owns its port. uSockets sets SO_REUSEPORT on listening sockets
// unless told otherwise: a second service started on a busy port would then
// listen without an error, and the kernel would split new connections between
// the two processes. So the second is refused with a clear error; and a
// service restarted on its port right after it closed its connections (which
// then sit in TIME-WAIT on the server side) listens at once (SO_REUSEADDR).
// Real uWS sockets. About 1 s.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import { free_port } from '../helpers/depthcast_process.js';
import { RawClient } from '../helpers/raw_client.js';
import { test_config, wait_for } from '../helpers/service.js';

/** Sockets in TIME-WAIT (state 06 in /proc/net/tcp) whose local port is `port`. */
function time_wait_sockets(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
    .filter((line) => { const f = line.trim().split(/\s+/); return f[1]?.endsWith(hex) && f[3] === '06'; }).length;
}

describe('the listening port', () => {
  const running: AllInOne[] = [];
  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
  });

  it('is not shared: a second service on a busy port is refused', async () => {
    const port = await free_port();
    const config = test_config({ symbols: ['BTC-USD'], rate_orders_per_s: 50, port });
    running.push(await start_all(config));
    await expect(start_all(config)).rejects.toThrow(`cannot listen on ${config.host}:${port} (in use or not permitted)`);
    // The first one still serves.
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    await res.arrayBuffer();
    expect([200, 503]).toContain(res.status);
  });

  it('is listened on again at once by a restart, over the TIME-WAIT sockets of the connections it closed', async () => {
    const port = await free_port();
    const config = test_config({ symbols: ['BTC-USD'], rate_orders_per_s: 50, port });
    const first = await start_all(config);
    const clients = await Promise.all([0, 1, 2].map(() => RawClient.open(`ws://127.0.0.1:${port}/ws`)));
    expect(clients.every((c) => c.opened)).toBe(true);
    await first.stop();
    await Promise.all(clients.map((c) => c.closed));
    await wait_for('server-side TIME-WAIT sockets on the port', () => time_wait_sockets(port) > 0, 5000);
    const restarted = await start_all(config);
    running.push(restarted);
    await wait_for('ready after the restart', () => restarted.feed_service.feed.health().ready, 20_000);
    const again = await RawClient.open(`ws://127.0.0.1:${port}/ws`);
    expect(again.opened).toBe(true);
    again.ws.close();
  });
});
