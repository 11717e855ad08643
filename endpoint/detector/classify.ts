// Turning blobs into defects: merging fragments, shape features and the class decision.
import type { DefectClass } from "../../schemas/common.ts";
import type { Vector } from "./lattice.ts";
import type { Blob } from "./segment.ts";
import { CLASSIFY, MERGE, SPEC } from "./thresholds.ts";

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
   * void's rim, a good share of the radius for a soft-edged stain.
   */
  edgeWidthPx: number;
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
  const edgeWidthPx =
    s * radialEdgeWidth(ctx, sign, cxMap, cyMap, Math.max(x1 - x0, y1 - y0) / 2 + 2);
  return {
    ...geometry,
    peakResidual: robustPeak,
    flatness: above / n,
    coreDiameterPx,
    edgeWidthPx,
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
    for (
      let x = Math.max(0, Math.floor(cx - reach));
      x <= Math.min(w - 1, Math.ceil(cx + reach));
      x++
    ) {
      const k = Math.round(Math.hypot(x - cx, y - cy) * binsPerPx);
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

class UnionFind {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    let root = i;
    while ((this.parent[root] as number) !== root) root = this.parent[root] as number;
    let j = i;
    while ((this.parent[j] as number) !== root) {
      const next = this.parent[j] as number;
      this.parent[j] = root;
      j = next;
    }
    return root;
  }
  union(a: number, b: number): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return false;
    this.parent[rb] = ra;
    return true;
  }
}

/** Largest side of a blob's box, full-resolution px. */
function extent(f: BlobFeatures): number {
  return Math.max(f.bbox.x1 - f.bbox.x0, f.bbox.y1 - f.bbox.y0) + 1;
}

function boxesNear(a: BlobFeatures, b: BlobFeatures, gap: number): boolean {
  return !(
    a.bbox.x1 + gap < b.bbox.x0 ||
    b.bbox.x1 + gap < a.bbox.x0 ||
    a.bbox.y1 + gap < b.bbox.y0 ||
    b.bbox.y1 + gap < a.bbox.y0
  );
}

/** Two elongated pieces lying on one line with a modest gap: fragments of one scratch. */
/** Long and thin: a scratch or a piece of one (a spec scratch is 80-600 px by 1-4 px at 2048). */
function isLine(f: BlobFeatures, sizeScale: number): boolean {
  return f.lengthPx >= 30 * sizeScale && f.lengthPx >= 4 * Math.max(f.widthPx, 1);
}

function collinear(a: BlobFeatures, b: BlobFeatures, sizeScale: number): boolean {
  const elongated = (f: BlobFeatures) =>
    f.lengthPx >= 3 * Math.max(f.widthPx, 1) && f.lengthPx >= 12 * sizeScale;
  if (!elongated(a) && !elongated(b)) return false;
  const line = a.lengthPx >= b.lengthPx ? a : b;
  const other = line === a ? b : a;
  const ux = Math.cos(line.orientation);
  const uy = Math.sin(line.orientation);
  if (elongated(other)) {
    const dot = Math.abs(ux * Math.cos(other.orientation) + uy * Math.sin(other.orientation));
    if (dot < Math.cos((MERGE.collinearDeg * Math.PI) / 180)) return false;
  }
  const dx = other.centroid.x - line.centroid.x;
  const dy = other.centroid.y - line.centroid.y;
  const along = Math.abs(dx * ux + dy * uy);
  const across = Math.abs(-dx * uy + dy * ux);
  const gap = along - (line.lengthPx + other.lengthPx) / 2;
  return (
    across <= Math.max(MERGE.collinearAcrossPx * sizeScale, 0.08 * along) &&
    gap <= Math.max(MERGE.collinearGapPx * sizeScale, 0.3 * line.lengthPx)
  );
}

/**
 * Whether some pixel of a blob could be a die-to-die echo of the `hosts` (pieces of one
 * defect): the residual is the 2nd smallest deviation over the four lattice directions a, b,
 * a+b, a-b, so a pixel only echoes a defect that its references (one or two dies away) reach
 * along at least three of them.
 * A particle beside a stain, one die or less away, does not pass that test.
 * `steps` are the lattice vectors in full-resolution px; the hosts' boxes stand in for their pixels.
 */
