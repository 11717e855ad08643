// Anti-aliased masks of single defects, rendered into small patches rather than the whole frame.
import type { DefectShape } from "./design.ts";

/** A rectangle of the image; data[(v - y0) * width + (u - x0)] for pixel (u, v). */
export interface Patch {
  x0: number;
  y0: number;
  width: number;
  height: number;
  data: Float32Array;
}

/** Samples per pixel side for coverage; 4x4 keeps edges smooth without costing much. */
const SUPERSAMPLE = 4;
const SAMPLE_OFFSETS = Array.from({ length: SUPERSAMPLE }, (_, i) => (i + 0.5) / SUPERSAMPLE - 0.5);

export function emptyPatch(
  minU: number,
  minV: number,
  maxU: number,
  maxV: number,
  imageWidth: number,
  imageHeight: number,
): Patch {
  const x0 = Math.max(0, Math.floor(minU) - 2);
  const y0 = Math.max(0, Math.floor(minV) - 2);
  const x1 = Math.min(imageWidth - 1, Math.ceil(maxU) + 2);
  const y1 = Math.min(imageHeight - 1, Math.ceil(maxV) + 2);
  const width = Math.max(1, x1 - x0 + 1);
  const height = Math.max(1, y1 - y0 + 1);
  return { x0, y0, width, height, data: new Float32Array(width * height) };
}

/** Fraction of a pixel's area inside any of the discs. */
function discUnionCoverage(
  u: number,
  v: number,
  discs: ReadonlyArray<{ cx: number; cy: number; r: number }>,
): number {
  let fullyInside = false;
  let anyNear = false;
  for (const disc of discs) {
    const d = Math.hypot(u - disc.cx, v - disc.cy);
    if (d <= disc.r - 0.75) fullyInside = true;
    if (d < disc.r + 0.75) anyNear = true;
  }
  if (fullyInside) return 1;
  if (!anyNear) return 0;
  let hits = 0;
  for (const oy of SAMPLE_OFFSETS) {
    for (const ox of SAMPLE_OFFSETS) {
      const su = u + ox;
      const sv = v + oy;
      for (const disc of discs) {
        const dx = su - disc.cx;
        const dy = sv - disc.cy;
        if (dx * dx + dy * dy <= disc.r * disc.r) {
          hits++;
          break;
        }
      }
    }
  }
  return hits / (SUPERSAMPLE * SUPERSAMPLE);
}

function discPatch(
  discs: ReadonlyArray<{ cx: number; cy: number; r: number }>,
  imageWidth: number,
  imageHeight: number,
): Patch {
  let minU = Number.POSITIVE_INFINITY;
  let minV = Number.POSITIVE_INFINITY;
  let maxU = Number.NEGATIVE_INFINITY;
  let maxV = Number.NEGATIVE_INFINITY;
  for (const d of discs) {
    minU = Math.min(minU, d.cx - d.r);
    minV = Math.min(minV, d.cy - d.r);
    maxU = Math.max(maxU, d.cx + d.r);
    maxV = Math.max(maxV, d.cy + d.r);
  }
  return emptyPatch(minU, minV, maxU, maxV, imageWidth, imageHeight);
}

function fillDiscCoverage(
  patch: Patch,
  discs: ReadonlyArray<{ cx: number; cy: number; r: number }>,
): void {
  for (let j = 0; j < patch.height; j++) {
    for (let i = 0; i < patch.width; i++) {
      patch.data[j * patch.width + i] = discUnionCoverage(patch.x0 + i, patch.y0 + j, discs);
    }
  }
}

function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - edge0) / (edge1 - edge0)));
  return t * t * (3 - 2 * t);
}

function scratchMask(
  shape: Extract<DefectShape, { kind: "scratch" }>,
  imageWidth: number,
  imageHeight: number,
): Patch {
  const { points, width } = shape;
  const reach = width / 2 + 1;
  let minU = Number.POSITIVE_INFINITY;
  let minV = Number.POSITIVE_INFINITY;
  let maxU = Number.NEGATIVE_INFINITY;
  let maxV = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    minU = Math.min(minU, p.x - reach);
    minV = Math.min(minV, p.y - reach);
    maxU = Math.max(maxU, p.x + reach);
    maxV = Math.max(maxV, p.y + reach);
  }
  const patch = emptyPatch(minU, minV, maxU, maxV, imageWidth, imageHeight);
  const distance = new Float32Array(patch.width * patch.height).fill(Number.POSITIVE_INFINITY);
  const along = new Float32Array(patch.width * patch.height);
  const segments = points.length - 1;
  // Each segment only touches the pixels near it, so long scratches stay cheap.
  for (let s = 0; s < segments; s++) {
    const a = points[s];
    const b = points[s + 1];
    if (!a || !b) continue;
    const ex = b.x - a.x;
    const ey = b.y - a.y;
    const lengthSq = ex * ex + ey * ey || 1;
    const i0 = Math.max(0, Math.floor(Math.min(a.x, b.x) - reach) - patch.x0);
    const i1 = Math.min(patch.width - 1, Math.ceil(Math.max(a.x, b.x) + reach) - patch.x0);
    const j0 = Math.max(0, Math.floor(Math.min(a.y, b.y) - reach) - patch.y0);
    const j1 = Math.min(patch.height - 1, Math.ceil(Math.max(a.y, b.y) + reach) - patch.y0);
    for (let j = j0; j <= j1; j++) {
      const py = patch.y0 + j - a.y;
      for (let i = i0; i <= i1; i++) {
        const px = patch.x0 + i - a.x;
        const t = Math.min(1, Math.max(0, (px * ex + py * ey) / lengthSq));
        const d = Math.hypot(px - t * ex, py - t * ey);
        const k = j * patch.width + i;
        if (d < (distance[k] ?? Number.POSITIVE_INFINITY)) {
          distance[k] = d;
          along[k] = (s + t) / segments;
        }
      }
    }
  }
  for (let k = 0; k < patch.data.length; k++) {
    const d = distance[k] ?? Number.POSITIVE_INFINITY;
    if (d === Number.POSITIVE_INFINITY) continue;
    // Box-filter coverage of a line of this width, capped so sub-pixel lines stay faint.
    const coverage = Math.min(1, width, width / 2 + 0.5 - d);
    if (coverage <= 0) continue;
    const t = along[k] ?? 0;
    // Real scratches fade out at their ends rather than stopping square.
    const taper = Math.min(1, t / 0.04, (1 - t) / 0.04);
    patch.data[k] = coverage * Math.max(0.15, taper);
  }
  return patch;
}

