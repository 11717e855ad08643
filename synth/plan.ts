// Draws a WaferDesign from a seed: every range of the input spec, varied per wafer.
import type { Point } from "../schemas/common.ts";
import {
  type ArtefactKind,
  chooseArtefacts,
  drawArtefacts,
  drawOutOfSpec,
  OUT_OF_SPEC_KINDS,
  type OutOfSpecKind,
  rimRadiusAt,
} from "./artefacts.ts";
import type {
  DefectDesign,
  DefectShape,
  MotifRect,
  PatternDesign,
  SynthDefectClass,
  WaferDesign,
} from "./design.ts";
import { type DieGrid, pixelToCellAffine, type WaferFrame } from "./geometry.ts";
import { type Random, streamFor } from "./random.ts";
import { defectMask } from "./shapes.ts";

/** Everything a wafer can be pinned to; unset fields are drawn from the seed. */
export interface PlanOptions {
  width?: number;
  height?: number;
  sizes?: number[];
  bitDepth?: 8 | 16;
  format?: "png" | "tiff";
  surface?: "bare" | "patterned";
  defectClasses?: SynthDefectClass[];
  clean?: boolean;
  cleanFraction: number;
  diameterMm?: 200 | 300;
  notchAngleDeg?: number;
  diePitchMm?: Point;
  /** Seeds the die layout (motif, street widths, grid phase) so a lot can share it. */
  patternSeed?: number;
  minDefects: number;
  maxDefects: number;
  /** Range of contrast as a multiple of the detection threshold. */
  contrastFactor: [number, number];
  /** Artefacts every wafer gets (synth/artefacts.ts). */
  artefacts?: ArtefactKind[];
  /** Probability with which each artefact is added to a wafer. */
  artefactMix?: number;
  /** Make every wafer this kind of out-of-spec image. */
  outOfSpec?: OutOfSpecKind;
  /** Probability that a wafer is an out-of-spec image of a random kind. */
  outOfSpecFraction?: number;
}

/** Defect sizes across at 2048 px (docs/wafer-images.md), scaled by the shorter side / 2048. */
export const DEFECT_SIZE_AT_2048: Record<SynthDefectClass, [number, number]> = {
  particle: [3, 16],
  scratch: [80, 600],
  void: [16, 90],
  stain: [60, 300],
  edge_chip: [12, 56],
};
export const SCRATCH_WIDTH_AT_2048: [number, number] = [1, 4];
export const EDGE_EXCLUSION_MM = 3;
/** Edge chips keep at least this far (degrees of rim) from the notch. */
export const CHIP_NOTCH_CLEARANCE_DEG = 20;
export const MAX_CENTER_OFFSET_FRACTION = 0.028;

function drawFrameSize(random: Random, options: PlanOptions): { width: number; height: number } {
  if (options.width !== undefined && options.height !== undefined) {
    return { width: options.width, height: options.height };
  }
  const side = options.sizes?.length ? random.pick(options.sizes) : (options.width ?? 1024);
  // Most cameras crop square; some leave a few percent more on one axis.
  if (random.chance(0.75)) return { width: side, height: side };
  const shorter = Math.max(512, Math.round(side * random.uniform(0.95, 0.995)));
  return random.chance(0.5) ? { width: side, height: shorter } : { width: shorter, height: side };
}

function drawNotchAngle(random: Random): number {
  const roll = random.next();
  if (roll < 0.4) return 90;
  if (roll < 0.6) return random.pick([0, 180, 270]);
  return (Math.round(random.uniform(0, 360) * 10) / 10) % 360;
}