function echoGeometry(
  pixels: Int32Array | undefined,
  hosts: BlobFeatures[],
  steps: readonly [Vector, Vector],
  ctx: FeatureContext,
): boolean {
  if (!pixels || pixels.length === 0) return true;
  const [a, b] = steps;
  const dirs = [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
  // A host reaches beyond its box: smoothing spreads it by a couple of map pixels, and a
  // soft-edged stain's fringe below the blob threshold still shifts the references.
  const pitch = Math.min(Math.hypot(a.x, a.y), Math.hypot(b.x, b.y));
  const m = Math.max(2 * ctx.mapScale, MERGE.hostFringePitchShare * pitch);
  const inHost = (x: number, y: number) =>
    hosts.some(
      ({ bbox }) => x >= bbox.x0 - m && x <= bbox.x1 + m && y >= bbox.y0 - m && y <= bbox.y1 + m,
    );
  const stride = Math.max(1, Math.floor(pixels.length / 64));
  for (let k = 0; k < pixels.length; k += stride) {
    const idx = pixels[k] as number;
    const px = ((idx % ctx.mapWidth) + 0.5) * ctx.mapScale - 0.5;
    const py = (Math.floor(idx / ctx.mapWidth) + 0.5) * ctx.mapScale - 0.5;
    let reached = 0;
    for (const d of dirs) {
      let hit = false;
      for (const t of [-2, -1, 1, 2]) hit ||= inHost(px + t * d.x, py + t * d.y);
      if (hit) reached++;
    }
    if (reached >= 3) return true;
  }
  return false;
}

/**
 * Groups blobs that belong to one defect: nearby pieces (a stain's patches, a particle's halo)
 * and collinear pieces (a scratch broken by noise or by die-to-die masking).
 * On patterned wafers (`echoReachPx` > 0, about one die pitch) a defect larger than a die
 * breaks into a ring of same-sign pieces and leaves an opposite-sign echo one pitch around
 * it (its neighbours served as references): the pieces are joined, the echo is dropped.
 */
export function mergeFragments(
  blobs: Blob[],
  ctx: FeatureContext,
  sizeScale: number,
  echoReachPx = 0,
  bigPx = Number.POSITIVE_INFINITY,
  latticeSteps?: readonly [Vector, Vector],
): Array<{ pixels: Int32Array; sign: 1 | -1 }> {
  const dropped = new Set<number>();
  if (echoReachPx > 0) {
    const features = blobs.map((b) => measureBlob(b.pixels, b.sign, ctx, false));
    const strength = (f: BlobFeatures) => f.peakScore * f.pixelCount;
    features.forEach((f, i) => {
      // Only broad defects echo (a thin line is masked by the rank statistic), and an echo
      // is at most about half as strong as its host (one of two pair members differs).
      const host = features.some(
        (g, j) =>
          j !== i &&
          g.sign !== f.sign &&
          g.widthPx >= bigPx &&
          strength(g) > 2 * strength(f) &&
          (f.peakScore <= MERGE.echoPeakShare * g.peakScore ||
            (f.peakScore <= g.peakScore && f.lengthPx >= bigPx)) &&
          boxesNear(f, g, echoReachPx) &&
          (latticeSteps === undefined ||
            echoGeometry(
              blobs[i]?.pixels,
              // A broad host often splits into pieces; any of them can be a reference's content.
              features.filter(
                (h) =>
                  h.sign !== f.sign && h.peakScore >= f.peakScore && boxesNear(f, h, echoReachPx),
              ),
              latticeSteps,
              ctx,
            )),
      );
      if (host) dropped.add(i);
    });
  }
  return mergeKept(
    blobs.filter((_, i) => !dropped.has(i)),
    ctx,
    sizeScale,
    echoReachPx,
    bigPx,
  );
}

function mergeKept(
  blobs: Blob[],
  ctx: FeatureContext,
  sizeScale: number,
  echoReachPx: number,
  bigPx: number,
): Array<{ pixels: Int32Array; sign: 1 | -1 }> {
  let groups = blobs.map((b) => ({ pixels: b.pixels, sign: b.sign }));
  for (let round = 0; round < 4; round++) {
    const features = groups.map((g) => measureBlob(g.pixels, g.sign, ctx, false));
    const uf = new UnionFind(groups.length);
    let merged = false;
    const gap = Math.max(MERGE.nearGapMapPx * ctx.mapScale, MERGE.nearGapPx * sizeScale);
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        const a = features[i] as BlobFeatures;
        const b = features[j] as BlobFeatures;
        const big = (f: BlobFeatures) => extent(f) >= bigPx;
        // A line only joins what continues it: a particle or void next to a scratch is its own
        // defect, and a scratch crossing a stain stays a scratch.
        const lineInvolved = isLine(a, sizeScale) || isLine(b, sizeScale);
        // Pieces of one broken-up defect lie within its own extent; the spec keeps two defects
        // more than twice the larger one's size apart, whatever the die pitch.
        const ringReach = Math.min(
          echoReachPx,
          SPEC.separateAtSizes * Math.max(extent(a), extent(b)),
        );
        const ringPiece =
          !lineInvolved &&
          echoReachPx > 0 &&
          a.sign === b.sign &&
          (big(a) || big(b)) &&
          boxesNear(a, b, ringReach);
        const near = !lineInvolved && boxesNear(a, b, gap);
        if (ringPiece || near || collinear(a, b, sizeScale)) {
          merged = uf.union(i, j) || merged;
        }
      }
    }
    if (!merged) break;
    const byRoot = new Map<number, Array<{ pixels: Int32Array; sign: 1 | -1; weight: number }>>();
    groups.forEach((g, i) => {
      const root = uf.find(i);
      const list = byRoot.get(root) ?? [];
      list.push({ ...g, weight: (features[i] as BlobFeatures).peakScore * g.pixels.length });
      byRoot.set(root, list);
    });
    groups = [...byRoot.values()].map((list) => {
      const total = list.reduce((s, g) => s + g.pixels.length, 0);
      const pixels = new Int32Array(total);
      let o = 0;
      for (const g of list) {
        pixels.set(g.pixels, o);
        o += g.pixels.length;
      }
      const dominant = list.reduce((best, g) => (g.weight > best.weight ? g : best));
      return { pixels, sign: dominant.sign };
    });
  }
  return groups;
}

