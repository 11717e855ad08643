// Unit tests of the per-direction die-to-die evidence on small die lattices built here: a pattern repeated along a row of dies against defects in one die.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  comparisonDirections,
  directionEvidence,
  repeatedAlongDirection,
} from "../../endpoint/detector/direction-evidence.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

// Dies of pitch 20 x 24 map px at level 100 with streets 3 px wide at 70 (the spec's 60-95%),
// sensor noise sigma 0.5; a defect or pattern change of 3 codes (3%) is 6 sigmas.
const width = 240;
const height = 240;
const a = { x: 20, y: 0 };
const b = { x: 0, y: 24 };
const contrast = -3;

function lattice(seed: number): FloatMap {
  const random = seededRandom(seed);
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const street = x % a.x < 3 || y % b.y < 3;
      data[y * width + x] = (street ? 70 : 100) + 0.5 * standardNormal(random);
    }
  return { width, height, scale: 1, data };
}

function darken(map: FloatMap, x0: number, y0: number, x1: number, y1: number): void {
  for (let y = y0; y <= y1; y++)
    for (let x = x0; x <= x1; x++)
      map.data[y * width + x] = (map.data[y * width + x] as number) + contrast;
}

function pixels(x0: number, y0: number, x1: number, y1: number): Int32Array {
  const out: number[] = [];
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) out.push(y * width + x);
  return Int32Array.from(out);
}

describe("die-to-die evidence per comparison direction", () => {
  it("a street darker along a whole row of dies (a reticle field boundary) cancels along a, shows along b, a+b, a-b", () => {
    const map = lattice(1);
    // The street at the top of die row 5 (y 120-122) is 3% darker across the wafer.
    darken(map, 0, 120, width - 1, 122);
    const blob = pixels(104, 120, 116, 122);
    const evidence = directionEvidence(map, blob, -1, comparisonDirections(a, b));
    const along = evidence[0];
    assert.ok(
      along && Math.abs(along.pair) < 0.5 && Math.abs(along.plus) < 0.5,
      `along a: ${JSON.stringify(along)}`,
    );
    for (const e of evidence.slice(1))
      assert.ok(e.pair > 2, `across rows: ${JSON.stringify(evidence)}`);
    assert.equal(repeatedAlongDirection(map, blob, -1, a, b, null), true);
  });

  it("the same dark segment in one die only (a short scratch along the street) is a defect", () => {
    const map = lattice(2);
    darken(map, 104, 120, 116, 122);
    const blob = pixels(104, 120, 116, 122);
    const evidence = directionEvidence(map, blob, -1, comparisonDirections(a, b));
    for (const e of evidence) assert.ok(e.pair > 2, `every direction: ${JSON.stringify(evidence)}`);
    assert.equal(repeatedAlongDirection(map, blob, -1, a, b, null), false);
  });

  it("a particle inside a die shows along every direction", () => {
    const map = lattice(3);
    darken(map, 110, 130, 111, 131);
    const blob = pixels(109, 129, 112, 132);
    assert.equal(repeatedAlongDirection(map, blob, -1, a, b, null), false);
  });

  it("a particle whose neighbour die along b holds a stronger particle at the same place is still a defect", () => {
    const map = lattice(6);
    darken(map, 110, 130, 111, 131);
    // Twice as dark one die below: the pair average along b then cancels the particle.
    for (let y = 154; y <= 155; y++)
      for (let x = 110; x <= 111; x++)
        map.data[y * width + x] = (map.data[y * width + x] as number) + 2 * contrast;
    const blob = pixels(110, 130, 111, 131);
    const along = directionEvidence(map, blob, -1, comparisonDirections(a, b))[1];
    assert.ok(
      along && Math.abs(along.pair) < 0.25 * -contrast,
      `pair along b: ${JSON.stringify(along)}`,
    );
    assert.equal(repeatedAlongDirection(map, blob, -1, a, b, null), false);
  });

  it("a line longer than the pitch along a is not judged along a (it cancels itself there)", () => {
    const map = lattice(4);
    darken(map, 84, 130, 130, 131);
    const blob = pixels(84, 130, 130, 131);
    assert.equal(repeatedAlongDirection(map, blob, -1, a, b, null), false);
  });

  it("a blob touching the rim ring (extrapolated references) is left alone", () => {
    const map = lattice(5);
    darken(map, 0, 120, width - 1, 122);
    const blob = pixels(104, 120, 116, 122);
    const edgeMask = new Uint8Array(width * height);
    edgeMask[blob[0] as number] = 1;
    assert.equal(repeatedAlongDirection(map, blob, -1, a, b, edgeMask), false);
  });
});
