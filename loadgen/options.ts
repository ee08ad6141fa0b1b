// The loadgen's options: one table gives flags, defaults, bounds, help and
// validation, so --help and the error messages cannot drift from the parser
// (the project's one flag parser, src/util/flags.ts).
// Every bad value is refused with a LoadgenOptionError that names the flag
// (the CLI prints it and exits 2).
import { availableParallelism } from 'node:os';
import { depths_allowed, group_ticks_max, interval_ms_max } from '../src/wire/codes.js';
import { write_delay_ms_max } from '../src/client/options.js';
import { check_number, find_flag, parse_flag_value, scan_flags, type FlagKind } from '../src/util/flags.js';
import { symbol_list_problem } from '../src/util/symbol.js';
import { saturation_share_max_default } from './saturation.js';

export type SymbolDistribution = 'uniform' | 'zipf';
export type SlowMode = 'paused' | 'throttled';

/** Drop and reconnect `percent` % of the clients `at_s` seconds after the start. */
export interface ReconnectStorm {
  percent: number;
  at_s: number;
}

/** The WebSocket the clients use (--transport). */
export type LoadgenTransport = 'node' | 'ws';

export interface LoadgenOptions {
  urls: string[];
  clients: number;
  /** Empty = ask the first URL's /stats which symbols the feed serves. */
  symbols: string[];
  symbols_per_client: number;
  symbol_dist: SymbolDistribution;
  zipf_exponent: number;
  depth: number;
  /** Price bucket of every view in ticks (1 = ungrouped). */
  group: number;
  interval_ms: number;
  /** Every client asks the feed for this write delay (docs/PROTOCOL.md §5.10): frames at most every N ms, in one write. */
  write_delay_ms: number;
  duration_s: number;
  warmup_s: number;
  slow_fraction: number;
  slow_mode: SlowMode;
  slow_read_bytes_per_s: number;
  /** The clients' WebSocket: the SDK's NodeWebSocket (depthcast/client/node) or `ws`. */
  transport: LoadgenTransport;
  reconnect_storms: ReconnectStorm[];
  seed: number;
  workers: number;
  /** 'auto', 'none', or explicit local addresses. */
  source_addresses: string[] | 'auto' | 'none';
  connect_rate_per_s: number;
  heartbeat_interval_ms: number;
  out_dir: string;
  server_pid: number;
  progress: boolean;
  /** Report latency even when the load generator was saturated (loadgen/saturation.ts). */
  allow_saturated: boolean;
  /** A worker whose event-loop lag p99 reaches this share of the reported p99 is saturated. */
  saturation_share_max: number;
}

/**
 * The write delay loadgen's clients ask for unless told (loadgen/README.md, "Write delay"): at 0 a client of one
 * view reads one frame per socket read (~11 µs of client CPU per frame) and 300 clients saturate this 2-core box;
 * a worker's own event-loop lag p99 stays ~10-15 ms whatever the delay (its once-a-second histogram encode, and
 * the class's writes reaching every client at once), so the reported p99 must be ≥ 4× that: 20 ms was judged
 * saturated (lag 14.7 ms = 41% of p99 36 ms), 50 ms kept up (12.2 ms = 20% of 61.6 ms) at 4.9 µs per frame.
 */
export const write_delay_ms_default = 50;

export class LoadgenOptionError extends Error {
  constructor(readonly flag: string, message: string) {
    super(flag === '' ? message : `${flag}: ${message}`);
    this.name = 'LoadgenOptionError';
  }
}

/** Sockets per source address before the next 127.0.0.x is used (the ephemeral port range is ~28k). */
export const sockets_per_source_address_max = 15_000;
export const workers_max = 64;
export const clients_max = 1_000_000;

interface Spec {
  key: keyof LoadgenOptions;
  flag: string;
  kind: FlagKind;
  /** Repeatable flags append (lists); others replace. */
  repeatable?: boolean;
  min?: number;
  max?: number;
  help: string;
  default_text: string;
  /** Turns the raw text into the value; throws a plain message on a bad one. */
  convert?: (raw: string, previous: unknown) => unknown;
}

/** One worker per core: the main thread only merges once a second, and a verifying worker needs a whole core at ~70k frames/s (README, "Measured here"). */
export function default_workers(): number {
  return Math.max(1, availableParallelism());
}