function drawPattern(
  random: Random,
  diameterMm: number,
  waferLevel: number,
  pitchMm: Point | undefined,
): PatternDesign {
  const pitch = pitchMm ?? drawPitch(random, diameterMm);
  const streetFraction = { x: random.uniform(0.05, 0.1), y: random.uniform(0.05, 0.1) };
  const dieLevel = waferLevel;
  const streetLevel = waferLevel * random.uniform(0.7, 0.86);
  const motif: MotifRect[] = [];
  const lo = Math.max(streetFraction.x, streetFraction.y) / 2 + 0.04;
  const hi = 1 - lo;
  // A large array block, slightly darker or brighter than the die.
  const blockW = random.uniform(0.35, 0.6) * (hi - lo);
  const blockH = random.uniform(0.35, 0.6) * (hi - lo);
  const blockX = random.uniform(lo + 0.12, hi - blockW);
  const blockY = random.uniform(lo + 0.12, hi - blockH);
  motif.push({
    x0: blockX,
    y0: blockY,
    x1: blockX + blockW,
    y1: blockY + blockH,
    level:
      waferLevel * (random.chance(0.5) ? random.uniform(0.86, 0.94) : random.uniform(1.05, 1.12)),
  });
  // Bond pads along one or two die edges.
  const padLevel = waferLevel * random.uniform(1.1, 1.22);
  const padCount = random.int(4, 9);
  const padSize = random.uniform(0.04, 0.07);
  const edges = random.chance(0.5) ? ["top", "left"] : ["bottom"];
  for (const edge of edges) {
    for (let p = 0; p < padCount; p++) {
      const along = lo + 0.08 + ((hi - lo - 0.16 - padSize) * p) / Math.max(1, padCount - 1);
      const inset = lo + 0.015;
      const rect =
        edge === "top"
          ? { x0: along, y0: inset, x1: along + padSize, y1: inset + padSize }
          : edge === "left"
            ? { x0: inset, y0: along, x1: inset + padSize, y1: along + padSize }
            : { x0: along, y0: hi - 0.015 - padSize, x1: along + padSize, y1: hi - 0.015 };
      motif.push({ ...rect, level: padLevel });
    }
  }
  // A few smaller logic blocks.
  const extra = random.int(1, 3);
  for (let e = 0; e < extra; e++) {
    const w = random.uniform(0.08, 0.2);
    const h = random.uniform(0.08, 0.2);
    const x = random.uniform(lo + 0.1, hi - w);
    const y = random.uniform(lo + 0.1, hi - h);
    motif.push({
      x0: x,
      y0: y,
      x1: x + w,
      y1: y + h,
      level: waferLevel * random.uniform(0.9, 1.1),
    });
  }
  // Random grid phase, kept off the streets so the wafer centre is inside die (0, 0).
  const offsetMm = {
    x: pitch.x * random.uniform(streetFraction.x + 0.05, 1 - streetFraction.x - 0.05),
    y: pitch.y * random.uniform(streetFraction.y + 0.05, 1 - streetFraction.y - 0.05),
  };
  const grid: DieGrid = { pitchMm: pitch, offsetMm };
  return { grid, streetFraction, streetLevel, dieLevel, motif };
}

export function drawPitch(random: Random, diameterMm: number): Point {
  const x = diameterMm * random.uniform(0.022, 0.095);
  const ratio = random.chance(0.4) ? 1 : random.uniform(0.7, 1.0);
  const y = Math.min(diameterMm * 0.095, Math.max(diameterMm * 0.022, x * ratio));
  const round = (value: number) => Math.round(value * 100) / 100;
  return random.chance(0.5) ? { x: round(x), y: round(y) } : { x: round(y), y: round(x) };
}

function surfaceLevelRange(pattern: PatternDesign | null, waferLevel: number): [number, number] {
  if (!pattern) return [waferLevel, waferLevel];
  let lo = Math.min(pattern.dieLevel, pattern.streetLevel);
  let hi = Math.max(pattern.dieLevel, pattern.streetLevel);
  for (const rect of pattern.motif) {
    lo = Math.min(lo, rect.level);
    hi = Math.max(hi, rect.level);
  }
  return [lo, hi];
}

