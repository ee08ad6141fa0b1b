// Baseline (b), what users would write: a `ws` server that keeps a set of
// sockets per view and, for every update, JSON-encodes the Delta and sends
// it to each subscriber (JSON.stringify per client, ws.send per frame; no
// corking, no backpressure handling). The objects are the recorded Deltas
// decoded ahead of time, so the server pays only for encoding and sending.
import { WebSocketServer, WebSocket } from 'ws';
import type { Recording } from '../e2e/harness/recording.js';
import { json_frames, port_of, type Target, views_from_query } from '../e2e/harness/target.js';

export async function start_ws_json(r: Recording): Promise<Target> {
  const frames = json_frames(r);
  const subscribers = r.meta.views.map(() => new Set<WebSocket>());
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  let frame_no = 0;
  wss.on('connection', (ws, req) => {
    const views = views_from_query((req.url ?? '').split('?')[1] ?? '', r.meta.views);
    for (const v of views) subscribers[v].add(ws);
    ws.on('close', () => { for (const v of views) subscribers[v].delete(ws); });
    ws.on('error', () => {});
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = port_of(wss.address(), 'ws baseline');
  return {
    kind: 'ws',
    port,
    extra_pids: [],
    publish_tick(k, stamp_ns) {
      for (const f of frames[k % frames.length]) {
        f.msg.t = stamp_ns;
        f.msg.n = frame_no++;
        f.msg.k = k;
        for (const ws of subscribers[f.view]) {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(f.msg));
        }
      }
      return true;
    },
    stats: () => ({ connections: wss.clients.size, frames_published: frame_no }),
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
