// The only importer of uWebSockets.js. Routes:
//   /ws        WebSocket endpoint (binary FlatBuffers frames, docs/PROTOCOL.md);
//              /ws?slow=close|conflate picks this connection's slow-consumer policy,
//              /ws?write_delay_ms=N its write delay (src/feed/write_delay.ts)
//   /health    200 when the bus is connected and every book is live, else 503 (JSON body says why)
//   /metrics   Prometheus text (prom-client registry)
//   /stats     JSON: symbols, views, connections, counters, latency percentiles
//              (since start, last 10 s, last 1 min)
//              (with auth on: needs a token for all symbols; it shows best prices)
//   /          the trading page (src/ui), when enabled
//   anything else: 404
// Admission (src/server/auth.ts) is decided at the upgrade: per-IP connection
// rate, origin allow-list, token. A refused connection is still upgraded and
// then closed with 4029 or 4003 and a reason, because a browser can read a
// close code but not the status of a refused upgrade.
// TLS: with --tls-cert-path/--tls-key-path the app is a uWS SSLApp (wss://, https://).
import { readFileSync, existsSync } from 'node:fs';
import { join, normalize } from 'node:path';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Feed } from '../feed/feed.js';
import type { Session, SlowPolicy } from '../feed/session.js';
import { send_dropped, type ClientTransport, type RefreshOutcome } from '../feed/transport.js';
import { parse_write_delay } from '../feed/write_delay.js';
import { logger_for } from '../util/log.js';
import { close_code, error_code, write_delay_query } from '../wire/codes.js';
import { admission_from_config, type Admission, type AdmissionStats, type Gatekeeper, type UpgradeRequest } from './auth.js';
import type { JwksCounters } from './jwks.js';
import type { TokenVerifier } from './token_verifier.js';
import uWS, { listen_owning_port, type HttpResponse, type us_listen_socket, type WebSocket } from './uws.js';
import { serve_ui_bundle, ui_bundle, ui_dir, type UiBundle } from './ui_bundle.js';
import { deflate_ratio } from './deflate_ratio.js';
import { ssl_app } from './tls_app.js';

const log = logger_for('server');

/** uWS closes a connection whose single message exceeds this (code 1009); below it we answer with an Error frame. */
export const ws_payload_bytes_hard_max_factor = 16;

interface SocketData {
  session: Session | null;
  transport: UwsTransport | null;
  remote_address: string;
  /** The client offered permessage-deflate and the server does it: catch-ups to it may go deflated. */
  deflates: boolean;
  /** From /ws?slow=…; undefined = the server's --slow-policy. */
  slow_policy: SlowPolicy | undefined;
  /** From /ws?write_delay_ms=… (parse_write_delay): the delay, and why a bad value was refused (an Error frame at open). */
  write_delay: { delay_ms: number; refusal: string | null };
  /** Set when admission refused the connection: it is closed as soon as it opens. */
  refusal: { code: number; reason: string } | null;
  /** Token expiry (ms since 1970); 0 = no token. A Refresh moves it. */
  token_exp_ms: number;
  /** The token's subject: a Refresh must present the same. */
  sub: string;
  entitled: ((symbol: string) => boolean) | undefined;
}

/** The page is bundled this long after start-up (or at its first request, if sooner). */
const page_bundle_delay_ms = 1000;

/** How often connections are checked for expired tokens, and idle per-IP buckets swept. */
const admission_sweep_ms = 1000;

const slow_policies: readonly string[] = ['conflate', 'close'] satisfies SlowPolicy[];

/** What a connection's Refresh needs, one per server (connections hold a pointer to it). */
interface ServerTokens {
  verifier: TokenVerifier;
  /** Connections whose token expires (checked every admission_sweep_ms). */
  sockets: Set<WebSocket<SocketData>>;
  stats: AdmissionStats;
}

class UwsTransport implements ClientTransport {
  entitled: ((symbol: string) => boolean) | undefined;
  /** Set by the close handler; a JS field, so the hot path makes no extra native call to learn it. */
  closed = false;

  constructor(private readonly ws: WebSocket<SocketData>, readonly remote_address: string, deflates: boolean, topics: boolean,
    readonly tokens: ServerTokens | null) {
    this.entitled = ws.getUserData().entitled;
    if (tokens === null) this.refresh = undefined;
    if (!deflates) this.deflate_ratio = undefined;
    if (!topics) {
      this.subscribe = undefined;
      this.unsubscribe = undefined;
    }
  }

  /** Present only with access control (see ClientTransport). */
  refresh?: (token: string) => Promise<RefreshOutcome> = refresh_token;

