// The patterned comparison's stages run in order on a test map (noise, lattice, die-to-die, thresholds), for unit tests that build their own rasters.
import assert from "node:assert/strict";
import { measureLattice } from "../../endpoint/detector/lattice.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { dieToDie } from "../../endpoint/detector/stages/die-to-die.ts";
import { measureNoise } from "../../endpoint/detector/stages/noise.ts";
import type { WaferPlace } from "../../endpoint/detector/stages/place.ts";
import { thresholdsOfComparison } from "../../endpoint/detector/stages/thresholds.ts";

/**
 * Runs the stages on `map` with the wafer at `region` (its rim 5 px outside the analysis disk),
 * as detect() chains them; fails the test when no die grid is found.
 */
export function comparisonStages(map: FloatMap, region: DiskRegion) {
  const wafer = {
    analysis: region,
    circle: { cx: region.cx, cy: region.cy, r: region.r + 5 },
  } as WaferPlace;
  const noise = measureNoise(map, wafer);
  const lattice = measureLattice(map, region, 2 * region.r, 90, noise.sigmaMap);
  assert.ok(lattice, "the die grid was found");
  const compared = dieToDie(map, wafer, noise, lattice);
  const thresholds = thresholdsOfComparison(map, wafer, noise, lattice, compared);
  return { noise, lattice, compared, thresholds };
}