function stainMask(
  shape: Extract<DefectShape, { kind: "stain" }>,
  imageWidth: number,
  imageHeight: number,
): Patch {
  const { center, radius, harmonics, mottle, mottleWaves } = shape;
  let wobble = 0;
  for (const h of harmonics) wobble += Math.abs(h.amplitude);
  const outer = radius * (1 + wobble) * 1.15 + 1;
  const patch = emptyPatch(
    center.x - outer,
    center.y - outer,
    center.x + outer,
    center.y + outer,
    imageWidth,
    imageHeight,
  );
  // Waves at random angles, so the unevenness has no grain along the image axes.
  const waves = mottleWaves.map((w) => {
    const k = (2 * Math.PI) / Math.max(4, w.wavelength * radius);
    return { kx: k * Math.cos(w.angle), ky: k * Math.sin(w.angle), phase: w.phase };
  });
  const waveNorm = 1 / Math.max(1, waves.length);
  for (let j = 0; j < patch.height; j++) {
    const dy = patch.y0 + j - center.y;
    for (let i = 0; i < patch.width; i++) {
      const dx = patch.x0 + i - center.x;
      const angle = Math.atan2(dy, dx);
      let edge = 1;
      for (const h of harmonics) edge += h.amplitude * Math.cos(h.order * angle + h.phase);
      const rho = Math.hypot(dx, dy) / (radius * edge);
      const body = 1 - smoothstep(0.55, 1.12, rho);
      if (body <= 0) continue;
      let wave = 0;
      for (const w of waves) wave += Math.sin(dx * w.kx + dy * w.ky + w.phase);
      const texture = 1 - mottle * 0.5 * (1 + wave * waveNorm);
      patch.data[j * patch.width + i] = body * texture;
    }
  }
  return patch;
}

function voidMask(
  shape: Extract<DefectShape, { kind: "void" }>,
  imageWidth: number,
  imageHeight: number,
): Patch {
  const { center, radius, rimWidth, interior } = shape;
  const softness =
    shape.rimSoftness !== undefined && shape.rimSoftness > 1 ? shape.rimSoftness : undefined;
  const outer = [{ cx: center.x, cy: center.y, r: radius }];
  const inner = [{ cx: center.x, cy: center.y, r: Math.max(0, radius - rimWidth) }];
  // A soft rim reaches half its width beyond the radius.
  const patchDiscs = [{ cx: center.x, cy: center.y, r: radius + (softness ?? 0) / 2 }];
  const patch = discPatch(patchDiscs, imageWidth, imageHeight);
  for (let j = 0; j < patch.height; j++) {
    for (let i = 0; i < patch.width; i++) {
      const u = patch.x0 + i;
      const v = patch.y0 + j;
      if (softness !== undefined) {
        // A soft rim: coverage ramps linearly over `softness` px around each edge.
        const d = Math.hypot(u - center.x, v - center.y);
        const all = Math.min(1, Math.max(0, (radius - d) / softness + 0.5));
        if (all === 0) continue;
        const innerR = Math.max(0, radius - rimWidth);
        const core = Math.min(1, Math.max(0, (innerR - d) / softness + 0.5));
        patch.data[j * patch.width + i] = interior * core + (all - core);
        continue;
      }
      const all = discUnionCoverage(u, v, outer);
      if (all === 0) continue;
      const core = discUnionCoverage(u, v, inner);
      patch.data[j * patch.width + i] = interior * core + (all - core);
    }
  }
  return patch;
}

/**
 * The defect's footprint, scaled so its strongest pixel is exactly 1: the truth contrast is
 * then the peak of what is drawn, even for spots smaller than a pixel.
 */
export function defectMask(shape: DefectShape, imageWidth: number, imageHeight: number): Patch {
  let patch: Patch;
  switch (shape.kind) {
    case "particle": {
      const discs = [{ cx: shape.center.x, cy: shape.center.y, r: shape.radius }];
      patch = discPatch(discs, imageWidth, imageHeight);
      fillDiscCoverage(patch, discs);
      break;
    }
    case "edge_chip": {
      const discs = shape.discs.map((d) => ({ cx: d.center.x, cy: d.center.y, r: d.radius }));
      patch = discPatch(discs, imageWidth, imageHeight);
      fillDiscCoverage(patch, discs);
      return patch;
    }
    case "scratch":
      patch = scratchMask(shape, imageWidth, imageHeight);
      break;
    case "void":
      patch = voidMask(shape, imageWidth, imageHeight);
      break;
    case "stain":
      patch = stainMask(shape, imageWidth, imageHeight);
      break;
  }
  let peak = 0;
  for (const value of patch.data) peak = Math.max(peak, value);
  if (peak > 0)
    for (let k = 0; k < patch.data.length; k++) patch.data[k] = (patch.data[k] ?? 0) / peak;
  return patch;
}
