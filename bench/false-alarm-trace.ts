// Follows each reported defect that matches no true one (a false alarm) back through detect()'s stages.
//
//   node --import tsx bench/false-alarm-trace.ts [--crossings] [--misses] [--box x,y,w,h]... <image>...
//   (truth.json beside each image)
//
// Each image goes through the quality gate and then detect()'s stages, called here one by one
// as detect() calls them (no hints, as `--no-hints` runs), so every intermediate can be read.
// Per image it prints the gate's hot-pixel count, the lattice found (image px) against the
// truth's die pitch, the die-to-die comparison's sigma and the score's tail factor. Per group
// that becomes a reported defect matching no true one: its blobs and how each was seeded,
// size, class, strength (peak score over the seed threshold) against the score tail, and at
// the residual's peak: the four pair differences (a, b, a+b, a-b) on the comparison's smoothed
// map before the misregistration allowance, each direction's allowance (share x the larger
// 2x2 range of its two reference cells, less the comparison sigma: what die-to-die.ts
// computes), the residual, the pixel seed's value against its threshold, the die cell the peak
// lies in (die index along a and b) and, on patterned wafers, the sensor-fault test's numbers.
// With --crossings, per patterned wafer also the street crossings of the interior grouped by
// their index modulo 2 and modulo 3 (a reticle field's period): for the class whose peak
// |residual| has the largest median, that median (comparison sigmas), the smoothed score over
// its seed threshold, and how many crossings of the class reach it (a reticle field's own
// pattern at its centre or boundary crossings, round 16 of docs/detector-recall.md).
// With --misses, detect() itself (the shipping detector, gate in front, no hints) is run first
// and every true defect none of its reports matches is followed; --box x,y,w,h (image px,
// repeatable) follows a box of one's own. For such a box it prints where the stages lose it
// (round 20): the residual's peak in the box before and after die levelling, the smoothed
// score's and the pixel seed's best ratio to their thresholds there, the seed threshold's
// pattern-activity class and that class's sigma against the flattest class's, the four pair
// differences with each direction's allowance at the peak, and the blobs, groups and reports
// that touch the box.
// With --ring (beside --misses or --box), a peak in the rim ring also gets what dieToDie's
// edgePixel compared there (round 26): per direction a symmetric pair, a two-die extrapolation
// (2 near - far) or a single die, by the same on-wafer test as the comparison (the fitted
// circle less 1.5 map px, inside the frame), each difference with its allowance, which of them
// rimRingDirections keeps, the value that rule reports and the reference set's noise gain.
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Vector } from "../endpoint/detector/lattice.ts";
import type { FloatMap } from "../endpoint/detector/raster.ts";
import { usageErrorLine, wantsHelp } from "../lib/cli.ts";
import type { BBox } from "../schemas/common.ts";

const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

/** Names of the four pair directions, in the order of trace()'s `directions` (a, b, then the diagonals). */
const PAIR_NAMES = ["a", "b", "a+b", "a-b"];

/** Max - min of the 2x2 cell whose top-left pixel holds the sample (die-to-die.ts's range). */
function cellRange(map: FloatMap, x: number, y: number): number {
  const i = Math.floor(y) * map.width + Math.floor(x);
  const v = [map.data[i], map.data[i + 1], map.data[i + map.width], map.data[i + map.width + 1]];
  return Math.max(...(v as number[])) - Math.min(...(v as number[]));
}

/**
 * The sensor-fault rule's two readings at a peak (sensor-faults.ts isSensorFault, without its
 * gates): the largest median of the four raw pair differences in the central 3x3 (the spike) and
 * the sum over its 8 neighbours of the largest pair difference in the spike's sign (the spread).
 */
function faultReading(
  sign: number,
  tx: number,
  ty: number,
  work: FloatMap,
  directions: Vector[],
): { spike: number; spread: number; largest: number[]; medians: number[] } {
  const pairsAt = (x: number, y: number) => {
    const v = work.data[y * work.width + x] as number;
    return directions.map(
      (d) =>
        sign * (v - 0.5 * (bilinear(work, x + d.x, y + d.y) + bilinear(work, x - d.x, y - d.y))),
    );
  };
  const median4 = (p: number[]) => {
    const s = [...p].sort((a, b) => a - b);
    return 0.5 * ((s[1] as number) + (s[2] as number));
  };
  let spike = Number.NEGATIVE_INFINITY;
  let cx = tx;
  let cy = ty;
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) {
      const m = median4(pairsAt(tx + dx, ty + dy));
      if (m > spike) {
        spike = m;
        cx = tx + dx;
        cy = ty + dy;
      }
    }
  let spread = 0;
  const largest: number[] = [];
  const medians: number[] = [];
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++)
      if (dx || dy) {
        const pairs = pairsAt(cx + dx, cy + dy);
        largest.push(Math.max(...pairs));
        medians.push(median4(pairs));
        spread += Math.max(...pairs);
      }
  return { spike, spread, largest, medians };
}

/** The gate's view of the brightest (or darkest) pixel of a box in the decoded image. */
function gateView(
  src: Uint8Array | Uint16Array,
  width: number,
  box: { x: number; y: number; width: number; height: number },
  sign: number,
  threshold: number,
): string {
  let at = box.y * width + box.x;
  for (let y = box.y; y < box.y + box.height; y++)
    for (let x = box.x; x < box.x + box.width; x++)
      if (sign * ((src[y * width + x] as number) - (src[at] as number)) > 0) at = y * width + x;
  const c = src[at] as number;
  const n = [-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1].map(
    (o) => src[at + o] as number,
  );
  const sorted = [...n].sort((a, b) => a - b);
  const med = 0.5 * ((sorted[3] as number) + (sorted[4] as number));
  const spike = Math.abs(c - med);
  const nearest = c > med ? c - (sorted[7] as number) : (sorted[0] as number) - c;
  const rows: string[] = [];
  for (let dy = -2; dy <= 2; dy++) {
    const row: number[] = [];
    for (let dx = -2; dx <= 2; dx++) row.push(src[at + dy * width + dx] as number);
    rows.push(row.join(" "));
  }
  return `decoded pixel (${at % width}, ${Math.floor(at / width)}) = ${c}: spike over the 8 neighbours' median ${f(spike, 1)} (gate threshold ${f(threshold, 1)}), nearest neighbour ${f(nearest / spike, 3)} of the spike below it (isolation needs 0.8); 5x5 [${rows.join(" | ")}]`;
}