  /** Present only with --fanout-topics (see ClientTransport). */
  subscribe?: (topic: string) => void = subscribe_topic;
  unsubscribe?: (topic: string) => void = unsubscribe_topic;

  /** The socket itself, for the topic methods (shared functions, not closures per connection). */
  get socket(): WebSocket<SocketData> {
    return this.ws;
  }

  /** Present only when the client negotiated permessage-deflate (see ClientTransport). */
  deflate_ratio?: (frame: Uint8Array, now_ms: number) => number = deflate_ratio;

  send(frame: Uint8Array, compress = false): number {
    if (this.closed) return send_dropped;
    return this.ws.send(frame, true, compress);
  }

  ping(payload: Uint8Array): number {
    if (this.closed) return send_dropped;
    return this.ws.ping(payload);
  }

  buffered_bytes(): number {
    if (this.closed) return 0;
    return this.ws.getBufferedAmount();
  }

  cork(fn: () => void): void {
    if (this.closed) return;
    this.ws.cork(fn);
  }

  end(code: number, reason: string): void {
    if (this.closed) return;
    this.ws.end(code, reason);
  }
}

/** A Refresh frame's token: the same subject, valid now; from then on the connection runs on it. */
async function refresh_token(this: UwsTransport, token: string): Promise<RefreshOutcome> {
  const tokens = this.tokens!;
  const check = await tokens.verifier.verify(token, Date.now());
  if (this.closed) return { ok: false, reason: 'connection closed' };
  const data = this.socket.getUserData();
  const reason = !check.ok ? check.reason : check.grant.sub !== data.sub ? 'the new token is for another subject (sub)' : '';
  if (!check.ok || reason !== '') {
    tokens.stats.refreshes_total.refused++;
    return { ok: false, reason };
  }
  tokens.stats.refreshes_total.ok++;
  data.token_exp_ms = check.grant.exp_ms;
  data.entitled = check.grant.entitled;
  this.entitled = check.grant.entitled;
  tokens.sockets.add(this.socket);
  return { ok: true, expires_at_ms: check.grant.exp_ms, entitled: check.grant.entitled };
}

function subscribe_topic(this: UwsTransport, topic: string): void {
  if (!this.closed) this.socket.subscribe(topic);
}

function unsubscribe_topic(this: UwsTransport, topic: string): void {
  if (!this.closed) this.socket.unsubscribe(topic);
}

export interface ServerHandle {
  port: number;
  host: string;
  /** Serving wss:// and https://. */
  tls: boolean;
  /** Refusals and token expiries (read by src/metrics at scrape time). */
  admission: AdmissionStats;
  /** Where tokens' keys come from, for the JWKS metrics; null without --auth-jwks. */
  jwks: JwksCounters | null;
  close(): void;
}

export interface ServerDeps {
  feed: Feed;
  registry: Registry;
  config: Readonly<Config>;
  /** More /stats sections, read per request; a key here replaces the feed's own (app.ts: latency_us with windows). */
  stats_sections?: () => Record<string, unknown>;
}

/** The static files the page may load from src/ui; anything else there (its TypeScript sources) is not served. */
const content_types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
};

function send_json(res: HttpResponse, status: string, body: unknown): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store').end(JSON.stringify(body));
  });
}

export async function start_server(deps: ServerDeps): Promise<ServerHandle> {
  return serve(deps, await admission_from_config(deps.config));
}

