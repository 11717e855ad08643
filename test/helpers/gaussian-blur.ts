// A plain separable Gaussian blur for the rasters detector tests draw (the spec's optics), independent of synth/'s.

/** Blurs a size x size raster by sigma px (kernel to 3 sigma, edges clamped), along x then y. */
export function gaussianBlur(data: Float64Array, size: number, sigma: number): Float64Array {
  const reach = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * reach + 1 }, (_, k) =>
    Math.exp(-((k - reach) ** 2) / (2 * sigma * sigma)),
  );
  const norm = kernel.reduce((s, w) => s + w, 0);
  const pass = (src: Float64Array, horizontal: boolean) => {
    const out = new Float64Array(src.length);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        let sum = 0;
        for (let k = -reach; k <= reach; k++) {
          const xx = horizontal ? Math.min(size - 1, Math.max(0, x + k)) : x;
          const yy = horizontal ? y : Math.min(size - 1, Math.max(0, y + k));
          sum += (kernel[k + reach] as number) * (src[yy * size + xx] as number);
        }
        out[y * size + x] = sum / norm;
      }
    return out;
  };
  return pass(pass(data, true), false);
}