function default_out_dir(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `loadgen/out/run-${stamp}`;
}

export function default_options(): LoadgenOptions {
  return {
    urls: ['ws://127.0.0.1:8080/ws'],
    clients: 100,
    symbols: [],
    symbols_per_client: 1,
    symbol_dist: 'uniform',
    zipf_exponent: 1,
    depth: 10,
    group: 1,
    interval_ms: 0,
    write_delay_ms: write_delay_ms_default,
    duration_s: 10,
    warmup_s: 0,
    slow_fraction: 0,
    slow_mode: 'paused',
    slow_read_bytes_per_s: 32 * 1024,
    transport: 'node',
    reconnect_storms: [],
    seed: 1,
    workers: default_workers(),
    allow_saturated: false,
    saturation_share_max: saturation_share_max_default,
    source_addresses: 'auto',
    connect_rate_per_s: 2000,
    heartbeat_interval_ms: 1000,
    out_dir: default_out_dir(),
    server_pid: 0,
    progress: true,
  };
}

const storm_re = /^(\d+(?:\.\d+)?)%@(\d+(?:\.\d+)?)s?$/;
const ipv4_re = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parse_storm(text: string): ReconnectStorm {
  const m = storm_re.exec(text);
  if (!m) throw new Error(`expected k%@t (e.g. 20%@5 = drop 20% of the clients 5 s in), got '${text}'`);
  const percent = Number(m[1]);
  const at_s = Number(m[2]);
  if (!(percent > 0 && percent <= 100)) throw new Error(`percentage must be in (0, 100], got ${m[1]} in '${text}'`);
  return { percent, at_s };
}

function ipv4_parts(text: string): number[] | undefined {
  const m = ipv4_re.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : undefined;
}

/** '127.0.0.1-127.0.0.8' or 'a,b,c' → the addresses. */
export function parse_source_addresses(text: string): string[] | 'auto' | 'none' {
  if (text === 'auto' || text === 'none') return text;
  const out: string[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const dash = item.indexOf('-');
    if (dash < 0) {
      if (!ipv4_parts(item)) throw new Error(`'${item}' is not an IPv4 address`);
      out.push(item);
      continue;
    }
    const from = ipv4_parts(item.slice(0, dash));
    const to = ipv4_parts(item.slice(dash + 1));
    if (!from || !to || from.slice(0, 3).join('.') !== to.slice(0, 3).join('.') || to[3] < from[3]) {
      throw new Error(`range '${item}' must look like 127.0.0.1-127.0.0.8 (same first three parts, ascending)`);
    }
    for (let last = from[3]; last <= to[3]; last++) out.push(`${from.slice(0, 3).join('.')}.${last}`);
  }
  if (out.length === 0) throw new Error("expected 'auto', 'none', a list a,b,c or a range 127.0.0.1-127.0.0.8");
  return out;
}

function one_of<T extends string>(allowed: readonly T[]) {
  return (raw: string): T => {
    if (!(allowed as readonly string[]).includes(raw)) throw new Error(`expected ${allowed.join(' or ')}, got '${raw}'`);
    return raw as T;
  };
}

function list_append(convert: (item: string) => unknown) {
  return (raw: string, previous: unknown): unknown[] => {
    const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) throw new Error('expected at least one value');
    return [...(previous as unknown[]), ...items.map(convert)];
  };
}

function ws_url(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`'${raw}' is not a URL (expected ws://host:port/ws)`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`expected a ws:// or wss:// URL, got '${raw}'`);
  return url.toString();
}