/**
 * What edgePixel (die-to-die-rim-ring.ts) compares at the ring pixel (x, y) of the smoothed
 * map: per direction the kind of reference the on-wafer test leaves (dieToDie's rowIntervals:
 * the sample inside the circle of radius validR and inside the frame), the difference and its
 * allowance, the directions rimRingDirections keeps, the value its rule reports and the gain.
 */
function ringComparison(
  smooth: FloatMap,
  x: number,
  y: number,
  directions: Vector[],
  circle: { cx: number; cy: number },
  validR: number,
  sigma: number,
): string {
  const onWafer = (sx: number, sy: number) => {
    const qx = x + sx;
    const qy = y + sy;
    return (
      qy >= 0 &&
      qy < smooth.height - 1 &&
      qx >= 0 &&
      qx <= smooth.width - 2 &&
      (qx - circle.cx) ** 2 + (qy - circle.cy) ** 2 < validR * validR
    );
  };
  const v = smooth.data[y * smooth.width + x] as number;
  // rimRingDirections reads the on-wafer test as row intervals; one pixel's are [x, x] or empty.
  const lower = new Int32Array(8);
  const upper = new Int32Array(8);
  const lower2 = new Int32Array(8);
  const upper2 = new Int32Array(8);
  const set = (lo: Int32Array, up: Int32Array, k: number, ok: boolean) => {
    lo[k] = ok ? x : 1;
    up[k] = ok ? x : 0;
  };
  const precisionOf = { pair: 2, extrapolated: 1 / 5, single: 1 };
  const readings = directions.map((d, k) => {
    const plus = onWafer(d.x, d.y);
    const minus = onWafer(-d.x, -d.y);
    set(lower, upper, 2 * k, plus);
    set(lower, upper, 2 * k + 1, minus);
    set(lower2, upper2, 2 * k, onWafer(2 * d.x, 2 * d.y));
    set(lower2, upper2, 2 * k + 1, onWafer(-2 * d.x, -2 * d.y));
    if (plus && minus) {
      const ref = 0.5 * (bilinear(smooth, x + d.x, y + d.y) + bilinear(smooth, x - d.x, y - d.y));
      const spread = Math.max(
        cellRange(smooth, x + d.x, y + d.y),
        cellRange(smooth, x - d.x, y - d.y),
      );
      return { kind: "pair" as const, diff: v - ref, spread, share: pairMisregistrationShare(d) };
    }
    if (!plus && !minus) return null;
    const s = plus ? 1 : -1;
    const near = bilinear(smooth, x + s * d.x, y + s * d.y);
    if (onWafer(2 * s * d.x, 2 * s * d.y)) {
      const far = bilinear(smooth, x + 2 * s * d.x, y + 2 * s * d.y);
      const spread =
        2 * cellRange(smooth, x + s * d.x, y + s * d.y) +
        cellRange(smooth, x + 2 * s * d.x, y + 2 * s * d.y);
      return {
        kind: "extrapolated" as const,
        diff: v - (2 * near - far),
        spread,
        share: extrapolationMisregistrationShare(d),
      };
    }
    return {
      kind: "single" as const,
      diff: v - near,
      spread: cellRange(smooth, x + s * d.x, y + s * d.y),
      share: MISREGISTRATION_SHARE,
    };
  });
  const include = rimRingDirections(x, lower, upper, lower2, upper2);
  const veto = (include & VETO_BIT) !== 0;
  const kept: number[] = [];
  let pairValue = Number.POSITIVE_INFINITY;
  let oneSided = { diff: 0, allowance: 0 };
  let precisions = 0;
  let pairPrecisions = 0;
  let largest = 0;
  const parts = readings.map((r, k) => {
    if (!r) return `${PAIR_NAMES[k]} none`;
    // An extrapolation's own share only where two or more pairs decide (PAIRS_DECIDE_BIT).
    const share =
      r.kind === "extrapolated" && (include & PAIRS_DECIDE_BIT) === 0
        ? MISREGISTRATION_SHARE
        : r.share;
    const allowance = Math.max(0, share * r.spread - sigma);
    const e =
      r.diff > allowance ? r.diff - allowance : r.diff < -allowance ? r.diff + allowance : 0;
    const used = ((include >> k) & 1) === 1;
    if (used) {
      kept.push(e);
      if (r.kind === "pair") {
        if (Math.abs(e) < Math.abs(pairValue)) pairValue = e;
      } else oneSided = { diff: r.diff, allowance };
      const p = precisionOf[r.kind];
      precisions += p;
      if (r.kind === "pair") pairPrecisions += p;
      largest = Math.max(largest, p);
    }
    return `${PAIR_NAMES[k]} ${r.kind} ${f(r.diff, 3)} (allow ${f(allowance, 3)})${used ? "" : " not kept"}`;
  });
  kept.sort((p, q) => Math.abs(p) - Math.abs(q));
  const n = kept.length;
  const abstains = veto && vetoAbstains(oneSided.diff, oneSided.allowance, pairValue);
  const value =
    n === 0
      ? 0
      : n >= 3 && !veto
        ? (kept[1] as number)
        : abstains
          ? pairValue
          : (kept[0] as number);
  const dominant = veto ? pairPrecisions : n >= 3 ? precisions - largest : precisions;
  const rule = n >= 3 && !veto ? "2nd smallest" : "smallest";
  return `${parts.join("; ")}; kept ${n}${veto ? ` with the veto${abstains ? " (abstains)" : ""}` : ""}, ${rule}: ${f(value, 3)}, gain ${f(referenceNoiseGain(dominant))}`;
}

