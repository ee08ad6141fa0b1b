// Baseline between the two uWS ends, to locate fan-out cost: bare
// uWebSockets.js sending the same pre-encoded frames per socket from
// JavaScript — for each socket, ws.cork() around one ws.send() per frame of
// its views — which is the shape of depthcast's Session flush without any of
// the feed's logic (books, views, encoding, queues, backpressure checks).
// uws (app.publish, the fan-out done in C++) ÷ uws_send = the price of
// fanning out from JS; uws_send ÷ depthcast = the price of the feed's own work.
import uWS, { type WebSocket } from '../../src/server/uws.js';
import type { Recording } from '../e2e/harness/recording.js';
import { binary_frames, stamp_binary, type Target } from '../e2e/harness/target.js';
import { type BenchSocketData, listen_bench_app } from './uws_publish.js';

export async function start_uws_send(r: Recording): Promise<Target> {
  const frames = binary_frames(r);
  const topics = r.meta.views;
  const sockets = new Set<WebSocket<BenchSocketData>>();
  const app = uWS.App();
  let frame_no = 0;
  let dropped = 0;
  const listen_socket = await listen_bench_app(app, topics, {
    open: (ws) => { sockets.add(ws); },
    close: (ws) => { sockets.delete(ws); },
  });
  return {
    kind: 'uws_send',
    port: uWS.us_socket_local_port(listen_socket),
    extra_pids: [],
    publish_tick(k, stamp_ns) {
      const tick = frames[k % frames.length];
      if (tick.length === 0) return true;
      for (const f of tick) stamp_binary(f.buf, stamp_ns, k, frame_no++);
      for (const ws of sockets) {
        const views = ws.getUserData().views;
        ws.cork(() => {
          for (const f of tick) {
            if (views.includes(f.view) && ws.send(f.buf, true) === 2) dropped++;
          }
        });
      }
      return true;
    },
    stats: () => ({ connections: sockets.size, frames_published: frame_no, dropped }),
    async close() {
      uWS.us_listen_socket_close(listen_socket);
    },
  };
}