function boundOf(shape: DefectShape): { center: Point; radius: number } {
  switch (shape.kind) {
    case "particle":
      return { center: shape.center, radius: shape.radius + 1.5 };
    case "void":
      return { center: shape.center, radius: shape.radius + 1.5 };
    case "stain": {
      let wobble = 0;
      for (const h of shape.harmonics) wobble += Math.abs(h.amplitude);
      return { center: shape.center, radius: shape.radius * (1 + wobble) * 1.15 + 2 };
    }
    case "scratch": {
      const first = shape.points[0] ?? { x: 0, y: 0 };
      const last = shape.points[shape.points.length - 1] ?? first;
      const center = { x: (first.x + last.x) / 2, y: (first.y + last.y) / 2 };
      let radius = 0;
      for (const p of shape.points)
        radius = Math.max(radius, Math.hypot(p.x - center.x, p.y - center.y));
      return { center, radius: radius + shape.width + 2 };
    }
    case "edge_chip": {
      const main = shape.discs[0];
      if (!main) return { center: { x: 0, y: 0 }, radius: 0 };
      let radius = 0;
      for (const d of shape.discs) {
        radius = Math.max(
          radius,
          Math.hypot(d.center.x - main.center.x, d.center.y - main.center.y) + d.radius,
        );
      }
      return { center: main.center, radius: radius + 2 };
    }
  }
}

/** Shape of one defect centred at the origin (moved into place afterwards). */
function drawShape(random: Random, kind: SynthDefectClass, scale: number): DefectShape {
  const [minSize, maxSize] = DEFECT_SIZE_AT_2048[kind];
  const across = random.logUniform(minSize * scale, maxSize * scale);
  const origin = { x: 0, y: 0 };
  switch (kind) {
    case "particle":
      return { kind, center: origin, radius: across / 2 };
    case "void":
      return {
        kind,
        center: origin,
        radius: across / 2,
        rimWidth: Math.max(1, across * random.uniform(0.05, 0.1)),
        interior: random.uniform(0.45, 0.8),
      };
    case "stain": {
      const harmonics = [2, 3, 4, 5].map((order) => ({
        order,
        // A strong second harmonic elongates the patch; higher ones make its outline ragged.
        amplitude:
          order === 2 ? random.uniform(0.08, 0.25) : random.uniform(0.02, 0.12) / order ** 0.5,
        phase: random.uniform(0, 2 * Math.PI),
      }));
      let wobble = 0;
      for (const h of harmonics) wobble += h.amplitude;
      return {
        kind,
        center: origin,
        // The visible edge sits near rho = 1, so the widest lobe spans about `across`.
        radius: across / (2 * (1 + wobble)),
        harmonics,
        mottle: random.uniform(0, 0.35),
        mottleWaves: [0, 1, 2].map(() => ({
          angle: random.uniform(0, Math.PI),
          wavelength: random.uniform(0.6, 1.6),
          phase: random.uniform(0, 2 * Math.PI),
        })),
      };
    }
    case "scratch": {
      const [minWidth, maxWidth] = SCRATCH_WIDTH_AT_2048;
      const width = Math.max(0.6, random.uniform(minWidth * scale, maxWidth * scale));
      const direction = random.uniform(0, Math.PI);
      const sagitta = random.chance(0.5)
        ? 0
        : across * random.uniform(0.01, 0.06) * (random.chance(0.5) ? 1 : -1);
      const ux = Math.cos(direction);
      const uy = Math.sin(direction);
      const segments = Math.max(2, Math.min(48, Math.round(across / 12)));
      const points: Point[] = [];
      for (let s = 0; s <= segments; s++) {
        const t = s / segments;
        const along = (t - 0.5) * across;
        const bend = sagitta * 4 * t * (1 - t);
        points.push({ x: ux * along - uy * bend, y: uy * along + ux * bend });
      }
      return { kind, points, width };
    }
    case "edge_chip":
      throw new RangeError("edge chips are placed on the rim, not drawn at the origin");
  }
}

function moveShape(shape: DefectShape, to: Point): DefectShape {
  const shift = (p: Point) => ({ x: p.x + to.x, y: p.y + to.y });
  switch (shape.kind) {
    case "scratch":
      return { ...shape, points: shape.points.map(shift) };
    case "edge_chip":
      return { ...shape, discs: shape.discs.map((d) => ({ ...d, center: shift(d.center) })) };
    default:
      return { ...shape, center: shift(shape.center) };
  }
}

function angularDistanceDeg(a: number, b: number): number {
  const d = Math.abs((((a - b) % 360) + 360) % 360);
  return Math.min(d, 360 - d);
}