interface TraceOptions {
  crossings: boolean;
  /** With --misses or --box: what the rim ring compared at a peak in it. */
  ring: boolean;
  /** Follow every true defect the shipping detect() misses. */
  misses: boolean;
  /** Boxes (image px) to follow whatever detect() says about them. */
  boxes: BBox[];
}

async function trace(path: string, options: TraceOptions): Promise<void> {
  const truthFile = TruthSchema.parse(
    JSON.parse(await readFile(join(dirname(path), "truth.json"), "utf8")),
  );
  const truth = truthFile.wafers.find((w) => w.fileName === basename(path));
  if (!truth) throw new Error(`${path}: not in its truth.json`);
  const decoded = await decodeGray(new Uint8Array(await readFile(path)));
  const gate = assessQuality(decoded);
  console.log(
    `\n== ${path}: ${decoded.width} px ${decoded.bitDepth} bit, ${truth.surface}, truth pitch ${JSON.stringify(truth.diePitchPx)}, noise ${truth.noiseSigma}, artefacts [${truth.artefacts?.join(", ") ?? ""}], ${truth.defects.length} true`,
  );
  if (!gate.usable) {
    console.log("  gate: unusable");
    return;
  }
  // The gate's fault threshold (measures.ts removeHotPixels, thresholds.ts).
  const gateThreshold =
    Math.max(12 * Math.max(gate.quality.noiseSigma, 0.002), 0.1) * fullScale(decoded);
  console.log(
    `  gate: noise ${gate.quality.noiseSigma}, blur ${gate.quality.blurSigmaPx2048} px at 2048, hot pixels removed ${gate.quality.hotPixelsRemoved}`,
  );
  const image = gate.image;
  // The shipping detector's verdict first (it takes the map the gate handed over; the stages
  // below bin their own): which true defects none of its reports matches.
  const boxes: Array<{ box: BBox; sign: number | null; label: string }> = options.boxes.map(
    (box) => ({ box, sign: null, label: "BOX" }),
  );
  let reported: BBox[] = [];
  if (options.misses || boxes.length > 0) {
    reported = detect(image, {}).defects.map((d) => d.bbox);
    const fs = fullScale(decoded);
    for (const t of truth.defects)
      if (options.misses && !reported.some((r) => boxesMatch(t.bbox, r)))
        boxes.push({
          box: t.bbox,
          sign: Math.sign(t.contrast) || 1,
          label: `MISSED ${t.class} (contrast ${f(100 * t.contrast, 2)}% of full scale = ${f(t.contrast * fs, 1)} codes)`,
        });
    console.log(
      `  detect(): ${reported.length} reported, ${truth.defects.filter((t) => reported.some((r) => boxesMatch(t.bbox, r))).length} of ${truth.defects.length} true found`,
    );
  }
  // detect()'s stages, in its order (endpoint/detector/index.ts).
  checkImage(image);
  const hint = parseHints({});
  const work = takeHandedOverMap(image) ?? workingMap(image);
  const scale = work.scale;
  // Locate starts from the gate's disk, as in detect(): handed over, or fitted as the gate fits it.
  const handedSeed = takeHandedOverSeed(image);
  const seed = handedSeed === undefined ? diskSeedOf(image, work) : handedSeed;
  const disk = locateDisk(image, work, fullScale(image), seed);
  let wafer = placeWafer(image, work, disk, hint);
  const noise = measureNoise(work, wafer);
  const illumination = fitIllumination(work, wafer, noise, hint);
  const lattice = illumination.mayBePatterned ? findLattice(work, wafer, noise, hint) : null;
  if (lattice) wafer = alignNotchWithGrid(wafer, lattice);
  // The comparison's smoothed map, as dieToDie builds it (read here for the pair differences).
  const smooth: FloatMap = { ...work, data: new Float32Array(work.width * work.height) };
  binomialBlur3(work.data, work.width, work.height, smooth.data);
  const compared = lattice
    ? dieToDie(work, wafer, noise, lattice)
    : {
        residual: bareResidual(work, wafer, noise, illumination.background),
        edgeMask: null,
        comparisonSigma: null,
        edgeGain: null,
      };
  const residual = compared.residual;
  const seedThresholds = thresholdsOfComparison(work, wafer, noise, lattice, compared);
  if (lattice && options.crossings) {
    const { a, b } = lattice;
    const sOff = lattice.streetPhase.a / Math.hypot(a.x, a.y);
    const tOff = lattice.streetPhase.b / Math.hypot(b.x, b.y);
    const values: Array<{
      i: number;
      j: number;
      peak: number;
      seeded: boolean;
      ratio: number;
      seedRel: number;
    }> = [];
    for (let i = -60; i <= 60; i++)
      for (let j = -60; j <= 60; j++) {
        const cx = wafer.analysis.cx + (i + sOff) * a.x + (j + tOff) * b.x;
        const cy = wafer.analysis.cy + (i + sOff) * a.y + (j + tOff) * b.y;
        if (Math.hypot(cx - wafer.analysis.cx, cy - wafer.analysis.cy) > wafer.analysis.r - 4)
          continue;
        let best = 0;
        let ratio = 0;
        let ring = false;
        for (let dy = -2; dy <= 2; dy++)
          for (let dx = -2; dx <= 2; dx++) {
            const q = Math.round(cy + dy) * work.width + Math.round(cx + dx);
            if (compared.edgeMask?.[q]) ring = true;
            if (Math.abs(residual[q] as number) > Math.abs(best)) best = residual[q] as number;
            ratio = Math.max(
              ratio,
              Math.abs(seedThresholds.score[q] as number) / seedThresholds.highAt(q),
            );
          }
        if (ring) continue;
        const qc = Math.round(cy) * work.width + Math.round(cx);
        values.push({
          i,
          j,
          peak: best / (compared.comparisonSigma ?? 1),
          seeded: ratio >= 1,
          ratio,
          seedRel: seedThresholds.highAt(qc) / seedThresholds.seeds.minHigh,
        });
      }
    const parts: string[] = [];
    for (const period of [2, 3]) {
      let bestKey = "";
      let bestMedian = Number.NEGATIVE_INFINITY;
      let bestCount = 0;
      let bestSeeded = 0;
      for (let pi = 0; pi < period; pi++)
        for (let pj = 0; pj < period; pj++) {
          const cls = values.filter(
            (v) =>
              ((v.i % period) + period) % period === pi &&
              ((v.j % period) + period) % period === pj,
          );
          const sorted = cls.map((v) => Math.abs(v.peak)).sort((p, q) => p - q);
          const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
          if (median > bestMedian) {
            bestMedian = median;
            bestKey = `${pi},${pj}`;
            bestCount = cls.length;
            bestSeeded = cls.filter((v) => v.seeded).length;
            const r = cls.map((v) => v.ratio).sort((p, q) => p - q);
            const h = cls.map((v) => v.seedRel).sort((p, q) => p - q);
            bestKey += ` (score/seed median ${r[Math.floor(r.length / 2)]?.toFixed(2)} max ${r[r.length - 1]?.toFixed(2)}, seed/minHigh median ${h[Math.floor(h.length / 2)]?.toFixed(2)})`;
          }
        }
      parts.push(
        `period ${period}: class ${bestKey} median |peak| ${bestMedian.toFixed(1)} sigma over ${bestCount}, seeded ${bestSeeded}`,
      );
    }
    const all = values.map((v) => Math.abs(v.peak)).sort((p, q) => p - q);
    console.log(
      `  CROSSINGS ${values.length} (median |peak| ${all[Math.floor(all.length / 2)]?.toFixed(1)}): ${parts.join("; ")}`,
    );
  }
  const blobs = hysteresisBlobs(
    seedThresholds.score,
    work.width,
    work.height,
    wafer.analysis,
    seedThresholds.seeds,
  );
  // The score's tail, read on what the seeds did not grow into defects or lines (as detect() does).
  const thresholds = withScoreTail(seedThresholds, blobs, work, wafer);
  const grouped = groupBlobs(blobs, work, wafer, lattice, residual, thresholds, compared.edgeMask);
  const rimBlur = takeRimBlur(image);
  const judge = lattice
    ? sensorFaultJudge(
        image,
        work,
        lattice,
        residual,
        { cx: wafer.analysis.cx, cy: wafer.analysis.cy, r: wafer.circle.r / work.scale - 1.5 },
        noise.sigmaMap,
        compared.comparisonSigma,
        rimBlur,
      )
    : null;
  const level = Math.abs(noise.level);
  console.log(
    `  map scale ${scale}, level ${f(level)}, sigmaMap ${f(noise.sigmaMap, 3)}, comparison sigma ${f(compared.comparisonSigma ?? Number.NaN, 3)}, score tail ${f(thresholds.scoreTail)}, minHigh ${f(thresholds.seeds.minHigh, 3)}, pixel seed min ${f(thresholds.seeds.pixelSeed?.min ?? Number.NaN, 3)}, blobs ${blobs.length}, groups ${grouped.groups.length}, rim blur ${f(rimBlur ?? Number.NaN)}`,
  );
  if (lattice) {
    const px = (v: Vector) =>
      `(${f(v.x * scale)}, ${f(v.y * scale)}) |${f(Math.hypot(v.x, v.y) * scale)}| ${f((Math.atan2(v.y, v.x) * 180) / Math.PI)} deg`;
    console.log(
      `  lattice a ${px(lattice.a)}, b ${px(lattice.b)}, street phase ${f(lattice.streetPhase.a)}/${f(lattice.streetPhase.b)}, periodicity ${f(lattice.periodicity, 3)}`,
    );
  } else console.log("  no lattice (bare path)");
  const directions: Vector[] = lattice
    ? [
        lattice.a,
        lattice.b,
        { x: lattice.a.x + lattice.b.x, y: lattice.a.y + lattice.b.y },
        { x: lattice.a.x - lattice.b.x, y: lattice.a.y - lattice.b.y },
      ]
    : [];
  const sigma = compared.comparisonSigma ?? noise.sigmaMap;
  const dieOf = (x: number, y: number) => {
    if (!lattice) return "";
    const { a, b } = lattice;
    const det = a.x * b.y - a.y * b.x;
    const dx = x - wafer.analysis.cx;
    const dy = y - wafer.analysis.cy;
    const s = (dx * b.y - dy * b.x) / det - lattice.streetPhase.a / Math.hypot(a.x, a.y);
    const t = (a.x * dy - a.y * dx) / det - lattice.streetPhase.b / Math.hypot(b.x, b.y);
    return `die (${Math.floor(s)}, ${Math.floor(t)}) at phase (${f(s - Math.floor(s))}, ${f(t - Math.floor(t))})`;
  };
  // The four pair differences at (x, y) on the smoothed map, each with its allowance (and, with
  // `references`, the two reference values): one reading for the miss and false-alarm traces.
  const pairsAt = (x: number, y: number, references = false): string => {
    const at = y * work.width + x;
    return directions
      .map((dir, k) => {
        const plus = bilinear(smooth, x + dir.x, y + dir.y);
        const minus = bilinear(smooth, x - dir.x, y - dir.y);
        const diff = (smooth.data[at] as number) - 0.5 * (plus + minus);
        const range = Math.max(
          cellRange(smooth, x + dir.x, y + dir.y),
          cellRange(smooth, x - dir.x, y - dir.y),
        );
        const share = pairMisregistrationShare(dir);
        const allowance = Math.max(0, share * range - sigma);
        const sides = references ? `; + ${f(plus, 3)} - ${f(minus, 3)}` : "";
        return `${PAIR_NAMES[k]} ${f(diff, 3)} (allow ${f(allowance, 3)} = ${f(share)} x ${f(range, 3)}${sides})`;
      })
      .join("; ");
  };
  if (options.misses && compared.edgeMask) {
    // How many true defects lie in the rim ring (references extrapolated), found or not: a
    // ring's share of the misses means something only against its share of the defects.
    const inRing = truth.defects.filter((t) => {
      const cx = Math.floor((t.bbox.x + t.bbox.width / 2) / scale);
      const cy = Math.floor((t.bbox.y + t.bbox.height / 2) / scale);
      return compared.edgeMask?.[cy * work.width + cx] === 1;
    });
    console.log(
      `  true defects in the rim ring: ${inRing.length} of ${truth.defects.length}, ${inRing.filter((t) => reported.some((r) => boxesMatch(t.bbox, r))).length} of them found`,
    );
  }
  if (boxes.length > 0) {
    // The kernel's residual (the same comparison before the interpolation-error passes of the
    // interior and the rim ring, the footprints' restoring and die levelling), and the seed
    // threshold's pattern-activity classes (stages/thresholds.ts measures them so): what each
    // later step did at the box.
    let unlevelled: Float32Array | null = null;
    if (lattice && compared.comparisonSigma !== null) {
      unlevelled = new Float32Array(work.width * work.height);
      dieToDieResidual(
        { ...work, data: smooth.data.slice() },
        lattice.a,
        lattice.b,
        wafer.analysis,
        wafer.circle.r / work.scale,
        compared.comparisonSigma,
        unlevelled,
      );
    }
    const ring =
      compared.edgeMask &&
      countOnes(compared.edgeMask, DETECTION.minZoneSamples) >= DETECTION.minZoneSamples
        ? compared.edgeMask
        : undefined;
    // The score's floor as stages/thresholds.ts sets it (round 21: the comparison's sigma where
    // the die-to-die stage ran, else the raw map's sigma smoothed once).
    const scoreFloor =
      0.8 * (compared.comparisonSigma ?? DETECTION.binomialNoiseGain * noise.sigmaMap);
    const [scoreModel] = measureSigmas(
      [thresholds.score],
      [scoreFloor],
      work,
      wafer.analysis,
      lattice?.a ?? null,
      ring,
      0,
      lattice ? activityMap(work) : null,
    );
    const classes = scoreModel
      ? `${scoreModel.sigmas.length} activity classes, bounds [${[...scoreModel.bounds].map((v) => f(v, 1)).join(", ")}], score sigmas [${[...scoreModel.sigmas].map((v) => f(v, 3)).join(", ")}]`
      : "";
    // The same classes without the noise floor (what the residual's own statistic reads), and
    // the die-to-die difference noise before dieToDie's floor (binomial gain x sigmaMap): whether
    // the floors, which follow measureNoise's sigmaMap, set the thresholds.
    const [unflooredModel] = measureSigmas(
      [thresholds.score],
      [0],
      work,
      wafer.analysis,
      lattice?.a ?? null,
      ring,
      0,
      lattice ? activityMap(work) : null,
    );
    const dieDifference = lattice
      ? estimateDieDifferenceNoise(
          smooth.data,
          work.width,
          work.height,
          wafer.analysis,
          lattice.a,
          lattice.b,
        )
      : Number.NaN;
    console.log(
      `  seed threshold model: ${classes}; seed ${DETECTION.seedSigmas} sigmas; unfloored class sigmas [${unflooredModel ? [...unflooredModel.sigmas].map((v) => f(v, 3)).join(", ") : ""}]; score floor ${f(scoreFloor, 3)}; die-difference noise ${f(dieDifference, 3)} vs binomial gain x sigmaMap ${f(DETECTION.binomialNoiseGain * noise.sigmaMap, 3)}; truth noise per map px ${f((truth.noiseSigma * fullScale(decoded)) / scale, 3)}`,
    );
    for (const { box, sign: truthSign, label } of boxes) {
      const x0 = Math.max(0, Math.floor(box.x / scale));
      const y0 = Math.max(0, Math.floor(box.y / scale));
      const x1 = Math.min(work.width - 1, Math.floor((box.x + box.width - 1) / scale));
      const y1 = Math.min(work.height - 1, Math.floor((box.y + box.height - 1) / scale));
      let sign = truthSign;
      if (sign === null) {
        let extreme = 0;
        for (let y = y0; y <= y1; y++)
          for (let x = x0; x <= x1; x++) {
            const v = residual[y * work.width + x] as number;
            if (Math.abs(v) > Math.abs(extreme)) extreme = v;
          }
        sign = Math.sign(extreme) || 1;
      }
      let top = y0 * work.width + x0;
      let scoreAt = top;
      let pixelAt = top;
      let unlevelledTop = top;
      let bestScore = Number.NEGATIVE_INFINITY;
      let bestPixel = Number.NEGATIVE_INFINITY;
      const pixelHigh = thresholds.seeds.pixelSeed?.high;
      for (let y = y0; y <= y1; y++)
        for (let x = x0; x <= x1; x++) {
          const i = y * work.width + x;
          if (sign * (residual[i] as number) > sign * (residual[top] as number)) top = i;
          if (
            unlevelled &&
            sign * (unlevelled[i] as number) > sign * (unlevelled[unlevelledTop] as number)
          )
            unlevelledTop = i;
          const sr = (sign * (thresholds.score[i] as number)) / thresholds.highAt(i);
          if (sr > bestScore) {
            bestScore = sr;
            scoreAt = i;
          }
          if (pixelHigh) {
            const pr = (sign * (residual[i] as number)) / pixelHigh(i);
            if (pr > bestPixel) {
              bestPixel = pr;
              pixelAt = i;
            }
          }
        }
      const x = top % work.width;
      const y = Math.floor(top / work.width);
      const activity = scoreModel ? patternActivity(scoreModel, scoreAt) : 0;
      let cls = 0;
      while (
        scoreModel &&
        cls < scoreModel.bounds.length - 1 &&
        activity > (scoreModel.bounds[cls] as number)
      )
        cls++;
      const classSigma = scoreModel ? sigmaAt(scoreModel, scoreAt) : Number.NaN;
      const flattest = scoreModel ? Math.min(...scoreModel.sigmas) : Number.NaN;
      console.log(
        `  ${label} (${box.x}, ${box.y}) ${box.width}x${box.height}, sign ${sign}: peak map (${x}, ${y}) ${dieOf(x, y)}, edge ring ${compared.edgeMask?.[top] ?? 0}`,
      );
      console.log(
        `    residual ${f(residual[top] as number, 3)} (${f((sign * (residual[top] as number)) / sigma, 1)} sigma, ${f((100 * Math.abs(residual[top] as number)) / level)}% of level)${unlevelled ? `; the kernel's, before the passes after it and levelling, ${f(unlevelled[unlevelledTop] as number, 3)} (${f((sign * (unlevelled[unlevelledTop] as number)) / sigma, 1)} sigma; those moved the peak pixel by ${f((residual[top] as number) - (unlevelled[top] as number), 3)})` : ""}`,
      );
      console.log(
        `    score best ${f(sign * (thresholds.score[scoreAt] as number), 3)} vs seed ${f(thresholds.highAt(scoreAt), 3)} (${f(bestScore)}x; minHigh ${f(thresholds.seeds.minHigh, 3)}, level floor ${f(DETECTION.seedLevelShare * level, 3)}); there activity ${f(activity, 2)}, class ${cls + 1} of ${scoreModel?.sigmas.length ?? 0}, class score sigma ${f(classSigma, 3)} = ${f(classSigma / flattest)}x the flattest's; pixel seed best ${f(sign * (residual[pixelAt] as number), 3)} vs ${f(pixelHigh ? pixelHigh(pixelAt) : Number.NaN, 3)} (${f(bestPixel)}x)`,
      );
      if (lattice)
        console.log(
          `    pairs at peak (smoothed ${f(smooth.data[top] as number, 3)}): ${pairsAt(x, y)}`,
        );
      if (options.ring && lattice && compared.edgeMask?.[top])
        console.log(
          `    ring comparison at peak: ${ringComparison(smooth, x, y, directions, wafer.analysis, wafer.circle.r / work.scale - 1.5, sigma)}`,
        );
      const inBox = (i: number) => {
        const px = i % work.width;
        const py = Math.floor(i / work.width);
        return px >= x0 && px <= x1 && py >= y0 && py <= y1;
      };
      const touching = blobs.filter((blob) => blob.pixels.some(inBox));
      const groups = grouped.groups.filter((g) => g.pixels.some(inBox));
      const verdicts = groups.map((g) => {
        const defects = classifyGroups(
          { ...grouped, groups: [g] },
          image,
          work,
          wafer,
          lattice,
          thresholds,
        );
        const fault = judge ? isSensorFault(g, judge) : false;
        let peak = 0;
        let at = g.pixels[0] as number;
        for (const i of g.pixels)
          if (Math.abs(thresholds.score[i] as number) > peak) {
            peak = Math.abs(thresholds.score[i] as number);
            at = i;
          }
        return `group ${g.pixels.length} px sign ${g.sign} strength ${f(peak / thresholds.highAt(at))} (tail ${f(thresholds.scoreTail)})${fault ? " SENSOR FAULT" : ""} -> ${defects.length ? defects.map((d) => `${d.class} (${d.bbox.x}, ${d.bbox.y}) ${d.bbox.width}x${d.bbox.height}`).join(", ") : "dropped at classify"}`;
      });
      const near = reported.filter(
        (r) => boxesMatch(box, r) || (Math.abs(r.x - box.x) < 20 && Math.abs(r.y - box.y) < 20),
      );
      console.log(
        `    blobs touching ${touching.length} [${touching.map((b) => b.pixels.length).join(", ")}]; ${verdicts.join("; ") || "no group"}; detect() reports near it: ${near.map((r) => `(${r.x}, ${r.y}) ${r.width}x${r.height}`).join(", ") || "none"}`,
      );
    }
  }
  if (options.misses || options.boxes.length > 0) return;
  for (const group of grouped.groups) {
    const defects = classifyGroups(
      { ...grouped, groups: [group] },
      image,
      work,
      wafer,
      lattice,
      thresholds,
    );
    const fault = judge ? isSensorFault(group, judge) : false;
    for (const d of defects) {
      const matched = truth.defects.some((t) => boxesMatch(t.bbox, d.bbox));
      if (matched) continue;
      // The residual's peak over the group.
      let top = group.pixels[0] as number;
      for (const i of group.pixels)
        if (group.sign * (residual[i] as number) > group.sign * (residual[top] as number)) top = i;
      const x = top % work.width;
      const y = Math.floor(top / work.width);
      const seededBy = new Set<string>();
      const sizes: number[] = [];
      for (const blob of blobs) {
        if (!blob.pixels.some((p) => group.pixels.includes(p))) continue;
        sizes.push(blob.pixels.length);
        if (blob.lineSeeded) seededBy.add("line");
        else if (
          blob.pixels.some(
            (p) => Math.abs(thresholds.score[p] as number) >= thresholds.seeds.high(p),
          )
        )
          seededBy.add("score");
        else seededBy.add("pixel");
      }
      let peakScore = 0;
      let peakAt = top;
      for (const i of group.pixels)
        if (Math.abs(thresholds.score[i] as number) > peakScore) {
          peakScore = Math.abs(thresholds.score[i] as number);
          peakAt = i;
        }
      console.log(
        `  FALSE ALARM ${d.class} (${d.bbox.x}, ${d.bbox.y}) ${d.bbox.width}x${d.bbox.height}, ${group.pixels.length} map px, sign ${group.sign}, blobs [${sizes.join(", ")}] seeded by ${[...seededBy].join("+")}, score ${f(d.score, 3)}${fault ? ", SENSOR FAULT (would be dropped)" : ""}`,
      );
      console.log(
        `    gate: ${gateView(decoded.data, decoded.width, d.bbox, group.sign, gateThreshold)}`,
      );
      console.log(
        `    peak map (${x}, ${y}) = image (${x * scale}, ${y * scale}), ${dieOf(x, y)}, edge ring ${compared.edgeMask?.[top] ?? 0}; residual ${f(residual[top] as number, 3)} (${f(Math.abs(residual[top] as number) / sigma, 1)} sigma, ${f((100 * Math.abs(residual[top] as number)) / level)}% of level); score peak ${f(peakScore, 3)} vs seed ${f(thresholds.highAt(peakAt), 3)} (${f(peakScore / thresholds.highAt(peakAt))}x); pixel seed ${f(Math.abs(residual[top] as number), 3)} vs ${f(thresholds.seeds.pixelSeed?.high(top) ?? Number.NaN, 3)}`,
      );
      const features = measureBlob(group.pixels, group.sign, grouped.ctx);
      const strength = features.peakScore / thresholds.highAt(peakAt);
      const reading = lattice
        ? readLatticeLine({
            features,
            pixels: group.pixels,
            sign: group.sign,
            lattice,
            residual,
            mapWidth: work.width,
            mapHeight: work.height,
            analysis: wafer.analysis,
            edgeMask: compared.edgeMask,
          })
        : null;
      console.log(
        `    features: length ${f(features.lengthPx, 1)} width ${f(features.widthPx, 1)} px, orientation ${f((features.orientation * 180) / Math.PI, 1)} deg, strength ${f(strength)} (score tail ${f(thresholds.scoreTail)})${reading ? `; lattice line: along ${reading.along}, drift ${f(reading.driftPx, 1)} of ${f(reading.toleratedDriftPx, 1)} px, on line ${f(reading.onLine, 3)}, across [${reading.across.map((v) => (v === null ? "-" : f(v, 3))).join(", ")}], street offset ${reading.streetOffsetPx === null ? "-" : f(reading.streetOffsetPx, 2)} map px, past the ends ${reading.pastEnds.map((v) => (v === null ? "-" : f(v, 3))).join(" / ")}${lattice && isStreetPhaseLine(reading, lattice) ? " (STREET PHASE: dropped when weak)" : ""}` : ""}`,
      );
      if (lattice && reading?.along) {
        // The same line's pixels moved k pitches ALONG its own axis: a defect has ends, a
        // pattern leftover that belongs to this die row or column runs on past them.
        const step = reading.along === "a" ? lattice.a : lattice.b;
        const copies: string[] = [];
        for (let k = -6; k <= 6; k++) {
          let sum = 0;
          let used = 0;
          for (const p of group.pixels) {
            const px = (p % work.width) + k * step.x;
            const py = Math.floor(p / work.width) + k * step.y;
            if (Math.hypot(px - wafer.analysis.cx, py - wafer.analysis.cy) > wafer.analysis.r - 2)
              continue;
            const q = Math.round(py) * work.width + Math.round(px);
            sum += group.sign * (residual[q] as number);
            used++;
          }
          copies.push(`${k}: ${used * 2 >= group.pixels.length ? f(sum / used, 3) : "-"}`);
        }
        console.log(
          `    the line moved k pitches along its own axis (mean signed residual): ${copies.join(", ")}`,
        );
      }
      if (lattice && !reading?.along) {
        // The group's pixels moved k a + l b (k, l = -3..3): the same die phase in the dies
        // around it. A reticle field's own pattern repeats at the field's period (2 or 3 dies);
        // a defect in this die does not repeat at all.
        const grid: string[] = [];
        for (let l = -3; l <= 3; l++) {
          const row: string[] = [];
          for (let k = -3; k <= 3; k++) {
            let sum = 0;
            let used = 0;
            for (const p of group.pixels) {
              const px = Math.round((p % work.width) + k * lattice.a.x + l * lattice.b.x);
              const py = Math.round(Math.floor(p / work.width) + k * lattice.a.y + l * lattice.b.y);
              if (Math.hypot(px - wafer.analysis.cx, py - wafer.analysis.cy) > wafer.analysis.r - 2)
                continue;
              sum += group.sign * (residual[py * work.width + px] as number);
              used++;
            }
            row.push(used * 2 >= group.pixels.length ? f(sum / used / sigma, 1) : "-");
          }
          grid.push(row.join(" "));
        }
        console.log(
          `    mean signed residual (comparison sigmas) at k a + l b, k across, l down, -3..3: [${grid.join(" | ")}]`,
        );
      }
      if (lattice) {
        console.log(
          `    pairs at peak (smoothed map ${f(smooth.data[top] as number, 3)}): ${pairsAt(x, y, true)}`,
        );
        // Profiles through the peak along x and y (smoothed map, -4..4 map px) here and at each
        // reference: whether a street or motif edge sits elsewhere in the neighbour dies.
        const profile = (ox: number, oy: number, stepX: number, stepY: number) =>
          [-4, -3, -2, -1, 0, 1, 2, 3, 4]
            .map((k) => f(bilinear(smooth, x + ox + k * stepX, y + oy + k * stepY), 1))
            .join(" ");
        const places: Array<[string, number, number]> = [["here", 0, 0]];
        for (const [k, dir] of directions.slice(0, 2).entries()) {
          places.push([`+${PAIR_NAMES[k]}`, dir.x, dir.y], [`-${PAIR_NAMES[k]}`, -dir.x, -dir.y]);
        }
        for (const [name, ox, oy] of places)
          console.log(
            `    profile ${name}: along x [${profile(ox, oy, 1, 0)}]  along y [${profile(ox, oy, 0, 1)}]`,
          );
        // The raw map around the peak (3x3), for a spike's shape.
        const rows: string[] = [];
        for (let dy = -1; dy <= 1; dy++) {
          const row: string[] = [];
          for (let dx = -1; dx <= 1; dx++)
            row.push(f(work.data[top + dy * work.width + dx] as number, 1));
          rows.push(row.join(" "));
        }
        console.log(`    raw map 3x3 at peak: [${rows.join(" | ")}]`);
      }
      if (judge) {
        const reading = faultReading(group.sign, x, y, work, directions);
        console.log(
          `    fault rule at peak (round 11's reading): spike (median pair difference) ${f(reading.spike, 1)}, neighbours' spread ${f(reading.spread, 1)} = ${f(reading.spread / reading.spike, 3)} of the spike; per neighbour largest [${reading.largest.map((v) => f(v, 1)).join(" ")}], median of four [${reading.medians.map((v) => f(v, 1)).join(" ")}]`,
        );
        const rule = readSensorFault(group, judge);
        const spot = judge.spotResponse();
        console.log(
          rule
            ? `    sensor-fault rule: ${rule.fault ? "FAULT" : "defect"}; directions on the wafer ${rule.directions}, spike ${f(rule.spike, 2)} (floor ${f(judge.spikeFloor, 2)}), weighted response ${f(rule.response, 2)} = ${f(rule.response / rule.spike, 3)} of the spike, smallest spot's ${f(rule.spotResponse, 2)} (least ${f(spot.least, 3)}, unweighted ${f(spot.spread, 3)}; blur ${f(rimBlur ?? Number.NaN)} px), sigma ${f(rule.sigma, 2)} (pixel ${f(judge.pixelSigma, 3)}), bound ${f(rule.bound, 2)}; spot spread helper at 0 blur ${f(smallestSpotSpread((3 * Math.min(image.width, image.height)) / 2048, 0, scale), 3)}`
            : "    sensor-fault rule: not judged (not a point, or under 3 directions on the wafer)",
        );
      }
    }
  }
}

