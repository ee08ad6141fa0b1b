// Every colour and the font of the trading page's canvas, in one place: a
// panel never names a colour of its own, so the page can be re-themed here.
// Pure data; no drawing.
//
// Invariants: every ViewState and ConnectionState has a colour
// (state_colors is typed over both); colours are CSS colour strings the 2D
// canvas accepts as fillStyle/strokeStyle.
import type { ConnectionState, ViewState } from 'depthcast/client';

export const theme = {
  bg: '#090c11',
  panel: '#0f131a',
  panel_edge: '#1b222c',
  header_rule: '#1f2731',
  row_alt: 'rgba(255,255,255,0.022)',
  text: '#d5dce4',
  dim: '#7f8994',
  faint: '#4b5561',
  accent: '#4da3ff',
  bid_text: '#3ddc84',
  bid_bar: 'rgba(46,204,113,0.30)',
  bid_cum: 'rgba(46,204,113,0.13)',
  ask_text: '#ff5f6d',
  ask_bar: 'rgba(255,82,99,0.30)',
  ask_cum: 'rgba(255,82,99,0.13)',
  ok: '#3ddc84',
  warn: '#f2b84b',
  bad: '#ff5f6d',
  conflated: '#f2b84b',
  /** Fill behind the CONFLATED badge and behind a folded-trades row of the tape. */
  conflated_badge: 'rgba(242,184,75,0.16)',
  conflated_row: 'rgba(242,184,75,0.10)',
  /** Fill behind a tape row of trades the feed never had. */
  missing_row: 'rgba(255,95,109,0.12)',
  /** The ladder's mid row band. */
  mid_band: 'rgba(77,163,255,0.06)',
  /** The selected row of the markets list. */
  selected_row: 'rgba(77,163,255,0.10)',
  sparkline_bg: 'rgba(255,255,255,0.025)',
  /** Sparklines of p50, p99, p99.9 (in that order). */
  spark_p50: 'rgba(213,220,228,0.9)',
  spark_p99: 'rgba(242,184,75,0.95)',
  spark_p99_9: 'rgba(255,95,109,0.9)',
  veil: 'rgba(9,12,17,0.72)',
} as const;

export const mono_font = 'ui-monospace, "JetBrains Mono", "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace';

export const state_colors: Record<ViewState | ConnectionState, string> = {
  synced: theme.ok, connecting: theme.warn, resyncing: theme.warn, stale: theme.bad, closed: theme.faint,
};

/** The feed's own state of a symbol (Status frames); anything unknown is faint. */
export const feed_state_colors: Record<string, string> = { live: theme.ok, recovering: theme.warn, unknown: theme.faint };