/**
 * Widest 75%-to-25% edge fall (full-res px) a void can show here: its rim (the spec's 5 px
 * ramp falls 75-25% over half that) and the optical blur (1.35 sigma), both scaled with the
 * image, plus what our own processing adds: box binning (sigma = scale / sqrt 12 px) and any
 * extra smoothing of the residual (given in map px of sigma), all in quadrature.
 */
export function voidEdgeWidthPx(
  sizeScale: number,
  mapScale: number,
  extraBlurSigmaMapPx: number,
): number {
  const rim = 0.5 * SPEC.voidRimSoftPx * sizeScale;
  const optics = 1.35 * SPEC.blurSigmaPx * sizeScale;
  const binning = 1.35 * (mapScale / Math.sqrt(12));
  const smoothing = 1.35 * extraBlurSigmaMapPx * mapScale;
  return Math.sqrt(rim ** 2 + optics ** 2 + binning ** 2 + smoothing ** 2);
}

/**
 * Class from shape, with sizes normalised to a 2048 px frame (the spec's table):
 * particle 3-16 px, scratch 1-4 px wide and 80-600 long, void 16-90 px with a sharp rim,
 * stain 60-300 px and soft-edged. Where void and stain sizes overlap, the edge decides:
 * wider than a void's rim can be (voidEdgeWidthPx, with a safety factor) is a stain.
 */
export function classifyBlob(
  f: BlobFeatures,
  sizeScale: number,
  mapScale: number,
  /** Extra smoothing (sigma, working-map px) the residual carries, e.g. die-to-die pre-smoothing. */
  extraBlurSigmaMapPx = 0,
): DefectClass {
  const length = f.lengthPx / sizeScale;
  const width = f.widthPx / sizeScale;
  const elongation = length / Math.max(width, 1);
  // Mean width along the major axis: stays thin for crossing or curved scratches too.
  const meanWidth = f.areaPx / Math.max(f.lengthPx, 1) / sizeScale;
  if (
    length >= CLASSIFY.scratchMinLengthPx &&
    (elongation >= CLASSIFY.scratchMinElongation ||
      (meanWidth <= CLASSIFY.scratchMaxMeanWidthPx &&
        meanWidth <= CLASSIFY.scratchMaxMeanWidthShare * length))
  ) {
    return "scratch";
  }
  const core = f.coreDiameterPx / sizeScale;
  if (core < CLASSIFY.particleMaxCorePx) return "particle";
  if (core < CLASSIFY.stainMinCorePx) return "void";
  if (core > CLASSIFY.voidMaxCorePx) return "stain";
  const limit = CLASSIFY.softEdgeFactor * voidEdgeWidthPx(sizeScale, mapScale, extraBlurSigmaMapPx);
  return f.edgeWidthPx > limit ? "stain" : "void";
}