const specs: readonly Spec[] = [
  { key: 'urls', flag: '--url', kind: 'list', repeatable: true, default_text: 'ws://127.0.0.1:8080/ws',
    help: 'Target feed WebSocket URL(s); repeat or comma-separate to spread clients round-robin over several', convert: list_append(ws_url) },
  { key: 'clients', flag: '--clients', kind: 'int', min: 1, max: clients_max, default_text: '100',
    help: 'Client connections in total (each one WebSocket with its own verified books)' },
  { key: 'symbols', flag: '--symbols', kind: 'list', default_text: "(the feed's, from /stats)",
    help: 'Symbol set to draw each client\'s symbols from, comma-separated',
    convert: (raw) => {
      const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
      if (list.length === 0) throw new Error('expected at least one symbol');
      const problem = symbol_list_problem(list);
      if (problem !== undefined) throw new Error(problem);
      return list;
    } },
  { key: 'symbols_per_client', flag: '--symbols-per-client', kind: 'int', min: 1, max: 256, default_text: '1',
    help: 'Distinct symbols each client subscribes to (at --depth)' },
  { key: 'symbol_dist', flag: '--symbol-dist', kind: 'string', default_text: 'uniform',
    help: 'How clients pick symbols: uniform, or zipf (rank r drawn with weight 1/r^s: a few hot symbols)', convert: one_of(['uniform', 'zipf'] as const) },
  { key: 'zipf_exponent', flag: '--zipf-exponent', kind: 'number', min: 0.01, max: 10, default_text: '1',
    help: 'Exponent s of --symbol-dist zipf (larger = more skewed)' },
  { key: 'depth', flag: '--depth', kind: 'int', default_text: '10',
    help: `Book depth of every view: ${depths_allowed.join(', ')} (0 = full book)`,
    convert: (raw) => {
      const n = Number(raw);
      if (!depths_allowed.includes(n) || raw.trim() === '') throw new Error(`expected one of ${depths_allowed.join(', ')}, got '${raw}'`);
      return n;
    } },
  { key: 'group', flag: '--group', kind: 'int', min: 1, max: group_ticks_max, default_text: '1',
    help: 'Price grouping of every view, in ticks: 1 = the book as it is, N = levels summed into N-tick buckets (docs/PROTOCOL.md §3)' },
  { key: 'interval_ms', flag: '--interval-ms', kind: 'int', min: 0, max: interval_ms_max, default_text: '0',
    help: 'Subscribe interval: 0 streams every update, N > 0 asks for at most one conflated Delta per N ms' },
  { key: 'write_delay_ms', flag: '--write-delay-ms', kind: 'int', min: 0, max: write_delay_ms_max, default_text: String(write_delay_ms_default),
    help: 'Every client asks the feed to write to it at most every N ms, all frames in one write (docs/PROTOCOL.md §5.10; the feed allows up to its --write-delay-ms-max, 100 by default). '
      + 'Up to N ms of every latency reported is this wait, printed beside it; 0 = every frame at once (the feed\'s own latency, and one socket read per frame: 300 clients saturate this 2-core box, loadgen/README.md)' },
  { key: 'duration_s', flag: '--duration-s', kind: 'number', min: 1, max: 7 * 24 * 3600, default_text: '10',
    help: 'Length of the run in seconds, from the first connection attempt' },
  { key: 'warmup_s', flag: '--warmup-s', kind: 'int', min: 0, max: 3600, default_text: '0',
    help: 'Seconds at the start left out of the latency totals (still in the .hlog and the timeline): the clients\' own JIT warm-up and connection ramp' },
  { key: 'slow_fraction', flag: '--slow-fraction', kind: 'number', min: 0, max: 1, default_text: '0',
    help: 'Fraction of the clients that read slowly (see --slow-mode); their latency is reported apart' },
  { key: 'slow_mode', flag: '--slow-mode', kind: 'string', default_text: 'paused',
    help: 'paused: stop reading the TCP socket once the books are synced, read again for 1 s after the run so the catch-up is verified too; throttled: read at most --slow-read-bytes-per-s',
    convert: one_of(['paused', 'throttled'] as const) },
  { key: 'slow_read_bytes_per_s', flag: '--slow-read-bytes-per-s', kind: 'int', min: 1024, max: 1024 ** 3, default_text: '32768',
    help: 'Average read rate of throttled clients (pause/resume every 100 ms; the socket is read in chunks of up to 64 KiB)' },
  { key: 'transport', flag: '--transport', kind: 'string', default_text: 'node',
    help: "The clients' WebSocket: node (the SDK's NodeWebSocket, depthcast/client/node: frames parsed in place, the cheaper) or ws (the `ws` package)",
    convert: one_of(['node', 'ws'] as const) },
  { key: 'reconnect_storms', flag: '--reconnect-storm', kind: 'list', repeatable: true, default_text: '(none)',
    help: 'k%@t: at t seconds, drop k% of the clients (TCP reset, as a network blip) and let them reconnect; repeatable', convert: list_append(parse_storm) },
  { key: 'seed', flag: '--seed', kind: 'int', min: 0, max: 2 ** 32 - 1, default_text: '1',
    help: 'Seed of every random choice (symbols, slow clients, storm victims, backoff jitter): same seed, same plan' },
  { key: 'workers', flag: '--workers', kind: 'int', min: 1, max: workers_max, default_text: 'the cores',
    help: 'Worker threads running the clients; the main thread only merges and reports' },
  { key: 'source_addresses', flag: '--source-addresses', kind: 'string', default_text: 'auto',
    help: `Local addresses to connect from: auto (past ${sockets_per_source_address_max} clients against a loopback target, 127.0.0.1, .2, …), none, a list, or a range 127.0.0.1-127.0.0.8`,
    convert: parse_source_addresses },
  { key: 'connect_rate_per_s', flag: '--connect-rate', kind: 'int', min: 1, max: 1_000_000, default_text: '2000',
    help: 'New connections per second while ramping up (over all workers)' },
  { key: 'heartbeat_interval_ms', flag: '--heartbeat-interval-ms', kind: 'int', min: 50, max: 60_000, default_text: '1000',
    help: "The feed's heartbeat interval: a client that hears nothing for two of them replaces its socket" },
  { key: 'out_dir', flag: '--out', kind: 'string', default_text: 'loadgen/out/run-<date>-<time>',
    help: 'Directory for summary.json, latency.hlog and report.html (created)',
    convert: (raw) => {
      if (raw.trim() === '') throw new Error('expected a directory');
      return raw;
    } },
  { key: 'server_pid', flag: '--server-pid', kind: 'int', min: 0, max: 2 ** 22, default_text: '(none)',
    help: "PID of a feed process on this host: the report adds its CPU time (from /proc) per delivered frame" },
  { key: 'progress', flag: '--progress', kind: 'bool', default_text: 'true',
    help: 'Live progress line on stderr once a second (--no-progress to turn off)' },
  { key: 'allow_saturated', flag: '--allow-saturated', kind: 'bool', default_text: 'false',
    help: 'Report latency even when the load generator was saturated (a worker\'s event-loop lag p99 at least --saturation-share-max of the reported p99); otherwise it is withheld and the exit status is 3' },
  { key: 'saturation_share_max', flag: '--saturation-share-max', kind: 'number', min: 0.01, max: 1, default_text: String(saturation_share_max_default),
    help: 'Share of the reported latency p99 that a worker\'s own event-loop lag p99 may reach before the run counts as saturated' },
];