/** Where the rim is and which chips the frame shows; the defaults describe an ideal camera. */
interface RimContext {
  rimAt: (angleRad: number) => number;
  /** Frame size when the disk may leave it: chips must stay visible. */
  clipTo?: { width: number; height: number };
}

function drawEdgeChip(
  random: Random,
  frame: WaferFrame,
  scale: number,
  rim: RimContext | undefined,
): DefectShape | null {
  const [minSize, maxSize] = DEFECT_SIZE_AT_2048.edge_chip;
  const across = random.logUniform(minSize * scale, maxSize * scale);
  const radius = across / 2;
  const clearance = CHIP_NOTCH_CLEARANCE_DEG + (radius / frame.radiusPx) * (180 / Math.PI);
  for (let attempt = 0; attempt < 50; attempt++) {
    const angleDeg = random.uniform(0, 360);
    if (angularDistanceDeg(angleDeg, frame.notchAngleDeg) < clearance) continue;
    const angle = (angleDeg * Math.PI) / 180;
    const radial = { x: Math.cos(angle), y: Math.sin(angle) };
    const tangent = { x: -radial.y, y: radial.x };
    const depth = radius * random.uniform(0.1, 0.5);
    const rimRadius = rim ? rim.rimAt(angle) : frame.radiusPx;
    const at = (inward: number, sideways: number) => ({
      x: frame.centerPx.x + radial.x * (rimRadius - inward) + tangent.x * sideways,
      y: frame.centerPx.y + radial.y * (rimRadius - inward) + tangent.y * sideways,
    });
    if (rim?.clipTo) {
      const centre = at(0, 0);
      const margin = radius + 2;
      if (
        centre.x < margin ||
        centre.y < margin ||
        centre.x > rim.clipTo.width - 1 - margin ||
        centre.y > rim.clipTo.height - 1 - margin
      )
        continue;
    }
    const discs = [{ center: at(depth, 0), radius }];
    // A second, smaller lobe makes the bite irregular, as real chips are.
    if (random.chance(0.6)) {
      const lobe = radius * random.uniform(0.35, 0.6);
      discs.push({
        center: at(
          depth + radius - lobe * random.uniform(0.4, 1.1),
          random.uniform(-0.5, 0.5) * (radius - lobe),
        ),
        radius: lobe,
      });
    }
    return { kind: "edge_chip", discs };
  }
  return null;
}

