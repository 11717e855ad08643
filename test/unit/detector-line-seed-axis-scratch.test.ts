// Unit tests of a line-seeded blob along a lattice axis (stages/defects.ts lineBlobHolds): a scratch in a die interior that keeps to a die row is kept; a street row's sampling-phase line or a line repeated pitches across is still dropped.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { Blob } from "../../endpoint/detector/segment.ts";
import { classifyGroups, groupBlobs } from "../../endpoint/detector/stages/defects.ts";
import type { DetectionThresholds } from "../../endpoint/detector/stages/thresholds.ts";
import {
  drawLine,
  groupingInputs,
  lattice,
  lineLevel,
  seedThreshold,
  size,
  wafer,
} from "../helpers/lattice-line-maps.ts";

// The helpers' map: 320 px at scale 1, dies of 20 px, street centre rows at y = 160 + 20 k, the
// disk 150 px in radius. A line at lineLevel (15) has strength 1.5 over the seed (10): a weak
// line, which classify judges by the lattice-line rules too.

/** A dark line-seeded blob: the map pixels at or below -floor inside the box, seeded along 0 deg. */
function darkLineBlob(
  residual: Float32Array,
  floor: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): Blob {
  const out: number[] = [];
  for (let y = y0; y <= y1; y++)
    for (let x = x0; x <= x1; x++)
      if ((residual[y * size + x] as number) <= -floor) out.push(y * size + x);
  return { pixels: Int32Array.from(out), sign: -1, lineSeeded: true, lineAngle: 0 };
}

/** The group and classify stages on the blobs; the score is the residual's magnitude. */
function detect(residual: Float32Array, blobs: Blob[]) {
  const { work, image } = groupingInputs(residual);
  const thresholds = {
    score: residual.map(Math.abs),
    highAt: () => seedThreshold,
    scoreTail: 1,
  } as unknown as DetectionThresholds;
  const grouped = groupBlobs(blobs, work, wafer, lattice, residual, thresholds);
  return classifyGroups(grouped, image, work, wafer, lattice, thresholds);
}

describe("a dark line-seeded line along the lattice's a axis", () => {
  it("in a die interior (half a pitch off the street centre), ending, not repeated across: a scratch, kept", () => {
    const residual = new Float32Array(size * size);
    drawLine(residual, 110, 170, 40, 0, -lineLevel);
    const blob = darkLineBlob(residual, seedThreshold, 100, 165, 160, 175);
    assert.ok(blob.pixels.length > 60);
    const defects = detect(residual, [blob]);
    assert.equal(defects.length, 1, JSON.stringify(defects));
    assert.equal(defects[0]?.class, "scratch");
  });

  it("on a street's centre, whose leftover runs on along the row past its ends: the street's sampling phase, dropped", () => {
    const residual = new Float32Array(size * size);
    // The row's leftover along the whole chord; the seed took one stretch of it.
    drawLine(residual, 20, 160, 280, 0, -lineLevel);
    const blob = darkLineBlob(residual, seedThreshold, 110, 155, 150, 165);
    assert.deepEqual(detect(residual, [blob]), []);
  });

  it("in a die interior but repeated at the same die phase one and two pitches across: a pattern line, dropped", () => {
    const residual = new Float32Array(size * size);
    for (const y of [130, 150, 170, 190, 210]) drawLine(residual, 110, y, 40, 0, -lineLevel);
    const blob = darkLineBlob(residual, seedThreshold, 100, 165, 160, 175);
    assert.deepEqual(detect(residual, [blob]), []);
  });
});