function convert_value(spec: Spec, raw: string, previous: unknown): unknown {
  try {
    return spec.convert ? spec.convert(raw, previous) : parse_flag_value(spec.kind, raw, spec);
  } catch (err) {
    throw new LoadgenOptionError(spec.flag, (err as Error).message);
  }
}

export type LoadgenCommand =
  | { command: 'help' }
  | { command: 'run'; options: LoadgenOptions }
  | { command: 'compare'; files: [string, string] };

/** Parses `loadgen [run] [options]`, `loadgen compare A.json B.json` and `--help`. */
export function parse_loadgen_args(argv: readonly string[]): LoadgenCommand {
  const args = [...argv];
  if (args.includes('--help') || args.includes('-h') || args[0] === 'help') return { command: 'help' };
  if (args[0] === 'compare') {
    const files = args.slice(1);
    if (files.length !== 2 || files.some((f) => f.startsWith('--'))) {
      throw new LoadgenOptionError('compare', 'expected two summary files: loadgen compare A/summary.json B/summary.json');
    }
    return { command: 'compare', files: [files[0], files[1]] };
  }
  if (args[0] === 'run') args.shift();
  const options = default_options() as unknown as Record<string, unknown>;
  const set_by_flag = new Set<string>();
  scan_flags(args, (flag) => find_flag(specs, flag), {
    positional: (arg) => { throw new LoadgenOptionError('', `unexpected argument '${arg}' (commands: run, compare; see --help)`); },
    unknown: (flag) => { throw new LoadgenOptionError(flag, 'unknown option (see npm run loadgen -- --help)'); },
    needs_value: (flag) => { throw new LoadgenOptionError(flag, 'needs a value'); },
    value: (spec, raw) => {
      // A repeatable flag given on the command line replaces its default, then appends.
      const previous = spec.repeatable && !set_by_flag.has(spec.key) ? [] : options[spec.key];
      set_by_flag.add(spec.key);
      options[spec.key] = convert_value(spec, raw, previous);
    },
  });
  return { command: 'run', options: check_options(options as unknown as LoadgenOptions) };
}