const USAGE = `Usage: node --import tsx bench/false-alarm-trace.ts [--crossings] [--ring] [--misses] [--box x,y,w,h]... <image>...
   (truth.json beside each image)

Follows each reported defect that matches no true one back through detect()'s stages (gate in
front, no hints); --misses also follows every true defect detect() missed, --box a box of one's
own (image px, repeatable), --ring adds the rim ring's comparisons, --crossings the street
crossings by reticle phase. The header of bench/false-alarm-trace.ts says what each line reads.`;
/** A wrong command line: its one stderr line, exit status 2 (lib/cli.ts's convention). */
function usageExit(message: string): never {
  process.stderr.write(`${usageErrorLine("false-alarm-trace.ts", message)}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (wantsHelp(args)) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const options: TraceOptions = { crossings: false, ring: false, misses: false, boxes: [] };
const paths: string[] = [];
for (let k = 0; k < args.length; k++) {
  const arg = args[k] as string;
  if (arg === "--crossings") options.crossings = true;
  else if (arg === "--misses") options.misses = true;
  else if (arg === "--ring") options.ring = true;
  else if (arg === "--box") {
    const parts = (args[++k] ?? "").split(",").map(Number);
    if (
      parts.length !== 4 ||
      parts.some((v) => !Number.isInteger(v) || v < 0) ||
      !parts[2] ||
      !parts[3]
    )
      usageExit(
        `--box wants x,y,width,height in whole image pixels (width, height > 0), got '${args[k] ?? ""}'`,
      );
    const [x, y, width, height] = parts as [number, number, number, number];
    options.boxes.push({ x, y, width, height });
  } else if (arg.startsWith("-")) usageExit(`unknown option '${arg}'`);
  else paths.push(arg);
}
if (paths.length === 0) usageExit("no image given");
// The gate, the detector and sharp load once the command line is read: --help and usage errors stay cheap.
const { measureBlob } = await import("../endpoint/detector/blob-features.ts");
const { dieToDieResidual, extrapolationMisregistrationShare, pairMisregistrationShare } =
  await import("../endpoint/detector/die-to-die.ts");
const { MISREGISTRATION_SHARE } = await import("../endpoint/detector/die-to-die-allowance.ts");
const { PAIRS_DECIDE_BIT, referenceNoiseGain, rimRingDirections, VETO_BIT, vetoAbstains } =
  await import("../endpoint/detector/die-to-die-rim-ring.ts");
const { detect } = await import("../endpoint/detector/index.ts");
const { isStreetPhaseLine, readLatticeLine } = await import("../endpoint/detector/lattice-line.ts");
const { estimateDieDifferenceNoise } = await import("../endpoint/detector/noise.ts");
const { binomialBlur3 } = await import("../endpoint/detector/raster.ts");
const { hysteresisBlobs } = await import("../endpoint/detector/segment.ts");
const {
  bilinear,
  isSensorFault,
  readSensorFault,
  sensorFaultJudge,
  smallestSpotSpread,
  takeRimBlur,
} = await import("../endpoint/detector/sensor-faults.ts");
const { classifyGroups, groupBlobs } = await import("../endpoint/detector/stages/defects.ts");
const { dieToDie } = await import("../endpoint/detector/stages/die-to-die.ts");
const { checkImage, parseHints, takeHandedOverMap, takeHandedOverSeed, workingMap } = await import(
  "../endpoint/detector/stages/input.ts"
);
const { measureNoise } = await import("../endpoint/detector/stages/noise.ts");
const { alignNotchWithGrid, locateDisk, placeWafer } = await import(
  "../endpoint/detector/stages/place.ts"
);
const { bareResidual, findLattice, fitIllumination } = await import(
  "../endpoint/detector/stages/surface.ts"
);
const { countOnes, thresholdsOfComparison, withScoreTail } = await import(
  "../endpoint/detector/stages/thresholds.ts"
);
const { measureSigmas, sigmaAt } = await import("../endpoint/detector/threshold.ts");
const { activityMap, patternActivity } = await import("../endpoint/detector/threshold-activity.ts");
const { DETECTION } = await import("../endpoint/detector/thresholds.ts");
const { diskSeedOf } = await import("../endpoint/quality/disk.ts");
const { assessQuality } = await import("../endpoint/quality/index.ts");
const { decodeGray, fullScale } = await import("../lib/gray-image.ts");
const { boxesMatch } = await import("../qa/evaluate.ts");
const { TruthSchema } = await import("../schemas/truth.ts");

for (const path of paths) await trace(path, options);
