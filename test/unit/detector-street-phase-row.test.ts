// Unit tests of a street row's sampling-phase leftover that runs across the whole disk (lattice-line.ts longestScratchPx, streetPhaseRowPixels): longer than any scratch on a street's centre it is the row's leftover, and its fragments are judged before they can join a strong particle beside the row.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { isStreetPhaseLine } from "../../endpoint/detector/lattice-line.ts";
import type { Blob } from "../../endpoint/detector/segment.ts";
import { classifyGroups, groupBlobs } from "../../endpoint/detector/stages/defects.ts";
import {
  classify,
  drawLine,
  groupingInputs,
  lattice,
  lineLevel,
  pixelsAbove,
  reading,
  seedThreshold,
  size,
  wafer,
} from "../helpers/lattice-line-maps.ts";

// The helpers' map: 320 px at scale 1, dies of 20 px, street centre rows at y = 160 + 20 k, the
// disk 150 px in radius, sizeScale 320 / 2048: the spec's longest scratch is 94 px here, and
// with two pitches of the row's fragments 134 px.

/** The group and classify stages on the given blobs (seed threshold 10 everywhere). */
function detectBlobs(residual: Float32Array, blobs: Blob[]) {
  const { work, thresholds, image } = groupingInputs(residual);
  const grouped = groupBlobs(blobs, work, wafer, lattice, residual, thresholds);
  return classifyGroups(grouped, image, work, wafer, lattice, thresholds);
}

/** Pixels of `map` at or above `floor` inside the box, as one bright blob. */
function blobIn(
  map: Float32Array,
  floor: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): Blob {
  const out: number[] = [];
  for (let y = y0; y <= y1; y++)
    for (let x = x0; x <= x1; x++)
      if ((map[y * size + x] as number) >= floor) out.push(y * size + x);
  return { pixels: Int32Array.from(out), sign: 1 };
}

describe("a weak line on a street's centre across the whole disk", () => {
  it("longer than any scratch, with nothing past its ends to read (the disk ends), is the row's leftover", () => {
    const residual = new Float32Array(size * size);
    drawLine(residual, 12, 160, 296, 0, lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    const read = reading(residual, line);
    // Past its ends only the disk's last pixels lie: they read 0, as past a scratch's ends.
    assert.equal(isStreetPhaseLine(read, lattice), false);
    assert.deepEqual(classify(residual, line), []);
  });

  it("as long, 5 px off the street's centre (inside the dies), is judged by the other rules and reported", () => {
    const residual = new Float32Array(size * size);
    drawLine(residual, 12, 165, 296, 0, lineLevel);
    assert.equal(classify(residual, pixelsAbove(residual, lineLevel)).length, 1);
  });

  it("a scratch of the spec's longest length on the street's centre that ends is still a defect", () => {
    const residual = new Float32Array(size * size);
    drawLine(residual, 100, 160, 94, 0, lineLevel);
    const line = pixelsAbove(residual, lineLevel);
    assert.equal(isStreetPhaseLine(reading(residual, line), lattice), false);
    assert.equal(classify(residual, line).length, 1);
  });
});

describe("a street row's weak fragments beside a strong particle", () => {
  // The row's leftover clears the seed as 14 px pieces a die apart along the whole chord
  // (strength 1.2; the collinear merge joins them), and a particle of strength 6 sits 2 px
  // below the row (the near-gap merge would join it to the row).
  function rowAndParticle(): { residual: Float32Array; blobs: Blob[] } {
    const residual = new Float32Array(size * size);
    const blobs: Blob[] = [];
    for (let x = 20; x <= 280; x += 20) {
      drawLine(residual, x, 160, 13, 0, 1.2 * seedThreshold);
      blobs.push(blobIn(residual, seedThreshold, x - 1, 159, x + 14, 162));
    }
    // 2 x 2 map px: 13 px across at 2048, a particle's size.
    for (let y = 163; y <= 164; y++)
      for (let x = 210; x <= 211; x++) residual[y * size + x] = 6 * seedThreshold;
    blobs.push(blobIn(residual, 6 * seedThreshold, 205, 163, 216, 170));
    return { residual, blobs };
  }

  it("leaves the particle a particle: the row is judged on its own and dropped before it can join it", () => {
    const { residual, blobs } = rowAndParticle();
    const defects = detectBlobs(residual, blobs);
    assert.equal(defects.length, 1, JSON.stringify(defects));
    assert.equal(defects[0]?.class, "particle");
    assert.ok((defects[0]?.bbox.width ?? 99) < 12, JSON.stringify(defects));
  });

  it("and without the particle, the row alone is dropped", () => {
    const { residual, blobs } = rowAndParticle();
    residual.fill(0, 163 * size, 167 * size);
    assert.deepEqual(detectBlobs(residual, blobs.slice(0, -1)), []);
  });
});