/**
 * Checks what single flags cannot: combinations. Also the entry point for
 * programmatic runs (tests), which pass a partial object over the defaults.
 */
export function check_options(o: LoadgenOptions): LoadgenOptions {
  const out = { ...o, urls: [...o.urls], symbols: [...o.symbols], reconnect_storms: [...o.reconnect_storms] };
  for (const spec of specs) {
    const v = out[spec.key];
    if ((spec.kind === 'int' || spec.kind === 'number') && typeof v === 'number') {
      try {
        check_number(spec.kind, v, spec);
      } catch (err) {
        throw new LoadgenOptionError(spec.flag, (err as Error).message);
      }
    }
  }
  if (out.urls.length === 0) throw new LoadgenOptionError('--url', 'at least one target URL is required');
  for (const u of out.urls) convert_value(specs.find((s) => s.key === 'urls')!, u, []);
  if (!depths_allowed.includes(out.depth)) throw new LoadgenOptionError('--depth', `expected one of ${depths_allowed.join(', ')}, got ${out.depth}`);
  if (out.symbols.length > 0 && out.symbols_per_client > out.symbols.length) {
    throw new LoadgenOptionError('--symbols-per-client', `${out.symbols_per_client} is more than the ${out.symbols.length} symbols given with --symbols`);
  }
  for (const storm of out.reconnect_storms) {
    if (!(storm.percent > 0 && storm.percent <= 100)) throw new LoadgenOptionError('--reconnect-storm', `percentage must be in (0, 100], got ${storm.percent}`);
    if (!(storm.at_s >= 0 && storm.at_s < out.duration_s)) {
      throw new LoadgenOptionError('--reconnect-storm', `time ${storm.at_s} s is outside the run (--duration-s ${out.duration_s})`);
    }
  }
  if (out.warmup_s >= out.duration_s) throw new LoadgenOptionError('--warmup-s', `${out.warmup_s} s leaves nothing of the ${out.duration_s} s run to measure`);
  if (out.workers > out.clients) out.workers = out.clients;
  return out;
}

export function loadgen_help(): string {
  const lines = [
    'depthcast loadgen — many verifying SDK clients against a depthcast feed, with honest latency',
    '',
    'Usage:',
    '  npm run loadgen -- [run] [options]          run a load test (default command)',
    '  npm run loadgen -- compare A.json B.json    ratios B/A of the main numbers of two summaries',
    '',
    'Latency is client receive time minus the engine time stamped in each frame (one host clock;',
    'across hosts the clocks must be synchronised, see loadgen/README.md). Exit status: 0 ok,',
    '1 the run failed or a book failed its digest check, 2 bad options.',
    '',
    'Options:',
  ];
  for (const spec of specs) {
    const name = spec.kind === 'bool' ? `${spec.flag}, --no-${spec.flag.slice(2)}` : `${spec.flag} <${spec.kind === 'list' ? 'a,b' : spec.kind}>`;
    const range = spec.min !== undefined ? ` [${spec.min}..${spec.max}]` : '';
    lines.push(`  ${name}`, `      ${spec.help}. Default: ${spec.default_text}${range}`);
  }
  lines.push(
    '  --help, -h',
    '      this text',
    '',
    'Examples:',
    '  npm run loadgen -- --clients 1000 --duration-s 20 --slow-fraction 0.1',
    '  npm run loadgen -- --clients 500 --symbols-per-client 3 --symbol-dist zipf --reconnect-storm 50%@5',
    '  npm run loadgen -- compare loadgen/out/run-A/summary.json loadgen/out/run-B/summary.json',
  );
  return lines.join('\n');
}
