// Every tunable of depthcast in one table: name, CLI flag, environment
// variable, type, bounds, default and help. The CLI, --help and validation all
// come from this table; values are validated once at start-up and frozen.
// Limits are named *_max with their unit last. Flags are read by the project's
// one flag parser (src/util/flags.ts).

import { find_flag, parse_flag_value, scan_flags, type FlagKind } from './util/flags.js';
import { symbol_list_problem } from './util/symbol.js';
import { is_valid_subject_prefix } from './bus/subjects.js';
import { parse_time_ms, time_arg_help } from './util/time_arg.js';

export type Command = 'all' | 'engine' | 'feed' | 'record' | 'replay' | 'book-at';


export interface OptionSpec {
  key: keyof Config;
  flag: string;
  env: string;
  kind: FlagKind;
  default: unknown;
  min?: number;
  max?: number;
  commands: readonly Command[];
  help: string;
  validate?: (value: unknown) => string | undefined;
}

export interface Config {
  nats_url: string;              // '' = embedded in-process bus (only for `all`)
  subject_prefix: string;
  symbols: string[];
  seed: number;
  rate_orders_per_s: number;     // total incoming orders per second over all symbols
  burst_factor: number;          // rate multiplier inside a burst
  batch_events_max: number;
  batch_bytes_max: number;
  batch_interval_ms_max: number;
  engine_heartbeat_interval_ms: number;
  engine_silence_ms_max: number;
  nats_paths: number;            // feed: NATS connections to distinct nodes (2 = two paths, arbitrated by seq)
  path_hold_ms_max: number;      // feed: how long a gap on one path waits for the other before the stream fills it
  host: string;
  port: number;
  ui: boolean;
  gateway_binance_port: number;  // -1 = no Binance gateway (default); 0 = any free port (docs/GATEWAYS.md)
  gateway_streams_per_connection_max: number;
  gateway_method_frames_per_s_max: number;
  gateway_rest_requests_per_s_max: number;
  gateway_depth_levels_max: number;
  subscriptions_per_connection_max: number;
  inbound_frame_bytes_max: number;
  inbound_messages_per_s_max: number;
  send_buffer_bytes_max: number;
  slow_enter_bytes: number;
  slow_exit_bytes: number;
  conflation_levels_max: number;
  slow_policy: 'conflate' | 'close';
  reader_lag_target_ms: number;
  in_flight_bytes_min: number;
  in_flight_bytes_max: number;
  reader_probe_interval_ms: number;
  reader_lag_ms_max: number;
  slow_reader_compression: boolean;
  fanout_topics: boolean;
  heartbeat_interval_ms: number;
  write_delay_ms_max: number;    // largest write delay a connection may ask for (/ws?write_delay_ms=N; write_delay.ts)
  idle_timeout_s: number;
  snapshot_timeout_ms: number;
  stream: boolean;               // with NATS: keep events and book snapshots in a JetStream stream; feeds recover from it
  stream_age_s_max: number;
  stream_bytes_max: number;
  stream_replicas: number;
  stream_snapshot_interval_ms: number;
  log_level: string;
  new_connections_per_ip_per_s_max: number; // 0 = no limit
  auth_secret: string;           // '' = no HS256 tokens; with auth_jwks '' too, no access control (default)
  auth_jwks: string;             // '' = no RS256/ES256/EdDSA tokens; else a JWKS file path or http(s) URL
  auth_issuer: string;           // '' = iss not checked
  auth_audience: string;         // '' = aud not checked
  auth_clock_skew_s: number;
  auth_entitlements_claim: string;
  jwks_bytes_max: number;
  jwks_keys_max: number;
  jwks_fetch_timeout_ms: number;
  jwks_refresh_interval_ms: number;
  jwks_unknown_kid_refetch_interval_ms: number;
  origin_allow_list: string[];   // [] = any Origin
  tls_cert_path: string;         // both set = wss:// and https:// (uWS SSLApp); both empty = plain
  tls_key_path: string;
  recording_dir: string;         // record, replay, book-at (docs/RECORDING.md)
  record_segment_bytes_max: number;
  record_segment_age_s_max: number;
  record_bytes_max: number;
  record_checkpoint_interval_ms: number;
  replay_speed: string;          // '1', '10', '0.5' or 'max'
  replay_from: string;           // '' = the recording's start; else a time (util/time_arg.ts)
  replay_to: string;             // '' = its end
  replay_loop: boolean;
  replay_chunk_events_max: number;
  book_at_time: string;
  book_at_symbol: string;
  json: boolean;
}

