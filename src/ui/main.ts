// The trading page, served by the feed at / (bundled with the SDK into one
// ES module by src/server/ui_bundle.ts).
//
// Data flow: the SDK (src/client) keeps every book verified and current;
// SDK events only mark the page dirty (DrawScheduler.request, O(1)); the
// renderer draws the whole canvas at most once per animation frame from the
// latest state. A hidden tab therefore does nothing per update but the SDK's
// own book keeping and a bounded trade ring, and one draw on return shows
// the present.
//
// URL parameters: ?symbol=ETH-USD&depth=50&interval=100&group=10 (depth 10, 50
// or 0 = full book; interval 0 streams every update, else conflated updates at
// most once per interval; group: price buckets of that many ticks, 1 = none),
// ?ws=ws://host:port/ws for another feed,
// ?heatmap_ms=500 the heatmap's column interval (its span is 240 of them).
import { connect, type FeedClient } from 'depthcast/client';
import { client_latency } from 'depthcast/client/latency';
import { browser_frame_host, DrawScheduler } from './draw_scheduler.js';
import { heatmap_columns, PageModel, type PageSelection } from './page_model.js';
import { Picker } from './picker.js';
import { ReplayBadge } from './replay_badge.js';
import { Renderer, type RenderedFrame } from './renderer.js';

const depth_choices: readonly { value: number; label: string }[] = [
  { value: 10, label: '10' }, { value: 50, label: '50' }, { value: 0, label: 'Full' },
];
/** Price grouping in ticks (the label is the bucket in ticks). */
const group_choices: readonly { value: number; label: string }[] = [
  { value: 1, label: '1' }, { value: 10, label: '10' }, { value: 100, label: '100' },
];
const interval_choices: readonly { value: number; label: string }[] = [
  { value: 0, label: 'Live' }, { value: 100, label: '100 ms' }, { value: 1000, label: '1 s' },
];
/** Redraws when nothing arrives, so rates, the conflation marker and staleness stay current. */
const idle_redraw_ms = 250;
const ping_interval_ms = 2000;
const draw_times_kept = 64;
const heatmap_column_ms_default = 500;

/** Read-only view into the running page, for the end-to-end test and for curious users (devtools). */
export interface DebugHook {
  client: FeedClient;
  model: PageModel;
  scheduler: DrawScheduler;
  /** The ladder as the last frame drew it (a copy), or null before the first draw. */
  rendered_rows(): RenderedFrame | null;
  /** Calls back right after the next draw, in the same task (the book cannot move in between). */
  after_next_draw(callback: (frame: RenderedFrame) => void): void;
  /** Animation frame times (ms) of the last draws, oldest first. */
  draw_times(): number[];
  /** How long each of the last draws took (ms, performance.now around the renderer), oldest first. */
  draw_durations(): number[];
  renderer: Renderer;
  select(selection: Partial<PageSelection>): void;
  /** The replay the feed reports (null: live). */
  replay: ReplayBadge;
}

declare global {
  interface Window {
    __depthcast?: DebugHook;
  }
}

