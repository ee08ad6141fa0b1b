// A perceptual colour scale for the liquidity heatmap: viridis (dark blue →
// green → yellow), uniform in lightness so equal steps of size read as equal
// steps of colour, and legible to colour-blind readers. A 256-entry table of
// CSS colours built once from the polynomial fit of viridis (Matt Zucker,
// CC0); a cell's colour is one table lookup.
// Cost: building the table once (256 × 7 multiplications); lookups free.

const c0 = [0.2777273272234177, 0.005407344544966578, 0.3340998053353061];
const c1 = [0.1050930431085774, 1.404613529898575, 1.384590162594685];
const c2 = [-0.3308618287255563, 0.214847559468213, 0.09509516302823659];
const c3 = [-4.634230498983486, -5.799100973351585, -19.33244095627987];
const c4 = [6.228269936347081, 14.17993336680509, 56.69055260068105];
const c5 = [4.776384997670288, -13.74514537774601, -65.35303263337234];
const c6 = [-5.435455855934631, 4.645852612178535, 26.3124352495832];

export const scale_steps = 256;

/** [r, g, b] (0..255) of viridis at t in [0, 1]. */
export function viridis_rgb(t: number): [number, number, number] {
  const x = t < 0 ? 0 : t > 1 ? 1 : t;
  const channel = (k: number) => {
    const v = c0[k] + x * (c1[k] + x * (c2[k] + x * (c3[k] + x * (c4[k] + x * (c5[k] + x * c6[k])))));
    return Math.round(255 * (v < 0 ? 0 : v > 1 ? 1 : v));
  };
  return [channel(0), channel(1), channel(2)];
}

/** scale_steps CSS colours, index 0 = t 0. */
export const viridis_css: readonly string[] = Array.from({ length: scale_steps }, (_, i) => {
  const [r, g, b] = viridis_rgb(i / (scale_steps - 1));
  return `rgb(${r},${g},${b})`;
});

/** An empty bucket: the panel's background, not the scale's darkest colour (nothing rests there). */
export const empty_cell_rgb: readonly [number, number, number] = [15, 19, 26];
export const empty_cell_css = `rgb(${empty_cell_rgb.join(',')})`;

/** Table index of a size on a log scale whose top is `size_top` (sizes above it are the top colour); 0 = empty. */
export function scale_index(size: number, size_top: number): number {
  if (size <= 0) return 0;
  const t = Math.log1p(size) / Math.log1p(size_top > 1 ? size_top : 1);
  return t >= 1 ? scale_steps - 1 : Math.max(1, Math.round(t * (scale_steps - 1)));
}