const both: readonly Command[] = ['all', 'engine', 'feed', 'replay'];
const engine_cmds: readonly Command[] = ['all', 'engine'];
/** `replay` runs a feed in-process too, so it takes every feed option. */
const feed_cmds: readonly Command[] = ['all', 'feed', 'replay'];
const bus_cmds: readonly Command[] = ['all', 'engine', 'feed', 'record', 'replay'];
const recording_cmds: readonly Command[] = ['record', 'replay', 'book-at'];
const time_problem = (v: unknown): string | undefined =>
  v === '' || parse_time_ms(v as string) !== undefined ? undefined : `expected ${time_arg_help}, got '${String(v)}'`;

export const option_specs: readonly OptionSpec[] = [
  { key: 'nats_url', flag: '--nats-url', env: 'DEPTHCAST_NATS_URL', kind: 'string', default: '', commands: bus_cmds,
    help: "NATS server URL(s), comma-separated. Empty with 'all' or 'replay' = embedded in-process bus; 'engine', 'feed' and 'record' need one (default nats://127.0.0.1:4222)",
    validate: (v) => (v as string).split(',').filter(Boolean).every((u) => /^(nats|tls):\/\/[^\s/]+$/.test(u.trim()))
      ? undefined : `expected nats://host:port[,nats://host:port…], got '${String(v)}'` },
  { key: 'subject_prefix', flag: '--subject-prefix', env: 'DEPTHCAST_SUBJECT_PREFIX', kind: 'string', default: 'depthcast', commands: bus_cmds,
    help: 'First token(s) of every NATS subject',
    validate: (v) => is_valid_subject_prefix(v as string) ? undefined : `expected dot-separated tokens of [A-Za-z0-9_-], got '${String(v)}'` },
  { key: 'symbols', flag: '--symbols', env: 'DEPTHCAST_SYMBOLS', kind: 'list', default: ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'], commands: both,
    help: "Symbols, comma-separated (engine: the books it runs; feed: the books it serves; replay: the recording's symbols unless given)",
    validate: (v) => {
      const list = v as string[];
      if (list.length > 256) return 'at most 256 symbols';
      return symbol_list_problem(list);
    } },
  { key: 'seed', flag: '--seed', env: 'DEPTHCAST_SEED', kind: 'int', default: 1, min: 0, max: 2 ** 32 - 1, commands: engine_cmds,
    help: 'Seed of the order-flow generator: same seed and config give the same event stream' },
  { key: 'rate_orders_per_s', flag: '--rate', env: 'DEPTHCAST_RATE', kind: 'number', default: 2000, min: 1, max: 2_000_000, commands: engine_cmds,
    help: 'Incoming orders per second, total over all symbols (each order makes about 1-2 book events)' },
  { key: 'burst_factor', flag: '--burst-factor', env: 'DEPTHCAST_BURST_FACTOR', kind: 'number', default: 5, min: 1, max: 100, commands: engine_cmds,
    help: 'Rate multiplier inside a burst (bursts are random, a few per minute)' },
  { key: 'batch_events_max', flag: '--batch-events-max', env: 'DEPTHCAST_BATCH_EVENTS_MAX', kind: 'int', default: 512, min: 1, max: 65536, commands: engine_cmds,
    help: 'Most book events in one bus message' },
  { key: 'batch_bytes_max', flag: '--batch-bytes-max', env: 'DEPTHCAST_BATCH_BYTES_MAX', kind: 'int', default: 64 * 1024, min: 1024, max: 1024 * 1024, commands: engine_cmds,
    help: 'Most bytes in one bus message' },
  { key: 'batch_interval_ms_max', flag: '--batch-interval-ms-max', env: 'DEPTHCAST_BATCH_INTERVAL_MS_MAX', kind: 'int', default: 2, min: 0, max: 1000, commands: engine_cmds,
    help: 'Longest an event waits in the publisher before its batch is sent' },
  { key: 'engine_heartbeat_interval_ms', flag: '--engine-heartbeat-interval-ms', env: 'DEPTHCAST_ENGINE_HEARTBEAT_INTERVAL_MS', kind: 'int', default: 1000, min: 10, max: 60000, commands: [...engine_cmds, 'replay'],
    help: 'A symbol that published nothing for this long gets an engine heartbeat (an empty batch at its next seq)' },
  { key: 'engine_silence_ms_max', flag: '--engine-silence-ms-max', env: 'DEPTHCAST_ENGINE_SILENCE_MS_MAX', kind: 'int', default: 5000, min: 100, max: 600000, commands: feed_cmds,
    help: 'A live symbol that hears nothing from the engine (no batch, no heartbeat) for this long goes to recovering: its clients see Status recovering instead of a book that silently stopped' },
  { key: 'nats_paths', flag: '--nats-paths', env: 'DEPTHCAST_NATS_PATHS', kind: 'int', default: 2, min: 1, max: 2, commands: ['feed'],
    help: 'With two or more --nats-url nodes, the feed keeps this many connections on distinct nodes, each subscribed to every batch, and takes each batch once by seq: losing one node costs its clients nothing (docs/SCALING.md). 1 = one connection' },
  { key: 'path_hold_ms_max', flag: '--path-hold-ms-max', env: 'DEPTHCAST_PATH_HOLD_MS_MAX', kind: 'int', default: 100, min: 0, max: 5000, commands: feed_cmds,
    help: 'With two NATS paths, a gap on one waits this long for the other path to bring the missing batches before the stream (then the engine) fills it' },
  { key: 'host', flag: '--host', env: 'DEPTHCAST_HOST', kind: 'string', default: '127.0.0.1', commands: feed_cmds,
    help: 'Address the feed listens on' },
  { key: 'port', flag: '--port', env: 'DEPTHCAST_PORT', kind: 'int', default: 8080, min: 0, max: 65535, commands: feed_cmds,
    help: 'Port of the WebSocket endpoint (/ws), the page (/), /health, /metrics and /stats; 0 = any free port' },
  { key: 'ui', flag: '--ui', env: 'DEPTHCAST_UI', kind: 'bool', default: true, commands: feed_cmds,
    help: 'Serve the trading page at /' },
  { key: 'gateway_binance_port', flag: '--gateway-binance-port', env: 'DEPTHCAST_GATEWAY_BINANCE_PORT', kind: 'int', default: -1, min: -1, max: 65535, commands: feed_cmds,
    help: 'Port of the Binance-compatible gateway (spot diff-depth streams at /ws and /stream, REST at /api/v3/; docs/GATEWAYS.md); -1 = off, 0 = any free port' },
  { key: 'gateway_streams_per_connection_max', flag: '--gateway-streams-per-connection-max', env: 'DEPTHCAST_GATEWAY_STREAMS_PER_CONNECTION_MAX', kind: 'int', default: 1024, min: 1, max: 65536, commands: feed_cmds,
    help: "Most streams one gateway connection may subscribe to (Binance's limit: 1024)" },
  { key: 'gateway_method_frames_per_s_max', flag: '--gateway-method-frames-per-s-max', env: 'DEPTHCAST_GATEWAY_METHOD_FRAMES_PER_S_MAX', kind: 'int', default: 5, min: 1, max: 10000, commands: feed_cmds,
    help: "Method frames (SUBSCRIBE, ...) per second one gateway connection may send; 4x over it closes the connection (Binance's limit: 5)" },
  { key: 'gateway_rest_requests_per_s_max', flag: '--gateway-rest-requests-per-s-max', env: 'DEPTHCAST_GATEWAY_REST_REQUESTS_PER_S_MAX', kind: 'int', default: 20, min: 1, max: 100000, commands: feed_cmds,
    help: 'Gateway REST requests per second per client IP; more are answered 429 with code -1003' },
  { key: 'gateway_depth_levels_max', flag: '--gateway-depth-levels-max', env: 'DEPTHCAST_GATEWAY_DEPTH_LEVELS_MAX', kind: 'int', default: 5000, min: 1, max: 100000, commands: feed_cmds,
    help: "Most levels per side GET /api/v3/depth returns; a larger limit is cut to it, as Binance does (Binance's maximum: 5000)" },
  { key: 'subscriptions_per_connection_max', flag: '--subscriptions-per-connection-max', env: 'DEPTHCAST_SUBSCRIPTIONS_PER_CONNECTION_MAX', kind: 'int', default: 64, min: 1, max: 4096, commands: feed_cmds,
    help: 'Most (symbol, depth) views one connection may subscribe to' },
  { key: 'inbound_frame_bytes_max', flag: '--inbound-frame-bytes-max', env: 'DEPTHCAST_INBOUND_FRAME_BYTES_MAX', kind: 'int', default: 4096, min: 256, max: 1024 * 1024, commands: feed_cmds,
    help: 'Largest client frame accepted; larger ones get an Error frame' },
  { key: 'inbound_messages_per_s_max', flag: '--inbound-messages-per-s-max', env: 'DEPTHCAST_INBOUND_MESSAGES_PER_S_MAX', kind: 'int', default: 50, min: 1, max: 100000, commands: feed_cmds,
    help: 'Client frames per second per connection before frames are refused (Error), and at 4x, closed' },
  { key: 'send_buffer_bytes_max', flag: '--send-buffer-bytes-max', env: 'DEPTHCAST_SEND_BUFFER_BYTES_MAX', kind: 'int', default: 4 * 1024 * 1024, min: 64 * 1024, max: 256 * 1024 * 1024, commands: feed_cmds,
    help: 'Hard cap on bytes buffered for one connection, whatever the slow policy' },
  { key: 'slow_enter_bytes', flag: '--slow-enter-bytes', env: 'DEPTHCAST_SLOW_ENTER_BYTES', kind: 'int', default: 256 * 1024, min: 1024, max: 64 * 1024 * 1024, commands: feed_cmds,
    help: 'Buffered bytes at which a connection counts as slow (starts conflating)' },
  { key: 'slow_exit_bytes', flag: '--slow-exit-bytes', env: 'DEPTHCAST_SLOW_EXIT_BYTES', kind: 'int', default: 16 * 1024, min: 0, max: 64 * 1024 * 1024, commands: feed_cmds,
    help: 'Buffered bytes below which a slow connection counts as drained (hysteresis)' },
  { key: 'conflation_levels_max', flag: '--conflation-levels-max', env: 'DEPTHCAST_CONFLATION_LEVELS_MAX', kind: 'int', default: 2000, min: 10, max: 1_000_000, commands: feed_cmds,
    help: 'Changed levels remembered per view for a conflating client; past it, it gets a fresh snapshot' },
  { key: 'slow_policy', flag: '--slow-policy', env: 'DEPTHCAST_SLOW_POLICY', kind: 'string', default: 'conflate', commands: feed_cmds,
    help: "What happens to a slow client: 'conflate' (coalesced diffs) or 'close' (close code 4008)",
    validate: (v) => (v === 'conflate' || v === 'close') ? undefined : `expected 'conflate' or 'close', got '${String(v)}'` },
  { key: 'reader_lag_target_ms', flag: '--reader-lag-target-ms', env: 'DEPTHCAST_READER_LAG_TARGET_MS', kind: 'int', default: 500, min: 20, max: 60000, commands: feed_cmds,
    help: "Staleness the per-connection in-flight cap aims at: a connection gets at most what its reader drained in this long (measured with WebSocket pings and Ack frames); past that it conflates (docs/PROTOCOL.md, Slow readers)" },
  { key: 'in_flight_bytes_min', flag: '--in-flight-bytes-min', env: 'DEPTHCAST_IN_FLIGHT_BYTES_MIN', kind: 'int', default: 4 * 1024, min: 512, max: 64 * 1024 * 1024, commands: feed_cmds,
    help: "Floor of a connection's in-flight cap (and the cap before its reader's rate is known)" },
  { key: 'in_flight_bytes_max', flag: '--in-flight-bytes-max', env: 'DEPTHCAST_IN_FLIGHT_BYTES_MAX', kind: 'int', default: 240 * 1024, min: 4096, max: 256 * 1024 * 1024, commands: feed_cmds,
    help: 'Most bytes sent to one connection and not yet acknowledged by its reader, in every buffer on the way (ours, the kernel\'s, a proxy\'s). Checked after each flush, so one turn\'s frames may cross it: the default leaves 16 KiB below 256 KiB for that' },
  { key: 'reader_probe_interval_ms', flag: '--reader-probe-interval-ms', env: 'DEPTHCAST_READER_PROBE_INTERVAL_MS', kind: 'int', default: 100, min: 0, max: 10000, commands: feed_cmds,
    help: 'A WebSocket ping carrying the byte offset goes to each connection this often while data flows: its pong tells how far behind the reader is. 0 = no probes: slowness is seen only in the server\'s own buffer (the old behaviour, for comparison)' },
  { key: 'reader_lag_ms_max', flag: '--reader-lag-ms-max', env: 'DEPTHCAST_READER_LAG_MS_MAX', kind: 'int', default: 5000, min: 100, max: 600000, commands: feed_cmds,
    help: 'A reader this far behind that, at its measured rate, also needs longer than this to read --in-flight-bytes-min (about one catch-up) is too slow even for catch-ups: closed with 4010. A paused reader that was fast is not' },
  { key: 'slow_reader_compression', flag: '--slow-reader-compression', env: 'DEPTHCAST_SLOW_READER_COMPRESSION', kind: 'bool', default: true, commands: feed_cmds,
    help: 'Offer permessage-deflate, and compress the catch-ups a lagging reader gets (about 4x smaller: fresher books on a thin link); streaming frames are never compressed' },
  { key: 'fanout_topics', flag: '--fanout-topics', env: 'DEPTHCAST_FANOUT_TOPICS', kind: 'bool', default: true, commands: feed_cmds,
    help: "Streaming subscribers get a view's Deltas through uWS topics: one publish per update, sent to each socket by uWS's C++ (in order with that socket's other frames); --no-fanout-topics sends each connection its copy from JS" },
  { key: 'write_delay_ms_max', flag: '--write-delay-ms-max', env: 'DEPTHCAST_WRITE_DELAY_MS_MAX', kind: 'int', default: 100, min: 0, max: 10000, commands: feed_cmds,
    help: 'Largest write delay a connection may ask for with /ws?write_delay_ms=N (its frames then go at most every N ms, in one write: docs/PROTOCOL.md §5.10); a larger value gets Error 15 and no delay. 0 = no delays' },
  { key: 'heartbeat_interval_ms', flag: '--heartbeat-interval-ms', env: 'DEPTHCAST_HEARTBEAT_INTERVAL_MS', kind: 'int', default: 1000, min: 50, max: 60000, commands: feed_cmds,
    help: 'A Heartbeat goes to every connection idle this long' },
  { key: 'idle_timeout_s', flag: '--idle-timeout-s', env: 'DEPTHCAST_IDLE_TIMEOUT_S', kind: 'int', default: 32, min: 8, max: 960, commands: feed_cmds,
    help: 'A connection that sends nothing (not even a WebSocket pong) for this long is closed (half-open sockets)' },
  { key: 'snapshot_timeout_ms', flag: '--snapshot-timeout-ms', env: 'DEPTHCAST_SNAPSHOT_TIMEOUT_MS', kind: 'int', default: 2000, min: 10, max: 60000, commands: [...feed_cmds, 'record'],
    help: "How long the feed waits for the engine's snapshot before asking again" },
  { key: 'stream', flag: '--stream', env: 'DEPTHCAST_STREAM', kind: 'bool', default: true, commands: both,
    help: "With --nats-url: the engine keeps its event batches and periodic book snapshots in the JetStream stream '<prefix with . as _>' (created or updated at engine start), and feeds recover from it without the engine; --no-stream = engine request/reply only (docs/SCALING.md)" },
  { key: 'stream_age_s_max', flag: '--stream-age-s-max', env: 'DEPTHCAST_STREAM_AGE_S_MAX', kind: 'int', default: 3600, min: 10, max: 30 * 86400, commands: engine_cmds,
    help: 'Stream retention by age: batches and snapshots older than this are dropped (a feed rebuilds a book from the stream only within it)' },
  { key: 'stream_bytes_max', flag: '--stream-bytes-max', env: 'DEPTHCAST_STREAM_BYTES_MAX', kind: 'int', default: 1024 * 1024 * 1024, min: 1024 * 1024, max: 2 ** 50, commands: engine_cmds,
    help: 'Stream retention by size, per replica: past it the oldest messages go' },
  { key: 'stream_replicas', flag: '--stream-replicas', env: 'DEPTHCAST_STREAM_REPLICAS', kind: 'int', default: 1, min: 1, max: 5, commands: engine_cmds,
    help: 'Copies of the stream: 1 on a single nats-server, 3 on a 3-node cluster (survives the loss of any one node)' },
  { key: 'stream_snapshot_interval_ms', flag: '--stream-snapshot-interval-ms', env: 'DEPTHCAST_STREAM_SNAPSHOT_INTERVAL_MS', kind: 'int', default: 1000, min: 50, max: 600000, commands: engine_cmds,
    help: "How often the engine stores each book's snapshot (at an exact epoch and seq) in the stream: a recovering feed replays at most this long of batches after it" },
  { key: 'new_connections_per_ip_per_s_max', flag: '--new-connections-per-ip-per-s-max', env: 'DEPTHCAST_NEW_CONNECTIONS_PER_IP_PER_S_MAX', kind: 'int', default: 1000, min: 0, max: 1_000_000, commands: feed_cmds,
    help: 'New WebSocket connections one IP address may open per second (bursts up to one second\'s worth); over it they are closed with 4029. 0 = no limit' },
  { key: 'auth_secret', flag: '--auth-secret', env: 'DEPTHCAST_AUTH_SECRET', kind: 'string', default: '', commands: feed_cmds,
    help: 'Shared secret of HS256 JWT access tokens (at least 32 bytes; prefer the environment variable to the flag, which shows in ps). With it or --auth-jwks, every connection needs a token (?token= or subprotocol token.<TOKEN>); both empty = no access control. See docs/OPERATIONS.md §4',
    validate: (v) => (v === '' || new TextEncoder().encode(v as string).length >= 32) ? undefined : 'must be empty (no auth) or at least 32 bytes' },
  { key: 'auth_jwks', flag: '--auth-jwks', env: 'DEPTHCAST_AUTH_JWKS', kind: 'string', default: '', commands: feed_cmds,
    help: "Your identity provider's signing keys for RS256/ES256/EdDSA JWTs: a JWKS file path or http(s) URL (fetched at start, every --jwks-refresh-interval-ms, and on an unknown kid)" },
  { key: 'auth_issuer', flag: '--auth-issuer', env: 'DEPTHCAST_AUTH_ISSUER', kind: 'string', default: '', commands: feed_cmds,
    help: "Required iss claim of tokens; empty = not checked" },
  { key: 'auth_audience', flag: '--auth-audience', env: 'DEPTHCAST_AUTH_AUDIENCE', kind: 'string', default: '', commands: feed_cmds,
    help: "Required aud claim of tokens (one of theirs); empty = not checked" },
  { key: 'auth_clock_skew_s', flag: '--auth-clock-skew-s', env: 'DEPTHCAST_AUTH_CLOCK_SKEW_S', kind: 'int', default: 30, min: 0, max: 600, commands: feed_cmds,
    help: 'Clock difference with the token issuer tolerated on exp, nbf and iat' },
  { key: 'auth_entitlements_claim', flag: '--auth-entitlements-claim', env: 'DEPTHCAST_AUTH_ENTITLEMENTS_CLAIM', kind: 'string', default: 'symbols', commands: feed_cmds,
    help: 'The token claim listing the symbols its holder may subscribe to: "*" or a list',
    validate: (v) => /^[A-Za-z0-9_:./-]{1,64}$/.test(v as string) ? undefined : `expected a claim name, got '${String(v)}'` },
  { key: 'jwks_bytes_max', flag: '--jwks-bytes-max', env: 'DEPTHCAST_JWKS_BYTES_MAX', kind: 'int', default: 256 * 1024, min: 1024, max: 16 * 1024 * 1024, commands: feed_cmds,
    help: 'Largest JWKS document accepted; a larger one fails the fetch (the last good keys stay)' },
  { key: 'jwks_keys_max', flag: '--jwks-keys-max', env: 'DEPTHCAST_JWKS_KEYS_MAX', kind: 'int', default: 64, min: 1, max: 4096, commands: feed_cmds,
    help: 'Most keys in the JWKS; more fails the fetch' },
  { key: 'jwks_fetch_timeout_ms', flag: '--jwks-fetch-timeout-ms', env: 'DEPTHCAST_JWKS_FETCH_TIMEOUT_MS', kind: 'int', default: 5000, min: 100, max: 60000, commands: feed_cmds,
    help: 'Longest a JWKS fetch may take' },
  { key: 'jwks_refresh_interval_ms', flag: '--jwks-refresh-interval-ms', env: 'DEPTHCAST_JWKS_REFRESH_INTERVAL_MS', kind: 'int', default: 300_000, min: 1000, max: 86_400_000, commands: feed_cmds,
    help: 'How often the JWKS is fetched again on schedule' },
  { key: 'jwks_unknown_kid_refetch_interval_ms', flag: '--jwks-unknown-kid-refetch-interval-ms', env: 'DEPTHCAST_JWKS_UNKNOWN_KID_REFETCH_INTERVAL_MS', kind: 'int', default: 10_000, min: 100, max: 3_600_000, commands: feed_cmds,
    help: 'A token whose kid is not in the JWKS makes it fetched again at once, at most once per this interval' },
  { key: 'origin_allow_list', flag: '--origin-allow-list', env: 'DEPTHCAST_ORIGIN_ALLOW_LIST', kind: 'list', default: [], commands: feed_cmds,
    help: 'Origins allowed to open /ws, comma-separated, exact scheme://host[:port]; others are closed with 4003. Empty = any origin',
    validate: (v) => {
      const bad = (v as string[]).find((o) => !/^https?:\/\/[^\s/,]+$/.test(o));
      return bad === undefined ? undefined : `expected scheme://host[:port] entries, got '${bad}'`;
    } },
  { key: 'tls_cert_path', flag: '--tls-cert-path', env: 'DEPTHCAST_TLS_CERT_PATH', kind: 'string', default: '', commands: feed_cmds,
    help: 'PEM certificate (chain) file; with --tls-key-path the feed serves wss:// and https:// only' },
  { key: 'tls_key_path', flag: '--tls-key-path', env: 'DEPTHCAST_TLS_KEY_PATH', kind: 'string', default: '', commands: feed_cmds,
    help: 'PEM private key file of --tls-cert-path' },
  { key: 'recording_dir', flag: '--recording-dir', env: 'DEPTHCAST_RECORDING_DIR', kind: 'string', default: 'recording', commands: recording_cmds,
    help: 'Directory of a recording: segment files seg-*.dcrec with their .idx indexes (docs/RECORDING.md)',
    validate: (v) => (v as string) === '' ? 'must name a directory' : undefined },
  { key: 'record_segment_bytes_max', flag: '--record-segment-bytes-max', env: 'DEPTHCAST_RECORD_SEGMENT_BYTES_MAX', kind: 'int', default: 256 * 1024 * 1024, min: 64 * 1024, max: 2 ** 40, commands: ['record'],
    help: 'A segment file past this size is closed and a new one started' },
  { key: 'record_segment_age_s_max', flag: '--record-segment-age-s-max', env: 'DEPTHCAST_RECORD_SEGMENT_AGE_S_MAX', kind: 'int', default: 3600, min: 1, max: 30 * 86400, commands: ['record'],
    help: 'A segment older than this is closed and a new one started' },
  { key: 'record_bytes_max', flag: '--record-bytes-max', env: 'DEPTHCAST_RECORD_BYTES_MAX', kind: 'int', default: 4 * 1024 * 1024 * 1024, min: 1024 * 1024, max: 2 ** 50, commands: ['record'],
    help: 'All segments of the recording together; past it the oldest segments are deleted whole' },
  { key: 'record_checkpoint_interval_ms', flag: '--record-checkpoint-interval-ms', env: 'DEPTHCAST_RECORD_CHECKPOINT_INTERVAL_MS', kind: 'int', default: 10_000, min: 100, max: 3_600_000, commands: ['record'],
    help: 'Every book is written (and indexed) this often: replay --from and book-at read at most this much recording before their time' },
  { key: 'replay_speed', flag: '--speed', env: 'DEPTHCAST_REPLAY_SPEED', kind: 'string', default: '1', commands: ['replay'],
    help: "Replay speed: 1 = as recorded, N = N times faster (0.01..10000), 'max' = as fast as the feed takes it",
    validate: (v) => {
      if (v === 'max') return undefined;
      const n = Number(v);
      return /^\d+(\.\d+)?$/.test(v as string) && n >= 0.01 && n <= 10000 ? undefined : `expected a number from 0.01 to 10000 or 'max', got '${String(v)}'`;
    } },
  { key: 'replay_from', flag: '--from', env: 'DEPTHCAST_REPLAY_FROM', kind: 'string', default: '', commands: ['replay'],
    help: `Replay from this receive time (${time_arg_help}); empty = the recording's start`, validate: time_problem },
  { key: 'replay_to', flag: '--to', env: 'DEPTHCAST_REPLAY_TO', kind: 'string', default: '', commands: ['replay'],
    help: `Replay up to this receive time, inclusive; empty = the recording's end`, validate: time_problem },
  { key: 'replay_loop', flag: '--loop', env: 'DEPTHCAST_REPLAY_LOOP', kind: 'bool', default: false, commands: ['replay'],
    help: 'Start again from --from at the end (each pass is a new epoch)' },
  { key: 'replay_chunk_events_max', flag: '--replay-chunk-events-max', env: 'DEPTHCAST_REPLAY_CHUNK_EVENTS_MAX', kind: 'int', default: 4096, min: 1, max: 1_000_000, commands: ['replay'],
    help: 'Most book events published before the replay yields to the feed (and, on NATS, waits for the server): the backpressure of --speed max' },
  { key: 'book_at_time', flag: '--time', env: 'DEPTHCAST_BOOK_AT_TIME', kind: 'string', default: '', commands: ['book-at'],
    help: `The book after every record received at or before this time (${time_arg_help}); required`,
    validate: (v) => v === '' ? 'is required' : time_problem(v) },
  { key: 'book_at_symbol', flag: '--symbol', env: 'DEPTHCAST_BOOK_AT_SYMBOL', kind: 'string', default: '', commands: ['book-at'],
    help: 'The symbol whose book to print; required',
    validate: (v) => v === '' ? 'is required' : symbol_list_problem([v as string]) },
  { key: 'json', flag: '--json', env: 'DEPTHCAST_JSON', kind: 'bool', default: false, commands: ['book-at'],
    help: 'Print JSON instead of a table' },
  { key: 'log_level', flag: '--log-level', env: 'LOG_LEVEL', kind: 'string', default: 'info', commands: [...bus_cmds, 'book-at'],
    help: 'pino level: fatal, error, warn, info, debug, trace, silent',
    validate: (v) => ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(v as string) ? undefined : `expected a pino level, got '${String(v)}'` },
];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function default_config(): Config {
  const out: Record<string, unknown> = {};
  for (const spec of option_specs) out[spec.key] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  return out as unknown as Config;
}

