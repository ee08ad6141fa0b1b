// The gateway's message formats and refusals over real uWS sockets (issue 25,
// parts 1, 3 and 5): REST depth/exchangeInfo/ping/time and their errors, raw
// and combined streams with contiguous U/u, the method frames and Binance's
// error shapes, the bounds (streams per connection, method frames per
// second, REST requests per second per IP) and the gateway's /metrics.
// After every refusal the connection and the server keep working.
// And the feed's outbound bytes count the gateway's events.
// Time: ~8 s (three in-process services).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start_all, type AllInOne } from '../../src/app.js';
import { test_config, wait_for, sleep } from '../helpers/service.js';

interface Client {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  close_code: number | null;
}

async function connect(port: number, path: string): Promise<Client> {
  const c: Client = { ws: new WebSocket(`ws://127.0.0.1:${port}${path}`), messages: [], close_code: null };
  c.ws.on('message', (data) => c.messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
  c.ws.on('close', (code) => { c.close_code = code; });
  await new Promise<void>((resolve, reject) => { c.ws.once('open', () => resolve()); c.ws.once('error', reject); });
  return c;
}

/** The first message (after `from`) that `match` accepts. */
async function reply(c: Client, match: (m: Record<string, unknown>) => boolean, from = 0): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await wait_for('a matching message', () => (found = c.messages.slice(from).find(match)) !== undefined);
  return found!;
}

const is_event = (m: Record<string, unknown>) => m.e === 'depthUpdate';
const by_id = (id: number) => (m: Record<string, unknown>) => m.id === id;