function serve(deps: ServerDeps, gatekeeper: Gatekeeper): Promise<ServerHandle> {
  const { feed, registry, config } = deps;
  const tls = config.tls_cert_path !== '';
  const app = tls ? ssl_app(config.tls_cert_path, config.tls_key_path) : uWS.App();
  const jwks_started = gatekeeper.verifier?.jwks?.start() ?? Promise.resolve();
  const admission_stats: AdmissionStats = { refused_total: {}, refused_by_reason: {}, token_expired_total: 0, refreshes_total: { ok: 0, refused: 0 } };
  const token_sockets = new Set<WebSocket<SocketData>>();
  const server_tokens: ServerTokens | null = gatekeeper.verifier === null ? null : { verifier: gatekeeper.verifier, sockets: token_sockets, stats: admission_stats };
  const sweep_timer = setInterval(() => {
    const now_ms = Date.now();
    gatekeeper.limiter.sweep(now_ms);
    for (const ws of token_sockets) {
      if (ws.getUserData().token_exp_ms > now_ms) continue;
      token_sockets.delete(ws);
      admission_stats.token_expired_total++;
      ws.end(close_code.unauthorized, 'token expired');
    }
  }, admission_sweep_ms);
  sweep_timer.unref();

  app.ws<SocketData>('/ws', {
    // Offered for one use: a lagging reader's catch-ups go deflated (Session). Shared (de)compressor:
    // no per-connection zlib memory; inflated client frames are still held to maxPayloadLength.
    compression: config.slow_reader_compression ? uWS.SHARED_COMPRESSOR | uWS.SHARED_DECOMPRESSOR : uWS.DISABLED,
    maxPayloadLength: config.inbound_frame_bytes_max * ws_payload_bytes_hard_max_factor,
    idleTimeout: config.idle_timeout_s,
    sendPingsAutomatically: true,
    // Without topics: our own hard cap closes first (Session.check_backpressure); this is a backstop so
    // uWS never silently drops: a send refused with 2 closes the connection too.
    // With topics: 0, no limit. uWS skips a socket over maxBackpressure in a publish without telling
    // anyone (no dropped handler in this version; closeOnBackpressureLimit only half-closes it later),
    // and a skipped Delta breaks a book. Session bounds each socket instead (tick_published).
    maxBackpressure: config.fanout_topics ? 0 : config.send_buffer_bytes_max + 1024 * 1024,
    upgrade: (res, req, context) => {
      const remote_address = Buffer.from(res.getRemoteAddressAsText()).toString();
      const slow = req.getQuery('slow');
      if (slow !== undefined && !slow_policies.includes(slow)) {
        res.cork(() => {
          res.writeStatus('400 Bad Request').end(`slow must be one of ${slow_policies.join(', ')}; got '${slow.slice(0, 32)}'`);
        });
        return;
      }
      const write_delay = parse_write_delay(req.getQuery(write_delay_query), config.write_delay_ms_max);
      // Everything of `req` is read now: it is gone once this handler returns (the token check may not be done by then).
      const extensions = req.getHeader('sec-websocket-extensions');
      const key = req.getHeader('sec-websocket-key');
      const upgrade_req: UpgradeRequest = {
        remote_address, origin: req.getHeader('origin'), query_token: req.getQuery('token') ?? '', protocols: req.getHeader('sec-websocket-protocol'),
      };
      const finish = (admission: Admission) => {
        const refusal = admission.ok ? null : { code: admission.code, reason: admission.reason };
        if (!admission.ok) {
          admission_stats.refused_total[admission.code] = (admission_stats.refused_total[admission.code] ?? 0) + 1;
          admission_stats.refused_by_reason[admission.kind] = (admission_stats.refused_by_reason[admission.kind] ?? 0) + 1;
        }
        res.upgrade<SocketData>(
          {
            session: null, transport: null, remote_address, slow_policy: slow as SlowPolicy | undefined, write_delay, refusal,
            deflates: config.slow_reader_compression && extensions.includes('permessage-deflate'),
            token_exp_ms: admission.ok ? (admission.grant?.exp_ms ?? 0) : 0, entitled: admission.ok ? admission.grant?.entitled : undefined,
            sub: admission.ok ? (admission.grant?.sub ?? '') : '',
          },
          key, admission.protocol, extensions, context,
        );
      };
      const admission = gatekeeper.admit(upgrade_req, Date.now());
      if (!(admission instanceof Promise)) {
        finish(admission);
        return;
      }
      // The token check is asynchronous (a JWKS refetch may be part of it): the client may be gone by then.
      let aborted = false;
      res.onAborted(() => { aborted = true; });
      void admission.then((a) => {
        if (!aborted) res.cork(() => finish(a));
      });
    },
    open: (ws) => {
      const data = ws.getUserData();
      if (data.refusal !== null) {
        ws.end(data.refusal.code, data.refusal.reason);
        return;
      }
      if (data.token_exp_ms > 0) token_sockets.add(ws);
      data.transport = new UwsTransport(ws, data.remote_address, data.deflates, config.fanout_topics, server_tokens);
      data.session = feed.open_session(data.transport, { slow_policy: data.slow_policy, write_delay_ms: data.write_delay.delay_ms });
      // An Error frame, not an HTTP 400: a browser can read a frame, not the status of a refused upgrade. It streams undelayed.
      if (data.write_delay.refusal !== null) feed.send_error(data.session, error_code.bad_write_delay, data.write_delay.refusal, '');
    },
    message: (ws, message, is_binary) => {
      const session = ws.getUserData().session;
      if (session === null) return;
      try {
        if (!is_binary) feed.on_text_frame(session);
        else feed.on_client_frame(session, new Uint8Array(message)); // decoded within the call; never kept
      } catch (err) {
        // A bug of ours must not take the server down with it; the client learns nothing went through.
        log.error({ err: (err as Error).stack }, 'unexpected error handling a client frame');
        feed.send_error(session, error_code.bad_request, 'internal error handling the frame', '');
      }
    },
    pong: (ws, message) => {
      const session = ws.getUserData().session;
      if (session !== null) feed.on_pong(session, new Uint8Array(message)); // read within the call; never kept
    },
    drain: (ws) => {
      const session = ws.getUserData().session;
      if (session !== null) feed.on_drain(session);
    },
    close: (ws, code) => {
      const data = ws.getUserData();
      if (data.transport !== null) data.transport.closed = true;
      token_sockets.delete(ws);
      if (data.session !== null) feed.close_session(data.session, code);
    },
  });

  // One publish per update per view; uWS copies the frame (small ones into its batch, large ones straight to each socket).
  if (config.fanout_topics) feed.set_publisher({ publish: (topic, frame) => { app.publish(topic, frame, true, false); } });

  app.get('/health', (res) => {
    const h = feed.health();
    send_json(res, h.ready ? '200 OK' : '503 Service Unavailable', h);
  });

  app.get('/stats', (res, req) => {
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    void gatekeeper.check_operator(req.getQuery('token') ?? '', req.getHeader('authorization'), Date.now()).then((refusal) => {
      if (aborted) return;
      if (refusal !== undefined) send_json(res, '401 Unauthorized', { error: refusal });
      else send_json(res, '200 OK', { ...feed.stats(), ...deps.stats_sections?.(), admission: { ...admission_stats, ip_buckets: gatekeeper.limiter.size, auth: gatekeeper.auth_enabled } });
    });
  });

  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    registry.metrics().then((text) => {
      if (aborted) return;
      res.cork(() => { res.writeStatus('200 OK').writeHeader('content-type', registry.contentType).end(text); });
    }, (err: unknown) => {
      if (aborted) return;
      res.cork(() => { res.writeStatus('500 Internal Server Error').end(String(err)); });
    });
  });

  if (config.ui) {
    // The page's script is bundled in memory (src/server/ui_bundle.ts); its other files come from src/ui.
    // Bundled once the service is up (esbuild would compete with start-up for the CPU), or at the first request for it.
    let page_bundle: Promise<UiBundle> | null = null;
    const get_bundle = () => (page_bundle ??= ui_bundle());
    setTimeout(get_bundle, page_bundle_delay_ms).unref();
    app.get('/*', (res, req) => {
      const url = req.getUrl();
      if (serve_ui_bundle(res, url, get_bundle)) return;
      const rel = url === '/' ? 'index.html' : normalize(url.slice(1));
      const file = join(ui_dir, rel);
      const ext = file.slice(file.lastIndexOf('.'));
      if (!file.startsWith(ui_dir) || rel.includes('..') || content_types[ext] === undefined || !existsSync(file)) {
        res.cork(() => { res.writeStatus('404 Not Found').end('not found'); });
        return;
      }
      const body = readFileSync(file);
      res.cork(() => {
        res.writeStatus('200 OK').writeHeader('content-type', content_types[ext]).writeHeader('cache-control', 'no-cache').end(body);
      });
    });
  }

  app.any('/*', (res) => {
    res.cork(() => { res.writeStatus('404 Not Found').end('not found'); });
  });

  // The first JWKS fetch is tried before listening, so the first clients are not refused for want of keys.
  return jwks_started.then(() => new Promise((resolve, reject) => {
    listen_owning_port(app, config.host, config.port, (listen_socket: us_listen_socket | false) => {
      if (!listen_socket) {
        clearInterval(sweep_timer);
        gatekeeper.verifier?.jwks?.stop();
        reject(new Error(`cannot listen on ${config.host}:${config.port} (in use or not permitted)`));
        return;
      }
      const port = uWS.us_socket_local_port(listen_socket);
      log.info({ host: config.host, port, tls, auth: gatekeeper.auth_enabled, origins: config.origin_allow_list.length }, 'listening');
      resolve({
        port,
        host: config.host,
        tls,
        admission: admission_stats,
        jwks: gatekeeper.verifier?.jwks?.counters ?? null,
        close: () => {
          clearInterval(sweep_timer);
          gatekeeper.verifier?.jwks?.stop();
          uWS.us_listen_socket_close(listen_socket);
        },
      });
    });
  }));
}