async function boot(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const ws_url = params.get('ws') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const symbols = await load_symbols(params);
  if (symbols.length === 0) {
    show_fatal('The feed lists no symbols (GET /stats). Is it running with --symbols?');
    return;
  }
  const requested = params.get('symbol');
  const selection: PageSelection = {
    symbol: requested !== null && requested !== '' ? requested : symbols[0],
    depth: choice(params.get('depth'), depth_choices, 10),
    interval_ms: choice(params.get('interval'), interval_choices, 0),
    group: choice(params.get('group'), group_choices, 1),
  };

  const replay = new ReplayBadge(element('replay'), document.querySelector<HTMLElement>('.brand .tag'));
  const canvas = element<HTMLCanvasElement>('view');
  const stage = element<HTMLElement>('stage');
  // The page shows latency percentiles: it opts in to the SDK's HDR histograms.
  const hops = client_latency();
  const client = connect(ws_url, { hops });
  let scheduler: DrawScheduler | null = null;
  const request_draw = () => scheduler?.request();
  const model = new PageModel(client, hops, symbols, selection, request_draw);
  const renderer = new Renderer(canvas, model);
  const select = (next: Partial<PageSelection>) => {
    model.select({ ...model.selection, ...next });
    picker.show_selection(model.selection);
    const url = new URL(location.href);
    url.searchParams.set('symbol', model.selection.symbol);
    url.searchParams.set('depth', String(model.selection.depth));
    url.searchParams.set('interval', String(model.selection.interval_ms));
    url.searchParams.set('group', String(model.selection.group));
    history.replaceState(null, '', url);
  };
  const picker = new Picker(model, {
    symbols: element('symbols'), depth: element('depth'), interval: element('interval'), group: element('group'),
  }, depth_choices, interval_choices, select, group_choices);

  const draw_times = new Float64Array(draw_times_kept);
  const draw_durations = new Float64Array(draw_times_kept);
  let after_draw: ((frame: RenderedFrame) => void)[] = [];
  scheduler = new DrawScheduler(browser_frame_host(), (frame_ms) => {
    const started_ms = performance.now();
    renderer.draw(frame_ms, scheduler!.draws);
    draw_durations[scheduler!.draws % draw_times_kept] = performance.now() - started_ms;
    picker.sync();
    draw_times[scheduler!.draws % draw_times_kept] = frame_ms;
    if (after_draw.length > 0) {
      const callbacks = after_draw;
      after_draw = [];
      const frame = renderer.rendered()!;
      for (const cb of callbacks) cb(frame);
    }
  });

  const fit = () => {
    const rect = stage.getBoundingClientRect();
    renderer.resize(rect.width, rect.height, window.devicePixelRatio || 1);
    scheduler!.request();
  };
  new ResizeObserver(fit).observe(stage);
  fit();
  setInterval(request_draw, idle_redraw_ms);
  // The heatmap's columns: sampled also while hidden (a pass over the view's levels, no drawing), painted on return.
  const heatmap_ms = Math.max(10, Number(params.get('heatmap_ms') ?? heatmap_column_ms_default) || heatmap_column_ms_default);
  renderer.heatmap_window_s = (heatmap_ms * heatmap_columns) / 1000;
  setInterval(() => { model.sample_heatmap(Date.now()); request_draw(); }, heatmap_ms);
  canvas.addEventListener('mousemove', (event) => {
    const rect = canvas.getBoundingClientRect();
    renderer.pointer = { x: event.clientX - rect.left, y: event.clientY - rect.top };
    request_draw();
  });
  canvas.addEventListener('mouseleave', () => { renderer.pointer = null; request_draw(); });
  setInterval(() => {
    if (client.state !== 'synced') return;
    client.ping().then((rtt_ns) => { model.rtt_ns = rtt_ns; }, () => { /* socket went away; the state shows it */ });
  }, ping_interval_ms);
  document.addEventListener('keydown', (event) => {
    if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
    const n = Number(event.key);
    if (Number.isInteger(n) && n >= 1 && n <= Math.min(9, symbols.length)) select({ symbol: symbols[n - 1] });
  });

  window.__depthcast = {
    client, model, scheduler,
    rendered_rows: () => renderer.rendered(),
    after_next_draw: (callback) => {
      after_draw.push(callback);
      scheduler!.request();
    },
    draw_times: () => {
      const n = Math.min(scheduler!.draws, draw_times_kept);
      const out: number[] = [];
      for (let i = scheduler!.draws - n + 1; i <= scheduler!.draws; i++) out.push(draw_times[i % draw_times_kept]);
      return out;
    },
    draw_durations: () => {
      const n = Math.min(scheduler!.draws, draw_times_kept);
      const out: number[] = [];
      for (let i = scheduler!.draws - n + 1; i <= scheduler!.draws; i++) out.push(draw_durations[i % draw_times_kept]);
      return out;
    },
    renderer,
    select,
    replay,
  };
}

/** The feed's symbols from /stats (?symbols=A,B overrides, e.g. for a feed elsewhere). */
async function load_symbols(params: URLSearchParams): Promise<string[]> {
  const listed = params.get('symbols');
  if (listed !== null) return listed.split(',').map((s) => s.trim()).filter((s) => s !== '');
  try {
    const res = await fetch('/stats', { cache: 'no-store' });
    if (!res.ok) return [];
    const stats = (await res.json()) as { symbols?: Record<string, unknown> };
    return Object.keys(stats.symbols ?? {});
  } catch {
    return [];
  }
}

function choice(raw: string | null, choices: readonly { value: number }[], fallback: number): number {
  if (raw === null) return fallback;
  const n = Number(raw);
  return choices.some((c) => c.value === n) ? n : fallback;
}

function element<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page is missing #${id}`);
  return el as T;
}

function show_fatal(message: string): void {
  const stage = document.getElementById('stage');
  const box = document.createElement('div');
  box.className = 'fatal';
  box.textContent = message;
  (stage ?? document.body).replaceChildren(box);
}

boot().catch((err: unknown) => show_fatal(`The page failed to start: ${(err as Error)?.message ?? String(err)}`));
