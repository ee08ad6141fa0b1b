// Baseline (a), the limit: a bare uWebSockets.js server that app.publish()es
// the same pre-encoded Delta frames depthcast would send, one topic per view,
// with no books, no encoding and no per-client work in JavaScript. Each frame
// gets a 16-byte header (send stamp, tick, frame number; see
// bench/e2e/harness/target.ts) rewritten in place before the publish.
// Same socket settings as depthcast's server: no compression, the same
// backpressure cap. Caveat: app.publish silently skips a socket over
// maxBackpressure; clients detect that as frame-number gaps.
import uWS, { type TemplatedApp, type us_listen_socket, type WebSocket } from '../../src/server/uws.js';
import type { Recording } from '../e2e/harness/recording.js';
import { binary_frames, stamp_binary, type Target, views_from_query } from '../e2e/harness/target.js';

export const uws_backpressure_bytes_max = 5 * 1024 * 1024;

export interface BenchSocketData {
  /** Indexes of the views this client asked for (?views=…). */
  views: number[];
}

/**
 * The WebSocket route both uWS baselines share — /ws, views from the query,
 * depthcast's socket settings — plus a 404 for the rest; listens on a free
 * loopback port.
 */
export function listen_bench_app(app: TemplatedApp, topics: readonly string[], handlers: {
  open: (ws: WebSocket<BenchSocketData>) => void;
  close: (ws: WebSocket<BenchSocketData>) => void;
}): Promise<us_listen_socket> {
  app.ws<BenchSocketData>('/ws', {
    compression: uWS.DISABLED,
    maxBackpressure: uws_backpressure_bytes_max,
    idleTimeout: 60,
    upgrade: (res, req, context) => {
      res.upgrade({ views: views_from_query(req.getQuery() ?? '', topics) },
        req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: handlers.open,
    close: handlers.close,
  });
  app.any('/*', (res) => { res.writeStatus('404 Not Found').end(); });
  return new Promise<us_listen_socket>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('uWS baseline: cannot listen on a loopback port'))));
  });
}

export async function start_uws_publish(r: Recording): Promise<Target> {
  const frames = binary_frames(r);
  const topics = r.meta.views;
  const app = uWS.App();
  let connections = 0;
  let frame_no = 0;
  const listen_socket = await listen_bench_app(app, topics, {
    open: (ws) => {
      connections++;
      for (const v of ws.getUserData().views) ws.subscribe(topics[v]);
    },
    close: () => { connections--; },
  });
  return {
    kind: 'uws',
    port: uWS.us_socket_local_port(listen_socket),
    extra_pids: [],
    publish_tick(k, stamp_ns) {
      const tick = frames[k % frames.length];
      for (const f of tick) {
        stamp_binary(f.buf, stamp_ns, k, frame_no++);
        app.publish(topics[f.view], f.buf, true);
      }
      return true;
    },
    stats: () => ({ connections, frames_published: frame_no }),
    async close() {
      uWS.us_listen_socket_close(listen_socket);
    },
  };
}
