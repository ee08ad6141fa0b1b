// The canvas kit the page's panels draw with: a panel box, a title, table
// headers, rules, dots, pills, a badge and a sparkline. Stateless functions
// over a CanvasRenderingContext2D; colours come from ./theme.ts.
//
// Cost: each call is a handful of canvas operations and allocates nothing but
// what the canvas API itself does (the sparkline walks its ring once; ellipsize
// measures O(log length) prefixes, only when the text does not fit).
//
// Invariants: every function sets the fill, stroke, font and alignment it
// uses (callers assume nothing about the context after a call, except that
// globalAlpha is back to 1).
import { mono_font, theme } from './theme.js';

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

export function panel(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
  outlined_box(ctx, x, y, w, h, 6, theme.panel, theme.panel_edge);
}

export function round_rect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

/** A filled rounded box with a 1 px outline, e.g. the CONFLATED badge and the veil's message. */
export function outlined_box(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number, fill: string, edge: string): void {
  ctx.fillStyle = fill;
  round_rect(ctx, x, y, w, h, r);
  ctx.fill();
  ctx.strokeStyle = edge;
  ctx.lineWidth = 1;
  round_rect(ctx, x + 0.5, y + 0.5, w - 1, h - 1, r);
  ctx.stroke();
}

export function hline(ctx: CanvasRenderingContext2D, x0: number, x1: number, y: number, color: string): void {
  ctx.fillStyle = color;
  ctx.fillRect(x0, Math.round(y), x1 - x0, 1);
}

/** Column titles (text, x, alignment) and the rule under them. */
export function table_header(ctx: CanvasRenderingContext2D, x: number, w: number, y: number, cells: readonly (readonly [string, number, CanvasTextAlign])[]): void {
  ctx.font = `10px ${mono_font}`;
  ctx.fillStyle = theme.faint;
  for (const [text, cx, align] of cells) {
    ctx.textAlign = align;
    ctx.fillText(text, cx, y);
  }
  hline(ctx, x + 1, x + w - 1, y + 10, theme.header_rule);
}

export function title(ctx: CanvasRenderingContext2D, text: string, x: number, y: number): void {
  ctx.textAlign = 'left';
  ctx.font = `bold 11px ${mono_font}`;
  ctx.fillStyle = theme.dim;
  ctx.fillText(text, x, y);
}

/** Small right-aligned dim text, e.g. a panel's note on its title line. */
export function note_right(ctx: CanvasRenderingContext2D, text: string, right_x: number, y: number): void {
  ctx.textAlign = 'right';
  ctx.font = `11px ${mono_font}`;
  ctx.fillStyle = theme.dim;
  ctx.fillText(text, right_x, y);
}

export function dot(ctx: CanvasRenderingContext2D, x: number, y: number, color: string): void {
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(x, y, 3.5, 0, Math.PI * 2);
  ctx.fill();
}

/** A rounded label; returns its right edge. */
export function pill(ctx: CanvasRenderingContext2D, x: number, cy: number, text: string, color: string): number {
  ctx.font = `bold 10px ${mono_font}`;
  const w = ctx.measureText(text).width + 22;
  ctx.globalAlpha = 0.14;
  ctx.fillStyle = color;
  round_rect(ctx, x, cy - 10, w, 20, 10);
  ctx.fill();
  ctx.globalAlpha = 1;
  dot(ctx, x + 9, cy, color);
  ctx.textAlign = 'left';
  ctx.fillStyle = color;
  ctx.fillText(text, x + 16, cy + 0.5);
  return x + w;
}

/** One line through a ring of values (oldest at the left); NaN leaves a gap. */
export function sparkline(ctx: CanvasRenderingContext2D, values: Float64Array, head: number, x: number, w: number, y_of: (v: number) => number, color: string): void {
  const n = values.length;
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.25;
  ctx.beginPath();
  let drawing = false;
  for (let i = 0; i < n; i++) {
    // Oldest at the left: index head+1 is the oldest entry of the ring.
    const v = values[(head + 1 + i) % n];
    const px = x + (i / (n - 1)) * w;
    if (Number.isNaN(v)) {
      drawing = false;
      continue;
    }
    const py = y_of(v);
    if (drawing) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    drawing = true;
  }
  ctx.stroke();
}

/** The text cut to fit `width` with an ellipsis. */
export function ellipsize(ctx: CanvasRenderingContext2D, text: string, width: number): string {
  if (ctx.measureText(text).width <= width) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= width) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}