export function planWafer(seed: number, index: number, options: PlanOptions): WaferDesign {
  const layout = streamFor(seed, index, "layout");
  const look = streamFor(seed, index, "look");
  const { width, height } = drawFrameSize(layout, options);
  const shorter = Math.min(width, height);
  const scale = shorter / 2048;
  const diameterMm = options.diameterMm ?? (layout.chance(0.75) ? 300 : 200);
  const diameterPx = shorter * layout.uniform(0.8, 0.98);
  const radiusPx = diameterPx / 2;
  // The whole wafer stays in frame: a camera that cuts the rim off would lose edge chips.
  const maxOffset = Math.max(
    0,
    Math.min(MAX_CENTER_OFFSET_FRACTION * shorter, shorter / 2 - radiusPx - 2),
  );
  const offsetAngle = layout.uniform(0, 2 * Math.PI);
  const offset = layout.uniform(0, maxOffset);
  const frame: WaferFrame = {
    centerPx: {
      x: (width - 1) / 2 + Math.cos(offsetAngle) * offset,
      y: (height - 1) / 2 + Math.sin(offsetAngle) * offset,
    },
    radiusPx,
    diameterMm,
    notchAngleDeg: options.notchAngleDeg ?? drawNotchAngle(layout),
  };

  const artefactRandom = streamFor(seed, index, "artefacts");
  const wanted =
    options.artefacts?.length || options.artefactMix
      ? chooseArtefacts(seed, index, options.artefacts ?? [], options.artefactMix ?? 0)
      : [];
  if (wanted.includes("frame_clip")) {
    // The spec's extreme: a disk filling 98% of the frame, 1-2% off centre, leaving it by up to 1%.
    frame.radiusPx = (shorter * 0.98) / 2;
    const angle = artefactRandom.uniform(0, 2 * Math.PI);
    const shift = shorter * artefactRandom.uniform(0.01, 0.02);
    frame.centerPx = {
      x: (width - 1) / 2 + Math.cos(angle) * shift,
      y: (height - 1) / 2 + Math.sin(angle) * shift,
    };
  }

  const surfaceKind = options.surface ?? (look.chance(0.5) ? "patterned" : "bare");
  const waferLevel =
    surfaceKind === "patterned" ? look.uniform(0.4, 0.56) : look.uniform(0.3, 0.66);
  const patternRandom =
    options.patternSeed !== undefined ? streamFor(options.patternSeed, 0, "pattern") : look;
  const widePitch =
    surfaceKind === "patterned" && wanted.includes("die_aspect") && !options.diePitchMm
      ? drawAspectPitch(artefactRandom, diameterMm)
      : options.diePitchMm;
  const pattern =
    surfaceKind === "patterned"
      ? drawPattern(patternRandom, diameterMm, waferLevel, widePitch)
      : null;
  if (pattern && wanted.includes("dark_streets")) widenStreets(artefactRandom, pattern);
  const [surfaceMin, surfaceMax] = surfaceLevelRange(pattern, waferLevel);
  // 20% of full scale must separate chuck and wafer even where illumination is weakest (x0.88).
  const gap = 0.2 / 0.88 + 0.012;
  const darkPossible = surfaceMin - gap >= 0.03;
  const brightPossible = surfaceMax + gap <= 0.96;
  const darkChuck = darkPossible && (!brightPossible || look.chance(0.6));
  const chuckLevel = darkChuck
    ? look.uniform(Math.max(0.03, surfaceMin - gap - 0.2), surfaceMin - gap)
    : look.uniform(surfaceMax + gap, Math.min(0.96, surfaceMax + gap + 0.2));

  const gradient = look.uniform(0, 0.07);
  const illumination = {
    gradient,
    gradientAngleRad: look.uniform(0, 2 * Math.PI),
    vignette: look.uniform(0, 0.1),
  };
  // Kept under 1.5% even after 8-bit rounding adds its own quantisation noise.
  const noiseSigma = look.uniform(0.003, 0.0149);

  const defectRandom = streamFor(seed, index, "defects");
  const clean = options.clean ?? defectRandom.chance(options.cleanFraction);
  const defects: DefectDesign[] = [];
  if (!clean) {
    const classes = options.defectClasses?.length
      ? options.defectClasses
      : (["particle", "scratch", "void", "stain", "edge_chip"] as const);
    const count = defectRandom.int(options.minDefects, options.maxDefects);
    const mmPerPx = diameterMm / (2 * radiusPx);
    const context: PlacementContext = {
      frame,
      width,
      height,
      scale,
      usableRadius: radiusPx - EDGE_EXCLUSION_MM / mmPerPx - 2,
      pattern,
      contrastRange: options.contrastFactor,
    };
    if (wanted.includes("out_of_round") || wanted.includes("frame_clip")) {
      const outline = drawArtefacts(
        streamFor(seed, index, "artefact-strength"),
        wanted,
        scale,
        pattern !== null,
      );
      context.rim = {
        rimAt: (angle) => rimRadiusAt({ frame, artefacts: outline }, angle),
        ...(wanted.includes("frame_clip") ? { clipTo: { width, height } } : {}),
      };
    }
    for (let n = 0; n < count; n++) {
      const kind =
        classes[
          n < classes.length && options.defectClasses?.length
            ? n
            : defectRandom.int(0, classes.length - 1)
        ] ?? "particle";
      const placed = placeDefect(defectRandom, kind, context, defects);
      if (placed) defects.push(placed);
    }
    // A wafer meant to be defective must not turn clean because nothing fitted; a particle always fits.
    if (defects.length === 0) {
      const fallback = placeDefect(defectRandom, "particle", context, defects);
      if (fallback) defects.push(fallback);
    }
  }

  const design: WaferDesign = {
    width,
    height,
    bitDepth: options.bitDepth ?? (look.chance(0.6) ? 8 : 16),
    format: options.format ?? (look.chance(0.7) ? "png" : "tiff"),
    frame,
    waferLevel,
    chuckLevel,
    notchDepthPx: radiusPx * look.uniform(0.009, 0.011),
    illumination,
    noiseSigma,
    noiseSeed: streamFor(seed, index, "noise").nextUint32(),
    pattern,
    defects,
  };
  const aspect = pattern ? pattern.grid.pitchMm.x / pattern.grid.pitchMm.y : 1;
  const extremeAspect = aspect < DIE_ASPECT_LABEL[0] || aspect > DIE_ASPECT_LABEL[1];
  if (wanted.length > 0 || extremeAspect) {
    const artefacts = drawArtefacts(
      streamFor(seed, index, "artefact-strength"),
      wanted,
      scale,
      pattern !== null,
    );
    // Die aspect is a property of the pitch (a lot's, often): named when it is outside the usual range.
    artefacts.kinds = artefacts.kinds.filter((k) => k !== "die_aspect");
    if (extremeAspect) artefacts.kinds.push("die_aspect");
    if (artefacts.voidRimSoftnessPx !== undefined) {
      for (const defect of defects) {
        if (defect.shape.kind === "void") defect.shape.rimSoftness = artefacts.voidRimSoftnessPx;
      }
    }
    design.artefacts = artefacts;
  }
  const outRandom = streamFor(seed, index, "out-of-spec");
  const outKind =
    options.outOfSpec ??
    (options.outOfSpecFraction && outRandom.chance(options.outOfSpecFraction)
      ? outRandom.pick(OUT_OF_SPEC_KINDS)
      : undefined);
  if (outKind) {
    design.outOfSpec = drawOutOfSpec(outRandom, outKind, scale);
    // No wafer was drawn: nothing on it can be found.
    if (outKind === "noise" || outKind === "checkerboard") design.defects = [];
    if (outKind === "noisy") design.noiseSigma = design.outOfSpec.amount;
  }
  return design;
}

