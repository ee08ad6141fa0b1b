// The Binance-compatible gateway's listener (docs/GATEWAYS.md), on its own
// port (--gateway-binance-port; off by default). What it serves is decided
// in src/gateway/gateway.ts; this file only moves bytes between uWS and it.
//   /ws, /ws/<stream>[/<stream>…]        raw streams: each message is the event itself
//   /stream, /stream?streams=<a>/<b>, /stream/<anything>
//                                        combined streams: {"stream":…,"data":…}
//   GET /api/v3/depth, /api/v3/exchangeInfo, /api/v3/ping, /api/v3/time
//   anything else: 404
// A path segment without '@' names no stream and is ignored, as Binance
// does (ccxt connects to <ws base>/<connection index>, e.g. /stream/0); one
// with '@' that names no served stream is refused at the upgrade (HTTP 400).
// Gateway connections are the feed's Sessions (slow policy 'close'): pongs
// and drains go to the feed, which decides when a reader is too slow.
//
// Cost: per message from a client one copy to a string; per REST request a
// token-bucket take and the answer's encode.
import type { Config } from '../config.js';
import type { Feed } from '../feed/feed.js';
import { send_dropped, type ClientTransport } from '../feed/transport.js';
import { rest_error, rest_error_body, ws_error, ws_error_json } from '../gateway/binance_format.js';
import { Gateway, type GatewayConnection, type RestAnswer } from '../gateway/gateway.js';
import type { StreamRef } from '../gateway/binance_requests.js';
import { logger_for } from '../util/log.js';
import uWS, { listen_owning_port, type HttpResponse, type us_listen_socket, type WebSocket } from './uws.js';

const log = logger_for('gateway');

/** Largest method frame a client may send (a SUBSCRIBE of 1,024 streams is ~30 KB); uWS closes above it (1009). */
export const method_frame_bytes_max = 64 * 1024;

interface GatewaySocket {
  streams: StreamRef[];
  combined: boolean;
  remote_address: string;
  conn: GatewayConnection | null;
  transport: TextTransport | null;
}

/** A gateway socket as the feed's ClientTransport: text frames (JSON), never compressed; it takes topics (the streams). */
class TextTransport implements ClientTransport {
  closed = false;
  constructor(private readonly ws: WebSocket<GatewaySocket>, readonly remote_address: string) {}
  send(frame: Uint8Array): number {
    return this.closed ? send_dropped : this.ws.send(frame, false, false);
  }
  ping(payload: Uint8Array): number {
    return this.closed ? send_dropped : this.ws.ping(payload);
  }
  buffered_bytes(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }
  subscribe(topic: string): void {
    if (!this.closed) this.ws.subscribe(topic);
  }
  unsubscribe(topic: string): void {
    if (!this.closed) this.ws.unsubscribe(topic);
  }
  cork(fn: () => void): void {
    if (!this.closed) this.ws.cork(fn);
  }
  end(code: number, reason: string): void {
    if (!this.closed) this.ws.end(code, reason);
  }
}

export interface GatewayServerHandle {
  gateway: Gateway;
  port: number;
  close(): void;
}

function answer(res: HttpResponse, a: RestAnswer): void {
  const status = a.status === 200 ? '200 OK' : a.status === 400 ? '400 Bad Request' : a.status === 429 ? '429 Too Many Requests' : '503 Service Unavailable';
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json;charset=UTF-8').end(a.body);
  });
}