function parse_value(spec: OptionSpec, raw: string, origin: string): unknown {
  try {
    return parse_flag_value(spec.kind, raw, spec);
  } catch (err) {
    throw new ConfigError(`${origin}: ${(err as Error).message}`);
  }
}

export interface ParsedArgs {
  config: Readonly<Config>;
  help: boolean;
}

/**
 * Flags win over environment variables, which win over defaults. Unknown
 * flags, flags of another command, missing values and out-of-range values are
 * refused with a ConfigError that names the flag (or variable).
 */
export function parse_config(command: Command, argv: readonly string[], env: Record<string, string | undefined>): ParsedArgs {
  const config = default_config() as unknown as Record<string, unknown>;
  const specs = option_specs.filter((s) => s.commands.includes(command));
  for (const spec of specs) {
    const raw = env[spec.env];
    if (raw !== undefined && raw !== '') config[spec.key] = parse_value(spec, raw, `environment variable ${spec.env}`);
  }
  let help = false;
  scan_flags(argv, (flag) => find_flag(option_specs, flag), {
    help: () => { help = true; },
    unknown: (flag) => { throw new ConfigError(`unknown option '${flag}' for 'depthcast ${command}' (see depthcast ${command} --help)`); },
    needs_value: (flag) => { throw new ConfigError(`option ${flag} needs a value`); },
    value: (spec, raw, flag) => {
      if (!spec.commands.includes(command)) throw new ConfigError(`option ${flag} does not apply to 'depthcast ${command}'`);
      config[spec.key] = parse_value(spec, raw, `option ${flag}`);
    },
  });
  // --help answers even when a required option is missing.
  if (help) return { config: Object.freeze(config as unknown as Config), help };
  for (const spec of specs) {
    const msg = spec.validate?.(config[spec.key]);
    if (msg !== undefined) throw new ConfigError(`option ${spec.flag} (${spec.env}): ${msg}`);
  }
  const c = config as unknown as Config;
  if ((command === 'engine' || command === 'feed' || command === 'record') && c.nats_url === '') c.nats_url = 'nats://127.0.0.1:4222';
  if (c.record_segment_bytes_max > c.record_bytes_max) {
    throw new ConfigError(`option --record-segment-bytes-max (${c.record_segment_bytes_max}) must not exceed --record-bytes-max (${c.record_bytes_max})`);
  }
  if (c.replay_from !== '' && c.replay_to !== '' && parse_time_ms(c.replay_to)! < parse_time_ms(c.replay_from)!) {
    throw new ConfigError(`option --to (${c.replay_to}) is before --from (${c.replay_from})`);
  }
  if (c.slow_exit_bytes >= c.slow_enter_bytes) {
    throw new ConfigError(`option --slow-exit-bytes (${c.slow_exit_bytes}) must be below --slow-enter-bytes (${c.slow_enter_bytes})`);
  }
  if ((c.tls_cert_path === '') !== (c.tls_key_path === '')) {
    throw new ConfigError('options --tls-cert-path and --tls-key-path go together: set both (TLS) or neither');
  }
  if (c.slow_enter_bytes >= c.send_buffer_bytes_max) {
    throw new ConfigError(`option --slow-enter-bytes (${c.slow_enter_bytes}) must be below --send-buffer-bytes-max (${c.send_buffer_bytes_max})`);
  }
  if (c.in_flight_bytes_min > c.in_flight_bytes_max) {
    throw new ConfigError(`option --in-flight-bytes-min (${c.in_flight_bytes_min}) must not exceed --in-flight-bytes-max (${c.in_flight_bytes_max})`);
  }
  return { config: Object.freeze(c), help };
}

