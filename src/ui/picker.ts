// The page's controls: symbol buttons (each with a state dot), depth,
// update-interval and price-grouping switches. Built once; afterwards the DOM changes only when
// a symbol's state or the selection changes, and only from sync() (called in
// the draw), so a hidden page touches no DOM at all.
import type { PageModel, PageSelection } from './page_model.js';

export interface PickerElements {
  symbols: HTMLElement;
  depth: HTMLElement;
  interval: HTMLElement;
  group: HTMLElement;
}

interface Choice {
  value: number;
  label: string;
}

export class Picker {
  private readonly symbol_buttons = new Map<string, { button: HTMLButtonElement; dot: HTMLElement; state: string }>();
  private readonly depth_buttons: [number, HTMLButtonElement][] = [];
  private readonly interval_buttons: [number, HTMLButtonElement][] = [];
  private readonly group_buttons: [number, HTMLButtonElement][] = [];

  constructor(private readonly model: PageModel, elements: PickerElements, depths: readonly Choice[], intervals: readonly Choice[],
    select: (next: Partial<PageSelection>) => void, groups: readonly Choice[]) {
    model.symbols.forEach((symbol, i) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'symbol';
      button.title = i < 9 ? `${symbol} (key ${i + 1})` : symbol;
      const dot = document.createElement('i');
      dot.className = 'dot';
      button.append(dot, symbol);
      button.addEventListener('click', () => select({ symbol }));
      elements.symbols.append(button);
      this.symbol_buttons.set(symbol, { button, dot, state: '' });
    });
    for (const d of depths) this.depth_buttons.push([d.value, segment(elements.depth, d.label, () => select({ depth: d.value }))]);
    for (const c of intervals) this.interval_buttons.push([c.value, segment(elements.interval, c.label, () => select({ interval_ms: c.value }))]);
    for (const g of groups) this.group_buttons.push([g.value, segment(elements.group, g.label, () => select({ group: g.value }))]);
    this.show_selection(model.selection);
  }

  show_selection(sel: PageSelection): void {
    for (const [symbol, entry] of this.symbol_buttons) entry.button.setAttribute('aria-pressed', String(symbol === sel.symbol));
    for (const [value, button] of this.depth_buttons) button.setAttribute('aria-pressed', String(value === sel.depth));
    for (const [value, button] of this.interval_buttons) button.setAttribute('aria-pressed', String(value === sel.interval_ms));
    for (const [value, button] of this.group_buttons) button.setAttribute('aria-pressed', String(value === sel.group));
  }

  /** Brings the state dots up to date; touches the DOM only where a state changed. */
  sync(): void {
    const model = this.model;
    for (const [symbol, entry] of this.symbol_buttons) {
      const book = symbol === model.selection.symbol ? model.view : model.market(symbol)?.ticker ?? null;
      const state = book === null ? 'idle' : book.state;
      if (state === entry.state) continue;
      entry.state = state;
      entry.dot.className = `dot ${state}`;
    }
  }
}

function segment(parent: HTMLElement, label: string, on_click: () => void): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = label;
  button.addEventListener('click', on_click);
  parent.append(button);
  return button;
}