export function start_gateway_server(feed: Feed, config: Readonly<Config>): Promise<GatewayServerHandle> {
  const app = uWS.App();
  const gateway = new Gateway(feed, config.symbols, {
    streams_per_connection_max: config.gateway_streams_per_connection_max,
    method_frames_per_s_max: config.gateway_method_frames_per_s_max,
    rest_requests_per_s_max: config.gateway_rest_requests_per_s_max,
    depth_levels_max: config.gateway_depth_levels_max,
  }, { publish: (topic, frame) => { app.publish(topic, frame, false, false); } }); // one text publish per update per stream form
  const behavior: uWS.WebSocketBehavior<GatewaySocket> = {
    compression: uWS.DISABLED,
    maxPayloadLength: method_frame_bytes_max,
    idleTimeout: config.idle_timeout_s,
    sendPingsAutomatically: true,
    // 0, no limit, as for the feed's topics (server.ts): uWS would skip a socket over it in a publish without
    // telling anyone, and a skipped event breaks a Binance book. The feed's Session bounds each socket (4008/4009/4010).
    maxBackpressure: 0,
    upgrade: (res, req, context) => {
      const url = req.getUrl();
      const combined = url.startsWith('/stream');
      const names = url.split('/').slice(2);
      if (combined) names.push(...(req.getQuery('streams') ?? '').split('/'));
      const streams = gateway.path_streams(names.filter((n) => n !== ''));
      if (typeof streams === 'string') {
        const body = rest_error_body(rest_error.bad_symbol, streams);
        res.cork(() => { res.writeStatus('400 Bad Request').writeHeader('content-type', 'application/json').end(body); });
        return;
      }
      const remote_address = Buffer.from(res.getRemoteAddressAsText()).toString();
      res.upgrade<GatewaySocket>({ streams, combined, remote_address, conn: null, transport: null },
        req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      const data = ws.getUserData();
      data.transport = new TextTransport(ws, data.remote_address);
      data.conn = gateway.open(data.transport, data.streams, data.combined);
    },
    message: (ws, message, is_binary) => {
      const conn = ws.getUserData().conn;
      if (conn === null) return;
      try {
        if (is_binary) conn.session.queue(Buffer.from(ws_error_json(ws_error.invalid_json, 'Invalid JSON: binary frames are not read; send text', null)));
        else gateway.on_text(conn, Buffer.from(message).toString('utf8')); // copied: the buffer is invalid after return
      } catch (err) {
        log.error({ err: (err as Error).stack }, 'unexpected error handling a gateway frame');
      }
    },
    pong: (ws, message) => {
      const conn = ws.getUserData().conn;
      if (conn !== null) feed.on_pong(conn.session, new Uint8Array(message));
    },
    drain: (ws) => {
      const conn = ws.getUserData().conn;
      if (conn !== null) feed.on_drain(conn.session);
    },
    close: (ws, code) => {
      const data = ws.getUserData();
      if (data.transport !== null) data.transport.closed = true;
      if (data.conn !== null) gateway.on_close(data.conn, code);
    },
  };
  for (const pattern of ['/ws', '/ws/*', '/stream', '/stream/*']) app.ws<GatewaySocket>(pattern, behavior);

  /** Set by close(): uWS closes only the listener, and a client's keep-alive connection would still reach this stopped gateway's frozen books. */
  let closed = false;
  const rest = (path: string, handle: (req: uWS.HttpRequest, now_ms: number) => RestAnswer): void => {
    app.get(path, (res, req) => {
      if (closed) {
        res.close(); // the client reconnects, to whatever listens now
        return;
      }
      const now_ms = Date.now();
      const refusal = gateway.admit_rest(Buffer.from(res.getRemoteAddressAsText()).toString(), now_ms);
      answer(res, refusal ?? handle(req, now_ms));
    });
  };
  rest('/api/v3/depth', (req) => gateway.rest_depth(req.getQuery('symbol'), req.getQuery('limit')));
  rest('/api/v3/exchangeInfo', (_req, now_ms) => gateway.rest_exchange_info(now_ms));
  rest('/api/v3/ping', () => gateway.rest_answer('ping', 200, 0, '{}'));
  rest('/api/v3/time', (_req, now_ms) => gateway.rest_answer('time', 200, 0, `{"serverTime":${now_ms}}`));
  app.any('/*', (res) => {
    res.cork(() => { res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json').end(rest_error_body(-1000, 'Not found.')); });
  });

  gateway.start();
  return new Promise((resolve, reject) => {
    listen_owning_port(app, config.host, config.gateway_binance_port, (listen_socket: us_listen_socket | false) => {
      if (!listen_socket) {
        gateway.stop();
        reject(new Error(`gateway: cannot listen on ${config.host}:${config.gateway_binance_port} (in use or not permitted)`));
        return;
      }
      const port = uWS.us_socket_local_port(listen_socket);
      log.info({ host: config.host, port }, 'Binance gateway listening');
      resolve({
        gateway,
        port,
        close: () => {
          closed = true;
          gateway.stop();
          uWS.us_listen_socket_close(listen_socket);
        },
      });
    });
  });
}