/** Pitch aspect ratios (x / y) outside this range are labelled `die_aspect` (the default draws 0.7-1.43). */
const DIE_ASPECT_LABEL: readonly [number, number] = [0.65, 1 / 0.65];

/** A die pitch with an aspect ratio at the spec's extremes (0.5-0.65 or 1.54-2), each axis 2-10% of the diameter. */
export function drawAspectPitch(random: Random, diameterMm: number): Point {
  const aspect = random.chance(0.5) ? random.uniform(0.5, 0.64) : random.uniform(1 / 0.64, 2);
  const x = diameterMm * random.uniform(0.03, 0.095);
  const y = Math.min(diameterMm * 0.095, Math.max(diameterMm * 0.022, x / aspect));
  const round = (value: number) => Math.round(value * 100) / 100;
  return { x: round(x), y: round(y) };
}

/** The spec's street extremes: 2-15% of the pitch wide, 60-95% of the die level. */
function widenStreets(random: Random, pattern: PatternDesign): void {
  pattern.streetFraction = { x: random.uniform(0.02, 0.15), y: random.uniform(0.02, 0.15) };
  pattern.streetLevel = pattern.dieLevel * random.uniform(0.6, 0.95);
  // Keep the wafer centre inside die (0, 0), off the wider streets.
  for (const axis of ["x", "y"] as const) {
    const pitch = pattern.grid.pitchMm[axis];
    const margin = pitch * (pattern.streetFraction[axis] + 0.05);
    pattern.grid.offsetMm[axis] = Math.min(
      pitch - margin,
      Math.max(margin, pattern.grid.offsetMm[axis]),
    );
  }
}

/** What placing a defect needs to know about its wafer. */
interface PlacementContext {
  frame: WaferFrame;
  width: number;
  height: number;
  scale: number;
  /** Radius that non-chip defects must stay within (edge exclusion taken off). */
  usableRadius: number;
  pattern: PatternDesign | null;
  contrastRange: [number, number];
  rim?: RimContext;
}

/**
 * Centre of what the renderer will draw, computed the way the truth centroid is: the
 * mask-weighted mean over pixels at 10% of the peak or more (for chips, only the bitten wafer).
 */
