// Shape and contrast measurements of one blob (or merged group of blobs), in full-resolution px.
/** Shape and contrast measurements of one (possibly merged) anomaly, in full-resolution px. */
export interface BlobFeatures {
  pixelCount: number;
  areaPx: number;
  bbox: { x0: number; y0: number; x1: number; y1: number };
  centroid: { x: number; y: number };
  /** Major/minor extents from second moments (a uniform bar of length L gives L). */
  lengthPx: number;
  widthPx: number;
  orientation: number;
  equivalentDiameterPx: number;
  /** Peak |smoothed residual| in thresholds-units of the detection statistic. */
  peakScore: number;
  /** Robust peak |residual| (native units), for contrast against the wafer level. */
  peakResidual: number;
  /** Share of pixels above half the robust peak: flat-topped blobs (voids) score high. */
  flatness: number;
  /** Diameter (full-res px) of the part above half the robust peak: the defect's own size. */
  coreDiameterPx: number;
  /**
   * Width (full-resolution px) of the 75%-to-25% fall of the azimuthally averaged residual
   * profile around the centroid, interpolated between half-pixel radial bins: a few px for a
   * void's rim, a good share of the radius for a soft-edged stain. Measured when first read
   * (measureBlob): its profile covers the blob's whole bounding square and more, which for a
   * long diagonal scratch is 100,000+ map pixels, and only the void/stain decision reads it.
   */
  readonly edgeWidthPx: number;
  sign: 1 | -1;
}

export interface FeatureContext {
  mapWidth: number;
  mapHeight: number;
  mapScale: number;
  residual: Float32Array;
  score: Float32Array;
}

/** `detailed` = false skips the profile measures (core, flatness, softness) merging never reads. */
export function measureBlob(
  pixels: Int32Array,
  sign: 1 | -1,
  ctx: FeatureContext,
  detailed = true,
): BlobFeatures {
  const { mapWidth: w, mapScale: s } = ctx;
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  let sw = 0;
  let swx = 0;
  let swy = 0;
  let sx = 0;
  let sy = 0;
  let peak = 0;
  const n = pixels.length;
  const mags = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const p = pixels[k] as number;
    const x = p % w;
    const y = (p - x) / w;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
    const m = Math.abs(ctx.score[p] as number);
    if (m > peak) peak = m;
    sw += m;
    swx += m * x;
    swy += m * y;
    sx += x;
    sy += y;
    mags[k] = Math.abs(ctx.residual[p] as number);
  }
  const mx = sx / n;
  const my = sy / n;
  let cxx = 0;
  let cyy = 0;
  let cxy = 0;
  for (let k = 0; k < n; k++) {
    const p = pixels[k] as number;
    const x = (p % w) - mx;
    const y = Math.floor(p / w) - my;
    cxx += x * x;
    cyy += y * y;
    cxy += x * y;
  }
  // A pixel is a unit square: its own variance (1/12) keeps tiny blobs from reading as lines.
  cxx = cxx / n + 1 / 12;
  cyy = cyy / n + 1 / 12;
  cxy /= n;
  const tr = cxx + cyy;
  const det = cxx * cyy - cxy * cxy;
  const disc = Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
  const l1 = tr / 2 + disc;
  const l2 = Math.max(0, tr / 2 - disc);
  const toFull = (v: number) => (v + 0.5) * s - 0.5;
  const geometry = {
    pixelCount: n,
    areaPx: n * s * s,
    bbox: { x0: x0 * s, y0: y0 * s, x1: (x1 + 1) * s - 1, y1: (y1 + 1) * s - 1 },
    centroid: { x: toFull(sw > 0 ? swx / sw : mx), y: toFull(sw > 0 ? swy / sw : my) },
    lengthPx: Math.sqrt(12 * l1) * s,
    widthPx: Math.sqrt(12 * l2) * s,
    orientation: 0.5 * Math.atan2(2 * cxy, cxx - cyy),
    equivalentDiameterPx: 2 * Math.sqrt((n * s * s) / Math.PI),
    peakScore: peak,
    sign,
  };
  if (!detailed) {
    return { ...geometry, peakResidual: 0, flatness: 0, coreDiameterPx: 0, edgeWidthPx: 0 };
  }
  const sorted = mags.slice().sort();
  const robustPeak = sorted[Math.min(n - 1, Math.floor(0.95 * (n - 1)))] ?? 0;
  let above = 0;
  for (let k = 0; k < n; k++) if ((mags[k] as number) >= 0.5 * robustPeak) above++;
  let hx0 = Number.POSITIVE_INFINITY;
  let hx1 = Number.NEGATIVE_INFINITY;
  let hy0 = Number.POSITIVE_INFINITY;
  let hy1 = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < n; k++) {
    if ((mags[k] as number) < 0.5 * robustPeak) continue;
    const p = pixels[k] as number;
    const x = p % w;
    const y = (p - x) / w;
    if (x < hx0) hx0 = x;
    if (x > hx1) hx1 = x;
    if (y < hy0) hy0 = y;
    if (y > hy1) hy1 = y;
  }
  const coreDiameterPx = above > 0 ? ((hx1 - hx0 + 1 + (hy1 - hy0 + 1)) / 2) * s : 0;
  const cxMap = sw > 0 ? swx / sw : mx;
  const cyMap = sw > 0 ? swy / sw : my;
  const reach = Math.max(x1 - x0, y1 - y0) / 2 + 2;
  // Taken once, when first read: the same value as taken here (ctx's maps are not written after
  // segmentation), without the cost for the blobs whose class is settled before it is needed.
  let edgeWidthPx: number | undefined;
  return {
    ...geometry,
    peakResidual: robustPeak,
    flatness: above / n,
    coreDiameterPx,
    get edgeWidthPx(): number {
      edgeWidthPx ??= s * radialEdgeWidth(ctx, sign, cxMap, cyMap, reach);
      return edgeWidthPx;
    },
  };
}