describe('Binance gateway conformance', () => {
  let all: AllInOne;
  let port: number;
  let base: string;
  const clients: Client[] = [];
  const open = async (path: string) => {
    const c = await connect(port, path);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    all = await start_all(test_config({ gateway_binance_port: 0, gateway_streams_per_connection_max: 3, gateway_rest_requests_per_s_max: 1000 }));
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
    port = all.feed_service.gateway!.port;
    base = `http://127.0.0.1:${port}`;
    await wait_for('gateway books', async () => (await fetch(`${base}/api/v3/depth?symbol=XRPUSD`)).status === 200);
  });

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await all?.stop();
  });

  it('REST depth: the book best first in decimal strings, limit honoured, Binance errors for bad input', async () => {
    const d = await (await fetch(`${base}/api/v3/depth?symbol=BTCUSD&limit=5`)).json() as { lastUpdateId: number; bids: string[][]; asks: string[][] };
    expect(Number.isSafeInteger(d.lastUpdateId)).toBe(true);
    expect(d.bids).toHaveLength(5);
    expect(d.asks).toHaveLength(5);
    for (const [p, q] of [...d.bids, ...d.asks]) {
      expect(p).toMatch(/^\d+\.\d{2}$/); // BTC-USD: tick 0.01
      expect(q).toMatch(/^\d+\.\d{4}$/); // lot 0.0001
    }
    const bids = d.bids.map(([p]) => Number(p));
    const asks = d.asks.map(([p]) => Number(p));
    expect(bids).toEqual([...bids].sort((a, b) => b - a));
    expect(asks).toEqual([...asks].sort((a, b) => a - b));
    expect(bids[0]).toBeLessThan(asks[0]);
    const full = await (await fetch(`${base}/api/v3/depth?symbol=BTCUSD&limit=999999`)).json() as { bids: unknown[] };
    expect(full.bids.length).toBeGreaterThan(5); // cut to --gateway-depth-levels-max, not refused
    const errors: [string, number, number][] = [
      ['/api/v3/depth?symbol=DOGEUSD', 400, -1121],
      ['/api/v3/depth', 400, -1102],
      ['/api/v3/depth?symbol=BTCUSD&limit=ten', 400, -1100],
      ['/api/v3/depth?symbol=BTCUSD&limit=0', 400, -1130],
      ['/api/v3/nothing', 404, -1000],
    ];
    for (const [path, status, code] of errors) {
      const r = await fetch(base + path);
      expect([path, r.status]).toEqual([path, status]);
      expect(((await r.json()) as { code: number }).code).toBe(code);
    }
    expect(await (await fetch(`${base}/api/v3/ping`)).json()).toEqual({});
    const time = await (await fetch(`${base}/api/v3/time`)).json() as { serverTime: number };
    expect(Math.abs(time.serverTime - Date.now())).toBeLessThan(60_000);
  });

  it("exchangeInfo lists every symbol with the feed's tick and lot sizes", async () => {
    const info = await (await fetch(`${base}/api/v3/exchangeInfo`)).json() as { symbols: { symbol: string; baseAsset: string; quoteAsset: string; filters: Record<string, string>[] }[] };
    expect(info.symbols.map((s) => s.symbol).sort()).toEqual(['BTCUSD', 'ETHUSD', 'SOLUSD', 'XRPUSD']);
    const btc = info.symbols.find((s) => s.symbol === 'BTCUSD')!;
    expect([btc.baseAsset, btc.quoteAsset]).toEqual(['BTC', 'USD']);
    expect(btc.filters.find((f) => f.filterType === 'PRICE_FILTER')!.tickSize).toBe('0.01');
    expect(btc.filters.find((f) => f.filterType === 'LOT_SIZE')!.stepSize).toBe('0.0001');
  });

  it('raw and combined streams: contiguous U/u from the URL, and a REST snapshot joins them', async () => {
    const raw = await open('/ws/btcusd@depth@100ms');
    const combined = await open('/stream?streams=btcusd@depth@100ms/ethusd@depth');
    await wait_for('events', () => raw.messages.filter(is_event).length >= 10 && combined.messages.some((m) => m.stream === 'ethusd@depth'), 15_000);
    const events = raw.messages.filter(is_event) as { U: number; u: number; s: string; E: number; b: unknown[]; a: unknown[] }[];
    for (let i = 1; i < events.length; i++) expect(events[i].U).toBe(events[i - 1].u + 1);
    expect(events.every((e) => e.s === 'BTCUSD' && e.U <= e.u)).toBe(true);
    for (const m of combined.messages) {
      expect(['btcusd@depth@100ms', 'ethusd@depth']).toContain(m.stream);
      expect((m.data as { e: string }).e).toBe('depthUpdate');
    }
    const btc_combined = combined.messages.filter((m) => m.stream === 'btcusd@depth@100ms').map((m) => m.data as { U: number; u: number });
    // The same update ids on both connections: one stream, encoded once.
    const raw_ids = new Set(events.map((e) => `${e.U}-${e.u}`));
    expect(btc_combined.filter((e) => raw_ids.has(`${e.U}-${e.u}`)).length).toBeGreaterThan(0);
    // Binance's sync rule: some event after the snapshot has U <= lastUpdateId + 1 <= u.
    const from = raw.messages.length;
    const snap = await (await fetch(`${base}/api/v3/depth?symbol=BTCUSD&limit=1000`)).json() as { lastUpdateId: number };
    const joining = await reply(raw, (m) => is_event(m) && (m.u as number) > snap.lastUpdateId, from);
    expect(joining.U as number).toBeLessThanOrEqual(snap.lastUpdateId + 1);
  });

  it('SUBSCRIBE, LIST_SUBSCRIPTIONS, UNSUBSCRIBE, SET_PROPERTY answered as Binance does', async () => {
    const c = await open('/ws');
    c.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['solusd@depth@100ms', 'xrpusd@depth'], id: 1 }));
    expect(await reply(c, by_id(1))).toEqual({ result: null, id: 1 });
    c.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 2 }));
    expect(await reply(c, by_id(2))).toEqual({ result: ['solusd@depth@100ms', 'xrpusd@depth'], id: 2 });
    await reply(c, (m) => is_event(m) && m.s === 'SOLUSD');
    c.ws.send(JSON.stringify({ method: 'SET_PROPERTY', params: ['combined', true], id: 3 }));
    expect(await reply(c, by_id(3))).toEqual({ result: null, id: 3 });
    const wrapped = await reply(c, (m) => m.stream === 'solusd@depth@100ms', c.messages.length);
    expect((wrapped.data as { s: string }).s).toBe('SOLUSD');
    c.ws.send(JSON.stringify({ method: 'UNSUBSCRIBE', params: ['solusd@depth@100ms'], id: 4 }));
    const acked = c.messages.length;
    await reply(c, by_id(4), 0);
    await sleep(400);
    const at = c.messages.findIndex(by_id(4));
    expect(c.messages.slice(Math.max(at, acked - 1) + 1).some((m) => m.stream === 'solusd@depth@100ms')).toBe(false);
  });

  it("refusals get Binance's error shape and the connection keeps working", async () => {
    const c = await open('/ws');
    const sends: [string | Buffer, number, number | null][] = [
      ['{"method":"SUBSCRIBE"', 3, null],
      [JSON.stringify({ method: 'PING', id: 11 }), 2, 11],
      [JSON.stringify({ method: 'SUBSCRIBE', params: ['dogeusd@depth'], id: 12 }), 2, 12],
      [JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusd@depth'], id: 13, extra: 1 }), 0, 13],
      [JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusd@depth', 'ethusd@depth', 'solusd@depth', 'xrpusd@depth'], id: 14 }), 2, 14],
    ];
    for (const [text, code, id] of sends) {
      const from = c.messages.length;
      c.ws.send(text);
      const e = await reply(c, (m) => m.error !== undefined, from);
      expect(e).toMatchObject({ error: { code }, id });
      await sleep(250); // under 5 method frames a second
    }
    c.ws.send(Buffer.from([1, 2, 3]));
    expect(await reply(c, (m) => m.error !== undefined && (m.error as { msg: string }).msg.includes('binary'))).toMatchObject({ error: { code: 3 } });
    await sleep(250);
    c.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusd@depth@100ms'], id: 20 }));
    expect(await reply(c, by_id(20))).toEqual({ result: null, id: 20 });
    await reply(c, is_event);
    expect(c.close_code).toBeNull();
  });

  it('bounds: streams per connection, method frames per second (4x over closes 1008), a bad stream in the URL', async () => {
    const c = await open('/ws');
    c.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusd@depth', 'ethusd@depth', 'solusd@depth'], id: 1 }));
    await reply(c, by_id(1));
    await sleep(250);
    c.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['xrpusd@depth'], id: 2 }));
    expect(await reply(c, by_id(2))).toMatchObject({ error: { code: 2, msg: 'Invalid request: more than 3 streams on one connection' } });
    const flood = await open('/ws');
    for (let i = 0; i < 40; i++) flood.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 100 + i }));
    await wait_for('closed for its message rate', () => flood.close_code !== null);
    expect(flood.close_code).toBe(1008);
    expect(flood.messages.some((m) => (m.error as { msg?: string } | undefined)?.msg?.includes('messages per second'))).toBe(true);
    await expect(connect(port, '/ws/dogeusd@depth')).rejects.toThrow(/400/);
    // The server still serves.
    const after = await open('/stream/0');
    after.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['ethusd@depth@100ms'], id: 1 }));
    await reply(after, (m) => m.stream === 'ethusd@depth@100ms');
  });

  it('the examples in docs/GATEWAYS.md work as printed (ccxt and a plain WebSocket)', async () => {
    const doc = readFileSync(new URL('../../docs/GATEWAYS.md', import.meta.url), 'utf8');
    const blocks = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1].replaceAll('9443', String(port)));
    expect(blocks).toHaveLength(2);
    // Inside the repository, so that 'ccxt' and 'ws' resolve from its node_modules.
    const dir = mkdtempSync(new URL('../../node_modules/.gateway-doc-', import.meta.url).pathname);
    try {
      for (const [i, code] of blocks.entries()) {
        const file = join(dir, `example_${i}.mjs`);
        writeFileSync(file, code);
        const { stdout } = await promisify(execFile)(process.execPath, [file], { timeout: 30_000 });
        const lines = stdout.trim().split('\n');
        expect(lines.length).toBeGreaterThanOrEqual(5);
        if (i === 0) expect(lines[0]).toMatch(/^\d+ \[ [\d.]+, [\d.]+ \] \[ [\d.]+, [\d.]+ \]$/); // nonce, best bid, best ask
        else expect(lines.some((l) => /^BTCUSD \d+ \d+ \d+ \d+$/.test(l))).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/metrics counts gateway connections, streams, REST requests by status and closes by reason', async () => {
    const text = await (await fetch(`http://127.0.0.1:${all.feed_service.server.port}/metrics`)).text();
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ').pop() ?? NaN);
    expect(value('depthcast_gateway_connections ')).toBeGreaterThan(0);
    expect(value('depthcast_gateway_streams ')).toBeGreaterThan(0);
    expect(value('depthcast_gateway_rest_requests_total{endpoint="depth",status="400"}')).toBeGreaterThanOrEqual(4);
    expect(value('depthcast_gateway_rest_requests_total{endpoint="depth",status="200"}')).toBeGreaterThan(0);
    expect(value('depthcast_gateway_closes_total{reason="message_rate"}')).toBe(1);
    expect(value('depthcast_gateway_ws_errors_total{code="2"}')).toBeGreaterThan(0);
    expect(value('depthcast_gateway_events_encoded_total ')).toBeGreaterThan(0);
  });
});