export function help_text(command: Command | undefined): string {
  const lines: string[] = [];
  if (command === undefined) {
    lines.push(
      'depthcast — live order-book feed: engine simulator → NATS → feed → WebSocket clients',
      '',
      'Usage: depthcast <command> [options]',
      '',
      'Commands:',
      '  all      engine + feed + trading page in one process (embedded bus unless --nats-url)',
      '  engine   matching-engine simulator publishing sequenced book events onto NATS',
      '  feed     books from the NATS stream, served over WebSockets at /ws',
      '  record   the engine\'s event stream from NATS into a recording directory (docs/RECORDING.md)',
      '  replay   a recording onto the bus, with a feed and the page (embedded bus unless --nats-url)',
      '  book-at  the exact L2 book of a symbol at a time, from a recording',
      '  token    mint an access token for a feed run with --auth-secret (depthcast token --help)',
      '',
      "Run 'depthcast <command> --help' for its options. Every option also reads an environment variable.",
    );
    return lines.join('\n');
  }
  lines.push(`Usage: depthcast ${command} [options]`, '', 'Options (flag, environment variable, default):');
  for (const spec of option_specs.filter((s) => s.commands.includes(command))) {
    const def = Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
    const range = spec.min !== undefined ? ` [${spec.min}..${spec.max}]` : '';
    lines.push(`  ${spec.flag.padEnd(38)} ${spec.env}`);
    lines.push(`      ${spec.help}. Default: ${def === '' ? '(empty)' : def}${range}`);
  }
  lines.push('  --help, -h                             this text');
  return lines.join('\n');
}