/** See BlobFeatures.edgeWidthPx; in map px, on the raw residual around the blob's centroid. */
function radialEdgeWidth(
  ctx: FeatureContext,
  sign: 1 | -1,
  cx: number,
  cy: number,
  radius: number,
): number {
  // Half-pixel radial bins: a void's rim is only a couple of map pixels wide.
  const binsPerPx = 2;
  const reach = Math.ceil(radius * 1.4 + 2);
  const bins = reach * binsPerPx + 1;
  const sums = new Float64Array(bins);
  const counts = new Float64Array(bins);
  const { mapWidth: w, mapHeight: h, residual } = ctx;
  for (
    let y = Math.max(0, Math.floor(cy - reach));
    y <= Math.min(h - 1, Math.ceil(cy + reach));
    y++
  ) {
    const dy = y - cy;
    const dy2 = dy * dy;
    for (
      let x = Math.max(0, Math.floor(cx - reach));
      x <= Math.min(w - 1, Math.ceil(cx + reach));
      x++
    ) {
      // Math.hypot's bin from a plain square root (several times cheaper), except within
      // 1e-6 of a rounding boundary, where the two may differ in the last bit: the same bins.
      const dx = x - cx;
      const scaled = Math.sqrt(dx * dx + dy2) * binsPerPx;
      const fraction = scaled - Math.floor(scaled);
      const k =
        Math.abs(fraction - 0.5) > 1e-6
          ? Math.round(scaled)
          : Math.round(Math.hypot(x - cx, y - cy) * binsPerPx);
      if (k >= bins) continue;
      sums[k] = (sums[k] as number) + sign * (residual[y * w + x] as number);
      counts[k] = (counts[k] as number) + 1;
    }
  }
  const profile: number[] = [];
  const radii: number[] = [];
  for (let k = 0; k < bins; k++) {
    if ((counts[k] as number) === 0) continue;
    profile.push((sums[k] as number) / (counts[k] as number));
    radii.push(k / binsPerPx);
  }
  let peak = 0;
  for (const v of profile) peak = Math.max(peak, v);
  if (peak <= 0) return radius;
  /** Outermost radius where the profile falls through `level`, interpolated linearly. */
  const crossing = (level: number): number => {
    let last = -1;
    for (let k = 0; k < profile.length; k++) if ((profile[k] as number) >= level) last = k;
    if (last < 0) return 0;
    if (last >= profile.length - 1) return radii[last] as number;
    const v0 = profile[last] as number;
    const v1 = profile[last + 1] as number;
    const t = v0 === v1 ? 0 : (v0 - level) / (v0 - v1);
    return (radii[last] as number) + t * ((radii[last + 1] as number) - (radii[last] as number));
  };
  return Math.max(0, crossing(0.25 * peak) - crossing(0.75 * peak));
}
