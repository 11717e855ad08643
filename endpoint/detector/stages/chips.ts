// Stage "chips": rim deficits reported as edge chips, except dark streets that run out to the rim.
import type { GrayImage } from "../../../lib/gray-image.ts";
import type { Die, Point } from "../../../schemas/common.ts";
import type { Defect } from "../../../schemas/detection.ts";
import { pixelToWaferMm, type WaferFrame } from "../geometry.ts";
import type { Lattice } from "../lattice.ts";
import { sampleBilinear } from "../raster.ts";
import { type RimDeficit, rimRadiusAt } from "../rim.ts";
import { RIM } from "../thresholds.ts";
import type { Noise } from "./noise.ts";
import type { WaferPlace } from "./place.ts";
import { clampBox, dieLookup, scoreFrom } from "./report.ts";

/** Rim deficits that are chips; on patterned wafers not a street that runs out to the rim. */
export function chipDefects(
  image: GrayImage,
  mapScale: number,
  wafer: WaferPlace,
  lattice: Lattice | null,
  noise: Noise,
): Defect[] {
  const dieOf = dieLookup(lattice, wafer, mapScale);
  return wafer.rim.chips
    .filter((chip) => !lattice || !isStreetAtRim(image, wafer, lattice, mapScale, chip, noise))
    .map((chip) => chipDefect(chip, wafer.rim.deficitThresholdPx, wafer.frame, image, dieOf));
}

/**
 * Die-to-die physics at the rim: a street that runs out to the rim, as dark as the chuck, is
 * read as a deficit; but its dark pixels look like the same place one die inwards (the street
 * continues there), while a chip's chuck pixels look like die there. A fourth of the
 * chuck/wafer separation (>= 20% of full scale by the spec) as tolerance is far above the
 * illumination change over one pitch and the reticle's level differences, and far below the
 * chuck-to-die step a chip shows. The pixels compared are those measurably darker than the
 * wafer (by more than that tolerance), not only those past the chuck/wafer midpoint: a street
 * at 60-95% of the die level meeting the rim at a grazing angle, blurred into the chuck, dips
 * the rim trace by 1-2 px while only a pixel or two (or none) passes the midpoint, too few to
 * judge by; its street pixels are darker than the wafer all the same and continue inwards.
 */
function isStreetAtRim(
  image: GrayImage,
  wafer: WaferPlace,
  lattice: Lattice,
  scale: number,
  chip: RimDeficit,
  noise: Noise,
): boolean {
  const { circle, waferLevel, chuckLevel } = wafer;
  const inward = { x: circle.cx - chip.centroid.x, y: circle.cy - chip.centroid.y };
  const steps = [lattice.a, lattice.b].flatMap((v) => [
    { x: v.x * scale, y: v.y * scale },
    { x: -v.x * scale, y: -v.y * scale },
  ]);
  const step = steps.reduce((best, v) =>
    v.x * inward.x + v.y * inward.y > best.x * inward.x + best.y * inward.y ? v : best,
  );
  const chuckIsDark = chuckLevel < waferLevel;
  const tolerance = Math.max(
    5 * Math.SQRT2 * noise.sigmaMap * scale,
    0.25 * Math.abs(waferLevel - chuckLevel),
  );
  const towardChuck = chuckIsDark ? waferLevel - tolerance : waferLevel + tolerance;
  let dark = 0;
  let matched = 0;
  const { width, height, data } = image;
  for (
    let y = Math.max(0, Math.floor(chip.bbox.y0));
    y <= Math.min(height - 1, chip.bbox.y1);
    y++
  ) {
    for (
      let x = Math.max(0, Math.floor(chip.bbox.x0));
      x <= Math.min(width - 1, chip.bbox.x1);
      x++
    ) {
      const phi = Math.atan2(y - circle.cy, x - circle.cx);
      if (Math.hypot(x - circle.cx, y - circle.cy) >= rimRadiusAt(wafer.rim.shape, phi)) continue;
      const v = data[y * width + x] as number;
      if (chuckIsDark ? v >= towardChuck : v <= towardChuck) continue;
      const qx = x + step.x;
      const qy = y + step.y;
      if (qx < 0 || qy < 0 || qx > width - 1 || qy > height - 1) continue;
      dark++;
      if (Math.abs(sampleBilinear(data, width, height, qx, qy) - v) <= tolerance) matched++;
    }
  }
  return dark > 0 && matched >= RIM.streetMatchShare * dark;
}

function chipDefect(
  chip: RimDeficit,
  threshold: number,
  frame: WaferFrame,
  image: GrayImage,
  dieOf: (mm: Point) => Die | null,
): Defect {
  const mm = pixelToWaferMm(frame, chip.centroid.x, chip.centroid.y);
  return {
    class: "edge_chip",
    score: scoreFrom(chip.depthPx / threshold),
    bbox: clampBox(
      chip.bbox.x0,
      chip.bbox.y0,
      chip.bbox.x1,
      chip.bbox.y1,
      image.width,
      image.height,
    ),
    centroidPx: chip.centroid,
    areaPx: chip.areaPx,
    waferMm: mm,
    die: dieOf(mm),
  };
}