function footprintCentroid(shape: DefectShape, context: PlacementContext): Point | null {
  const patch = defectMask(shape, context.width, context.height);
  const { centerPx, radiusPx } = context.frame;
  const weights = new Float32Array(patch.data.length);
  let peak = 0;
  for (let j = 0; j < patch.height; j++) {
    for (let i = 0; i < patch.width; i++) {
      const k = j * patch.width + i;
      let w = patch.data[k] ?? 0;
      if (shape.kind === "edge_chip") {
        const inside = Math.hypot(patch.x0 + i - centerPx.x, patch.y0 + j - centerPx.y) <= radiusPx;
        if (!inside) w = 0;
      }
      weights[k] = w;
      peak = Math.max(peak, w);
    }
  }
  let sum = 0;
  let sumU = 0;
  let sumV = 0;
  for (let j = 0; j < patch.height; j++) {
    for (let i = 0; i < patch.width; i++) {
      const w = weights[j * patch.width + i] ?? 0;
      if (w === 0 || w < peak * 0.1) continue;
      sum += w;
      sumU += w * (patch.x0 + i);
      sumV += w * (patch.y0 + j);
    }
  }
  return sum > 0 ? { x: sumU / sum, y: sumV / sum } : null;
}

/**
 * True when a point is on or next to a street, where the die a detector assigns could flip
 * with a pixel of centroid error. Truth keeps defect centres clear of that, so "which die"
 * has one answer.
 */
function nearStreet(point: Point, context: PlacementContext): boolean {
  const pattern = context.pattern;
  if (!pattern) return false;
  const cell = pixelToCellAffine(context.frame, pattern.grid);
  const mmPerPx = context.frame.diameterMm / (2 * context.frame.radiusPx);
  for (const axis of ["x", "y"] as const) {
    const value =
      axis === "x"
        ? cell.ax * point.x + cell.bx * point.y + cell.cx
        : cell.ay * point.x + cell.by * point.y + cell.cy;
    const fraction = value - Math.floor(value);
    const pitchPx = pattern.grid.pitchMm[axis] / mmPerPx;
    const margin = pattern.streetFraction[axis] / 2 + Math.max(0.04, 3 / pitchPx);
    if (fraction < margin || fraction > 1 - margin) return true;
  }
  return false;
}

function placeDefect(
  random: Random,
  kind: SynthDefectClass,
  context: PlacementContext,
  placed: readonly DefectDesign[],
): DefectDesign | null {
  const { frame, scale, usableRadius } = context;
  const [lowFactor, highFactor] = context.contrastRange;
  // Stains are the faint class: keep them in the lower part of the contrast range.
  const contrastFactor =
    kind === "stain"
      ? random.logUniform(lowFactor, Math.max(lowFactor * 1.2, Math.min(highFactor, 2.5)))
      : random.logUniform(lowFactor, highFactor);
  const preferBright = kind === "stain" ? random.chance(0.3) : random.chance(0.5);
  for (let attempt = 0; attempt < 80; attempt++) {
    let shape: DefectShape | null;
    if (kind === "edge_chip") {
      shape = drawEdgeChip(random, frame, scale, context.rim);
      if (!shape) return null;
    } else {
      const local = drawShape(random, kind, scale);
      const localBound = boundOf(local);
      const reach = usableRadius - localBound.radius;
      if (reach <= 0) continue;
      const r = reach * Math.sqrt(random.next());
      const a = random.uniform(0, 2 * Math.PI);
      shape = moveShape(local, {
        x: frame.centerPx.x + r * Math.cos(a),
        y: frame.centerPx.y + r * Math.sin(a),
      });
    }
    const bound = boundOf(shape);
    const gap = 3 + 4 * scale;
    const overlaps = placed.some(
      (other) =>
        Math.hypot(other.boundCenter.x - bound.center.x, other.boundCenter.y - bound.center.y) <
        other.boundRadius + bound.radius + gap,
    );
    if (overlaps) continue;
    if (context.pattern) {
      const centroid = footprintCentroid(shape, context);
      if (!centroid || nearStreet(centroid, context)) continue;
    }
    return {
      shape,
      boundCenter: bound.center,
      boundRadius: bound.radius,
      contrastFactor,
      preferBright,
    };
  }
  return null;
}
