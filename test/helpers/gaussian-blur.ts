// A plain separable Gaussian blur for the rasters detector tests draw (the spec's optics), independent of synth/'s.

/** Blurs a size x size raster by sigma px (kernel to 3 sigma, edges clamped), along x then y. */
export function gaussianBlur(data: Float64Array, size: number, sigma: number): Float64Array {
  const reach = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * reach + 1 }, (_, k) =>
    Math.exp(-((k - reach) ** 2) / (2 * sigma * sigma)),
  );
  const norm = kernel.reduce((s, w) => s + w, 0);
  const weights = Float64Array.from(kernel);
  // Each output sums weight times sample over k = -reach..reach in that order, the sample's index
  // clamped to the frame; away from the frame's edges no clamp is needed (the same sums).
  const pass = (src: Float64Array, horizontal: boolean) => {
    const out = new Float64Array(src.length);
    const step = horizontal ? 1 : size;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const along = horizontal ? x : y;
        const at = y * size + x;
        let sum = 0;
        if (along >= reach && along < size - reach) {
          for (let k = -reach, i = at - reach * step; k <= reach; k++, i += step)
            sum += (weights[k + reach] as number) * (src[i] as number);
        } else {
          for (let k = -reach; k <= reach; k++) {
            const xx = horizontal ? Math.min(size - 1, Math.max(0, x + k)) : x;
            const yy = horizontal ? y : Math.min(size - 1, Math.max(0, y + k));
            sum += (weights[k + reach] as number) * (src[yy * size + xx] as number);
          }
        }
        out[at] = sum / norm;
      }
    return out;
  };
  return pass(pass(data, true), false);
}
