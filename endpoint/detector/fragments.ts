// Grouping blobs into defects: fragments of one defect joined, die-to-die echoes of a large one dropped.
import { type BlobFeatures, type FeatureContext, measureBlob } from "./blob-features.ts";
import type { Vector } from "./lattice.ts";
import type { Blob } from "./segment.ts";
import { MERGE, SPEC } from "./thresholds.ts";

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

/** Long and thin: a scratch or a piece of one (a spec scratch is 80-600 px by 1-4 px at 2048). */
function isLine(f: BlobFeatures, sizeScale: number): boolean {
  return f.lengthPx >= 30 * sizeScale && f.lengthPx >= 4 * Math.max(f.widthPx, 1);
}

/** Two elongated pieces lying on one line with a modest gap: fragments of one scratch. */
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
  /** 1 where die-to-die references are extrapolated (the rim ring). */
  edgeMask: Uint8Array | null = null,
): Blob[] {
  const dropped = new Set<number>();
  if (echoReachPx > 0) {
    const features = blobs.map((b) => measureBlob(b.pixels, b.sign, ctx, false));
    const strength = (f: BlobFeatures) => f.peakScore * f.pixelCount;
    // The smaller die pitch: bigPx is a share of it.
    const pitch = bigPx / MERGE.bigPitchShare;
    const span = defectSpans(features, echoReachPx, bigPx);
    features.forEach((f, i) => {
      // In the rim ring a reference may be 2 near - far: the near die's content enters it
      // twice, so an echo there reaches twice the host's contrast instead of half of it.
      const echoGain =
        edgeMask && inZone(blobs[i]?.pixels, edgeMask) ? MERGE.extrapolatedEchoGain : 1;
      const peakShare = MERGE.echoPeakShare * echoGain;
      // Only defects larger than a good part of a die echo (a small one is masked by the rank
      // statistic; a long line echoes where its references reach it along three directions,
      // as along a lattice axis, which echoGeometry tells), and an echo is at most about half
      // as strong as its host (one of two pair members differs). A host
      // at least a die pitch wide is partly compared with itself (both members of some pairs
      // lie in it), so its own residual peak understates the contrast its echo is half of: the
      // echo may then reach the host's peak, as a long echo may.
      const host = features.some(
        (g, j) =>
          j !== i &&
          g.sign !== f.sign &&
          (g.widthPx >= bigPx || g.lengthPx >= bigPx) &&
          strength(g) > 2 * strength(f) &&
          (f.peakScore <= peakShare * g.peakScore ||
            (f.peakScore <= g.peakScore &&
              (f.lengthPx >= bigPx || (span[j] as number) >= MERGE.broadHostPitches * pitch))) &&
          boxesNear(f, g, echoReachPx) &&
          (latticeSteps === undefined ||
            echoGeometry(
              blobs[i]?.pixels,
              // A broad host often splits into pieces; any of them can be a reference's content.
              features.filter(
                (h) =>
                  h.sign !== f.sign &&
                  echoGain * h.peakScore >= f.peakScore &&
                  boxesNear(f, h, echoReachPx),
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

/**
 * Per blob, the width of the defect it is a piece of: a defect larger than a die breaks into
 * die-sized same-sign pieces (the rank statistic masks it where neighbour dies share it), which
 * mergeKept joins by the same rule as here; the host test needs the whole defect's width, not
 * its piece's. Width = the smaller side of the pieces' joint box.
 */
function defectSpans(features: BlobFeatures[], echoReachPx: number, bigPx: number): number[] {
  const uf = new UnionFind(features.length);
  for (let i = 0; i < features.length; i++) {
    for (let j = i + 1; j < features.length; j++) {
      const a = features[i] as BlobFeatures;
      const b = features[j] as BlobFeatures;
      if (a.sign !== b.sign || Math.max(extent(a), extent(b)) < bigPx) continue;
      const reach = Math.min(echoReachPx, SPEC.separateAtSizes * Math.max(extent(a), extent(b)));
      if (boxesNear(a, b, reach)) uf.union(i, j);
    }
  }
  const boxes = new Map<number, { x0: number; y0: number; x1: number; y1: number }>();
  features.forEach((f, i) => {
    const root = uf.find(i);
    const box = boxes.get(root);
    if (!box) boxes.set(root, { ...f.bbox });
    else {
      box.x0 = Math.min(box.x0, f.bbox.x0);
      box.y0 = Math.min(box.y0, f.bbox.y0);
      box.x1 = Math.max(box.x1, f.bbox.x1);
      box.y1 = Math.max(box.y1, f.bbox.y1);
    }
  });
  return features.map((f, i) => {
    const box = boxes.get(uf.find(i));
    if (!box) return f.widthPx;
    return Math.max(f.widthPx, Math.min(box.x1 - box.x0, box.y1 - box.y0) + 1);
  });
}

/** Whether most of a blob's pixels lie where `mask` is set. */
function inZone(pixels: Int32Array | undefined, mask: Uint8Array): boolean {
  if (!pixels || pixels.length === 0) return false;
  let inside = 0;
  for (let k = 0; k < pixels.length; k++) if (mask[pixels[k] as number]) inside++;
  return 2 * inside > pixels.length;
}

function mergeKept(
  blobs: Blob[],
  ctx: FeatureContext,
  sizeScale: number,
  echoReachPx: number,
  bigPx: number,
): Blob[] {
  let groups: Blob[] = blobs.map((b) => ({
    pixels: b.pixels,
    sign: b.sign,
    ...(b.lineSeeded ? { lineSeeded: true } : {}),
    ...(b.spotSeeded ? { spotSeeded: true } : {}),
  }));
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
    const byRoot = new Map<number, Array<Blob & { weight: number }>>();
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
      // A group any ordinary seed reached stands on that seed; only line seeds: on its shape.
      const lineSeeded = list.every((g) => g.lineSeeded);
      // Likewise a group only spot seeds reached stands on the spot's evidence alone.
      const spotSeeded = list.every((g) => g.spotSeeded);
      return {
        pixels,
        sign: dominant.sign,
        ...(lineSeeded ? { lineSeeded: true } : {}),
        ...(spotSeeded ? { spotSeeded: true } : {}),
      };
    });
  }
  return groups;
}
