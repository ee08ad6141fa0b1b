// Transport baseline: socket.io 4 (WebSocket transport only, no compression),
// as its users write it: each client joins one room per view, and every update
// is io.to(view).emit('d', delta) with the decoded Delta object (socket.io
// encodes a broadcast once and writes it to each member).
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import type { Recording } from '../e2e/harness/recording.js';
import { json_frames, port_of, type Target } from '../e2e/harness/target.js';

export async function start_socketio(r: Recording): Promise<Target> {
  const frames = json_frames(r);
  const topics = r.meta.views;
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false, pingInterval: 25_000, pingTimeout: 60_000 });
  let frame_no = 0;
  io.on('connection', (socket) => {
    const raw = socket.handshake.query.views;
    const views = (typeof raw === 'string' ? raw : '').split(',').filter((v) => topics.includes(v));
    void socket.join(views);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const port = port_of(http.address(), 'socket.io baseline');
  return {
    kind: 'socketio',
    port,
    extra_pids: [],
    publish_tick(k, stamp_ns) {
      for (const f of frames[k % frames.length]) {
        f.msg.t = stamp_ns;
        f.msg.n = frame_no++;
        f.msg.k = k;
        io.to(topics[f.view]).emit('d', f.msg);
      }
      return true;
    },
    stats: () => ({ connections: io.engine.clientsCount, frames_published: frame_no }),
    async close() {
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