describe('Binance gateway REST rate per IP', () => {
  it('answers 429 with -1003 over the limit, and serves again after', async () => {
    const all = await start_all(test_config({ gateway_binance_port: 0, gateway_rest_requests_per_s_max: 3 }));
    try {
      const base = `http://127.0.0.1:${all.feed_service.gateway!.port}`;
      const statuses = await Promise.all(Array.from({ length: 10 }, () => fetch(`${base}/api/v3/ping`).then(async (r) => [r.status, await r.json()] as const)));
      const refused = statuses.filter(([s]) => s === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0][1]).toMatchObject({ code: -1003 });
      await sleep(1100);
      expect((await fetch(`${base}/api/v3/ping`)).status).toBe(200);
    } finally {
      await all.stop();
    }
  });
});

describe('Binance gateway bytes in the feed\'s outbound bytes', () => {
  it('depthcast_outbound_bytes_total grows by exactly the bytes of the events the gateway published to its one reader', async () => {
    // Heartbeats every 50 ms of idleness: a gateway reader is idle that long between its 100 ms events, yet gets none.
    const all = await start_all(test_config({ gateway_binance_port: 0, heartbeat_interval_ms: 50 }));
    let ws: WebSocket | undefined;
    try {
      await wait_for('feed live', () => all.feed_service.feed.health().ready);
      const counters = all.feed_service.feed.counters;
      const before = counters.bytes_out_total; // no binary client: nothing else sends
      const heartbeats_before = counters.heartbeats_out_total;
      let received = 0;
      let events = 0;
      let binary = 0;
      ws = new WebSocket(`ws://127.0.0.1:${all.feed_service.gateway!.port}/ws/btcusd@depth@100ms/ethusd@depth@100ms`);
      ws.on('message', (data: Buffer, is_binary: boolean) => { received += data.byteLength; events++; if (is_binary) binary++; });
      await wait_for('events', () => events >= 20);
      // Counted when published, received a moment later: equal whenever nothing is on the way.
      await wait_for('outbound bytes = bytes received', () => counters.bytes_out_total - before === received, 10_000, 5);
      expect(received).toBeGreaterThan(0);
      expect(binary).toBe(0); // no Heartbeat (or any depthcast frame) to a Binance client
      expect(counters.heartbeats_out_total).toBe(heartbeats_before);
    } finally {
      ws?.terminate();
      await all.stop();
    }
  });
});
