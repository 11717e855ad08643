// The die-to-die residual of interior pixels, whose eight neighbour-die samples all lie on the wafer: the JavaScript path's hot loop (the kernel's `interior` in WebAssembly).

/**
 * Residuals of pixels rowBase+from .. rowBase+to, all of whose neighbour samples lie on the
 * wafer: pair-averaged references, edge allowance, 2nd smallest deviation. Closure-free and
 * branch-free (min/max instead of ifs): on real, noisy data the branches of a naive version
 * mispredict about half the time and cost three times the arithmetic. The eight shifts are
 * written out with their offsets and fractions in locals, not read from tables per pixel: this
 * loop is most of the die-to-die stage. Each bilinear sample's right-hand column is the next
 * pixel's left-hand one, so it is carried over (top, bottom) instead of read again: half the
 * reads, the same arithmetic on the same values.
 */
export function interiorRun(
  data: Float32Array,
  width: number,
  out: Float32Array,
  rowBase: number,
  from: number,
  to: number,
  offsets: Int32Array,
  fxs: Float64Array,
  fys: Float64Array,
  noiseSigma: number,
  range: Float32Array,
  /** Per shift, ring index of its reference's cell minus the pixel index (CellRangeRing). */
  rangeDeltas: Int32Array,
  /** Per direction, the share of the range forgiven (pairMisregistrationShare). */
  shares: Float64Array,
): void {
  const share0 = shares[0] as number;
  const share1 = shares[1] as number;
  const share2 = shares[2] as number;
  const share3 = shares[3] as number;
  const o0 = offsets[0] as number;
  const fx0 = fxs[0] as number;
  const fy0 = fys[0] as number;
  const o1 = offsets[1] as number;
  const fx1 = fxs[1] as number;
  const fy1 = fys[1] as number;
  const o2 = offsets[2] as number;
  const fx2 = fxs[2] as number;
  const fy2 = fys[2] as number;
  const o3 = offsets[3] as number;
  const fx3 = fxs[3] as number;
  const fy3 = fys[3] as number;
  const o4 = offsets[4] as number;
  const fx4 = fxs[4] as number;
  const fy4 = fys[4] as number;
  const o5 = offsets[5] as number;
  const fx5 = fxs[5] as number;
  const fy5 = fys[5] as number;
  const o6 = offsets[6] as number;
  const fx6 = fxs[6] as number;
  const fy6 = fys[6] as number;
  const o7 = offsets[7] as number;
  const fx7 = fxs[7] as number;
  const fy7 = fys[7] as number;
  const r0 = rangeDeltas[0] as number;
  const r1 = rangeDeltas[1] as number;
  const r2 = rangeDeltas[2] as number;
  const r3 = rangeDeltas[3] as number;
  const r4 = rangeDeltas[4] as number;
  const r5 = rangeDeltas[5] as number;
  const r6 = rangeDeltas[6] as number;
  const r7 = rangeDeltas[7] as number;
  const first = rowBase + from;
  let top0 = data[first + o0] as number;
  let bottom0 = data[first + o0 + width] as number;
  let top1 = data[first + o1] as number;
  let bottom1 = data[first + o1 + width] as number;
  let top2 = data[first + o2] as number;
  let bottom2 = data[first + o2 + width] as number;
  let top3 = data[first + o3] as number;
  let bottom3 = data[first + o3 + width] as number;
  let top4 = data[first + o4] as number;
  let bottom4 = data[first + o4 + width] as number;
  let top5 = data[first + o5] as number;
  let bottom5 = data[first + o5 + width] as number;
  let top6 = data[first + o6] as number;
  let bottom6 = data[first + o6 + width] as number;
  let top7 = data[first + o7] as number;
  let bottom7 = data[first + o7 + width] as number;
  for (let base = first; base <= rowBase + to; base++) {
    const v = data[base] as number;
    const j0 = base + o0;
    const aLeft0 = top0;
    top0 = data[j0 + 1] as number;
    const aTop0 = aLeft0 + (top0 - aLeft0) * fx0;
    const aBottomLeft0 = bottom0;
    bottom0 = data[j0 + width + 1] as number;
    const aBottom0 = aBottomLeft0 + (bottom0 - aBottomLeft0) * fx0;
    const j1 = base + o1;
    const bLeft0 = top1;
    top1 = data[j1 + 1] as number;
    const bTop0 = bLeft0 + (top1 - bLeft0) * fx1;
    const bBottomLeft0 = bottom1;
    bottom1 = data[j1 + width + 1] as number;
    const bBottom0 = bBottomLeft0 + (bottom1 - bBottomLeft0) * fx1;
    const ref0 = 0.5 * (aTop0 + (aBottom0 - aTop0) * fy0 + bTop0 + (bBottom0 - bTop0) * fy1);
    const allowance0 = Math.max(
      0,
      share0 * Math.max(range[base + r0] as number, range[base + r1] as number) - noiseSigma,
    );
    const d0 = v - ref0;
    const e0 = d0 - Math.min(Math.max(d0, -allowance0), allowance0);
    const j2 = base + o2;
    const aLeft1 = top2;
    top2 = data[j2 + 1] as number;
    const aTop1 = aLeft1 + (top2 - aLeft1) * fx2;
    const aBottomLeft1 = bottom2;
    bottom2 = data[j2 + width + 1] as number;
    const aBottom1 = aBottomLeft1 + (bottom2 - aBottomLeft1) * fx2;
    const j3 = base + o3;
    const bLeft1 = top3;
    top3 = data[j3 + 1] as number;
    const bTop1 = bLeft1 + (top3 - bLeft1) * fx3;
    const bBottomLeft1 = bottom3;
    bottom3 = data[j3 + width + 1] as number;
    const bBottom1 = bBottomLeft1 + (bottom3 - bBottomLeft1) * fx3;
    const ref1 = 0.5 * (aTop1 + (aBottom1 - aTop1) * fy2 + bTop1 + (bBottom1 - bTop1) * fy3);
    const allowance1 = Math.max(
      0,
      share1 * Math.max(range[base + r2] as number, range[base + r3] as number) - noiseSigma,
    );
    const d1 = v - ref1;
    const e1 = d1 - Math.min(Math.max(d1, -allowance1), allowance1);
    const j4 = base + o4;
    const aLeft2 = top4;
    top4 = data[j4 + 1] as number;
    const aTop2 = aLeft2 + (top4 - aLeft2) * fx4;
    const aBottomLeft2 = bottom4;
    bottom4 = data[j4 + width + 1] as number;
    const aBottom2 = aBottomLeft2 + (bottom4 - aBottomLeft2) * fx4;
    const j5 = base + o5;
    const bLeft2 = top5;
    top5 = data[j5 + 1] as number;
    const bTop2 = bLeft2 + (top5 - bLeft2) * fx5;
    const bBottomLeft2 = bottom5;
    bottom5 = data[j5 + width + 1] as number;
    const bBottom2 = bBottomLeft2 + (bottom5 - bBottomLeft2) * fx5;
    const ref2 = 0.5 * (aTop2 + (aBottom2 - aTop2) * fy4 + bTop2 + (bBottom2 - bTop2) * fy5);
    const allowance2 = Math.max(
      0,
      share2 * Math.max(range[base + r4] as number, range[base + r5] as number) - noiseSigma,
    );
    const d2 = v - ref2;
    const e2 = d2 - Math.min(Math.max(d2, -allowance2), allowance2);
    const j6 = base + o6;
    const aLeft3 = top6;
    top6 = data[j6 + 1] as number;
    const aTop3 = aLeft3 + (top6 - aLeft3) * fx6;
    const aBottomLeft3 = bottom6;
    bottom6 = data[j6 + width + 1] as number;
    const aBottom3 = aBottomLeft3 + (bottom6 - aBottomLeft3) * fx6;
    const j7 = base + o7;
    const bLeft3 = top7;
    top7 = data[j7 + 1] as number;
    const bTop3 = bLeft3 + (top7 - bLeft3) * fx7;
    const bBottomLeft3 = bottom7;
    bottom7 = data[j7 + width + 1] as number;
    const bBottom3 = bBottomLeft3 + (bottom7 - bBottomLeft3) * fx7;
    const ref3 = 0.5 * (aTop3 + (aBottom3 - aTop3) * fy6 + bTop3 + (bBottom3 - bTop3) * fy7);
    const allowance3 = Math.max(
      0,
      share3 * Math.max(range[base + r6] as number, range[base + r7] as number) - noiseSigma,
    );
    const d3 = v - ref3;
    const e3 = d3 - Math.min(Math.max(d3, -allowance3), allowance3);
    const m0 = Math.abs(e0);
    const m1 = Math.abs(e1);
    const m2 = Math.abs(e2);
    const m3 = Math.abs(e3);
    // 2nd smallest of four magnitudes without branches.
    const second = Math.min(
      Math.max(Math.min(m0, m1), Math.min(m2, m3)),
      Math.min(Math.max(m0, m1), Math.max(m2, m3)),
    );
    // A real defect differs from its neighbours all in one direction; the sum carries that sign.
    out[base] = Math.sign(e0 + e1 + e2 + e3) * second;
  }
}
