// Per patterned wafer of kept sets: each threshold statistic in units of what the drawn sensor noise alone gives through the same stages.
//
//   node --import tsx bench/sigma-table.ts --out table.json <set dir>...
//
// Each <set dir> holds lots/ (bench/sigma-sets.ts, or `npm run bench:detector -- --keep`). Every
// wafer is scored without hints through the quality gate (qa/evaluate.ts), as the bench does.
// While detect() runs, the inputs of its threshold stage are taken from the stage timer and the
// statistics the thresholds are read from are measured again (unfloored): the comparison sigma,
// each activity class's score and residual sigma, the pixel and score tail factors, the seed
// thresholds. Then the same stages run on a frame of the same size, level and lattice that holds
// only white Gaussian noise of the wafer's drawn sigma (truth.json noiseSigma), binned as the
// frame is: the reference every ratio in the output is taken against. Also, where the score's
// tail sits: share of the score's 1e-3 tail (over the wafer's own 95th-percentile sigma) on
// street bands (within 2 map px of a street centre line the lattice measured), in the rim ring,
// and on the busiest activity class, against each one's share of the disk.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Lattice } from "../endpoint/detector/lattice.ts";
import type { FloatMap } from "../endpoint/detector/raster.ts";
import type { Noise } from "../endpoint/detector/stages/noise.ts";
import type { WaferPlace } from "../endpoint/detector/stages/place.ts";
import type {
  DetectionThresholds,
  SeedThresholds,
} from "../endpoint/detector/stages/thresholds.ts";
import type { PatternAwareSigma } from "../endpoint/detector/threshold.ts";
import { commandLineOrExit } from "../lib/cli.ts";
import type { GrayImage } from "../lib/gray-image.ts";
import type { TruthWafer } from "../schemas/truth.ts";

interface Captured {
  work?: FloatMap;
  wafer?: WaferPlace;
  noise?: Noise;
  lattice?: Lattice | null;
  compared?: {
    residual: Float32Array;
    edgeMask: Uint8Array | null;
    comparisonSigma: number | null;
    edgeGain: Uint8Array | null;
  };
}

/** The statistics the thresholds are read from, unfloored (floors shown apart). */
interface Statistics {
  sigmaMap: number;
  comparisonSigma: number;
  scoreSigmas: number[];
  residualSigmas: number[];
  pixelTail: number;
  scoreTail: number;
  /** Seed thresholds as detect() uses them (floors included). */
  minHigh: number;
  pixelSeedMin: number;
  highFloor: number;
}

interface Where {
  /** Share of the disk's samples, and of those beyond the 1e-3 tail, in each region. */
  streetArea: number;
  streetTail: number;
  ringArea: number;
  ringTail: number;
  busyArea: number;
  busyTail: number;
  /** Score sigma (q95) on street bands and off them, interior only. */
  streetSigma: number;
  offStreetSigma: number;
  /** The same off-street interior samples less their die cell's median score. */
  dieLevelledSigma: number;
  /** Spread (q95 / 1.96) of the die cells' median scores (off-street interior samples). */
  dieMedianSpread: number;
}

function measure(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  lattice: Lattice,
  residual: Float32Array,
  edgeMask: Uint8Array | null,
  comparisonSigma: number,
  thresholds: SeedThresholds,
  /** The score's tail factor, measured after segmentation (NaN until then). */
  scoreTail: number,
): Statistics {
  const ring =
    edgeMask && edgeMask.reduce((n, v) => n + v, 0) >= DETECTION.minZoneSamples ? edgeMask : null;
  const [score, res] = measureSigmas(
    [thresholds.score, residual],
    [0, 0],
    work,
    wafer.analysis,
    lattice.a,
    ring ?? undefined,
    0,
    null,
  ) as [PatternAwareSigma, PatternAwareSigma];
  return {
    sigmaMap: noise.sigmaMap,
    comparisonSigma,
    scoreSigmas: Array.from(score.sigmas),
    residualSigmas: Array.from(res.sigmas),
    pixelTail: pixelTailFactor(work, residual, wafer.analysis),
    scoreTail,
    minHigh: thresholds.seeds.minHigh,
    pixelSeedMin: thresholds.seeds.pixelSeed?.min ?? Number.NaN,
    highFloor: DETECTION.seedLevelShare * Math.abs(noise.level),
  };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Where the score's tail lies: street bands, rim ring, busiest activity class. */
function where(
  work: FloatMap,
  wafer: WaferPlace,
  lattice: Lattice,
  score: Float32Array,
  edgeMask: Uint8Array | null,
): Where {
  const { width } = work;
  const { cx, cy, r } = wafer.analysis;
  const { a } = lattice;
  const position = latticePosition(lattice, wafer.analysis);
  const band = 2;
  const samples: {
    v: number;
    signed: number;
    cell: number;
    street: boolean;
    ring: boolean;
    activity: number;
    busy: boolean;
  }[] = [];
  const offset = Math.round(a.y) * width + Math.round(a.x);
  const activityOf = (i: number) => {
    const range = (j: number) => {
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (const d of [-width - 1, -width, -width + 1, -1, 0, 1, width - 1, width, width + 1]) {
        const v = work.data[j + d] as number;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      return hi - lo;
    };
    return Math.min(range(i + offset), range(i - offset));
  };
  const step = 2;
  for (let y = Math.ceil(cy - r) + 2; y < cy + r - 2; y += step) {
    for (let x = Math.ceil(cx - r) + 2; x < cx + r - 2; x += step) {
      const dx = x - cx;
      const dy = y - cy;
      if (dx * dx + dy * dy >= r * r) continue;
      const i = y * width + x;
      if (i - offset - width - 1 < 0 || i + offset + width + 1 >= work.data.length) continue;
      const { s, t, acrossA, acrossB } = position(x, y);
      samples.push({
        v: Math.abs(score[i] as number),
        signed: score[i] as number,
        cell: Math.floor(s + 0.5) * 100_003 + Math.floor(t + 0.5),
        street: acrossA <= band || acrossB <= band,
        ring: Boolean(edgeMask?.[i]),
        activity: activityOf(i),
        busy: false,
      });
    }
  }
  // The busiest sixth of the samples is the busiest class.
  const busyBound = quantile(
    samples.map((s) => s.activity),
    1 - 1 / DETECTION.activityClasses,
  );
  for (const s of samples) s.busy = s.activity > busyBound;
  const sigma =
    quantile(
      samples.map((s) => s.v),
      0.95,
    ) / 1.96;
  const tail = samples.filter((s) => s.v > DETECTION.pixelTailGaussianSigmas * sigma);
  const share = (list: typeof samples, key: "street" | "ring" | "busy") =>
    list.length ? list.filter((s) => s[key]).length / list.length : 0;
  const interior = samples.filter((s) => !s.ring);
  // Each die cell's median (off-street interior samples), and the samples less it.
  const byCell = new Map<number, number[]>();
  for (const x of interior)
    if (!x.street) {
      const list = byCell.get(x.cell) ?? [];
      list.push(x.signed);
      byCell.set(x.cell, list);
    }
  const medians = new Map<number, number>();
  for (const [cell, list] of byCell) if (list.length >= 20) medians.set(cell, quantile(list, 0.5));
  const levelled: number[] = [];
  for (const x of interior) {
    const m = medians.get(x.cell);
    if (!x.street && m !== undefined) levelled.push(Math.abs(x.signed - m));
  }
  const medianMagnitudes = [...medians.values()].map(Math.abs);
  return {
    dieLevelledSigma: quantile(levelled, 0.95) / 1.96,
    dieMedianSpread: quantile(medianMagnitudes, 0.95) / 1.96,
    streetArea: share(samples, "street"),
    streetTail: share(tail, "street"),
    ringArea: share(samples, "ring"),
    ringTail: share(tail, "ring"),
    busyArea: share(samples, "busy"),
    busyTail: share(tail, "busy"),
    streetSigma:
      quantile(
        interior.filter((s) => s.street).map((s) => s.v),
        0.95,
      ) / 1.96,
    offStreetSigma:
      quantile(
        interior.filter((s) => !s.street).map((s) => s.v),
        0.95,
      ) / 1.96,
  };
}

/** Seeded standard normal values (Box-Muller on a xorshift stream): the reference's noise. */
function gaussians(seed: number): () => number {
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return (state + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** The same stages on a frame holding only the drawn noise: level, size, lattice and disk of the wafer. */
function reference(
  frame: GrayImage,
  wafer: WaferPlace,
  level: number,
  lattice: Lattice,
  drawnSigma: number,
): Statistics {
  const full = frame.bitDepth === 16 ? 65535 : 255;
  const data =
    frame.bitDepth === 16 ? new Uint16Array(frame.data.length) : new Uint8Array(frame.data.length);
  const next = gaussians(frame.width * 7919 + frame.height);
  for (let i = 0; i < data.length; i++)
    data[i] = Math.max(0, Math.min(full, Math.round(level + drawnSigma * full * next())));
  const image: GrayImage = { ...frame, data };
  const work = workingMap(image);
  const noise = measureNoise(work, wafer);
  const compared = dieToDie(work, wafer, noise, lattice);
  const seedThresholds = thresholdsOfComparison(work, wafer, noise, lattice, compared);
  const blobs = hysteresisBlobs(
    seedThresholds.score,
    work.width,
    work.height,
    wafer.analysis,
    seedThresholds.seeds,
  );
  return measure(
    work,
    wafer,
    noise,
    lattice,
    compared.residual,
    compared.edgeMask,
    compared.comparisonSigma,
    seedThresholds,
    withScoreTail(seedThresholds, blobs, work, wafer).scoreTail,
  );
}

const { values, positionals } = commandLineOrExit(
  "bench/sigma-table.ts",
  "Usage: sigma-table.ts --out table.json <set dir>...",
  process.argv.slice(2),
  { out: { type: "string" } },
  { allowPositionals: true },
);
if (!values.out || positionals.length === 0) {
  console.error("Usage: sigma-table.ts --out table.json <set dir>...");
  process.exit(2);
}
// The detector and the evaluator load once the command line is read: --help and usage errors stay cheap.
const { detect } = await import("../endpoint/detector/index.ts");
const { hysteresisBlobs } = await import("../endpoint/detector/segment.ts");
const { dieToDie } = await import("../endpoint/detector/stages/die-to-die.ts");
const { workingMap } = await import("../endpoint/detector/stages/input.ts");
const { measureNoise } = await import("../endpoint/detector/stages/noise.ts");
const { thresholdsOfComparison, withScoreTail } = await import(
  "../endpoint/detector/stages/thresholds.ts"
);
const { StageTimer } = await import("../endpoint/detector/stages/timer.ts");
const { measureSigmas } = await import("../endpoint/detector/threshold.ts");
const { pixelTailFactor } = await import("../endpoint/detector/threshold-pixel-tail.ts");
const { DETECTION } = await import("../endpoint/detector/thresholds.ts");
const { evaluateDirectory } = await import("../qa/evaluate.ts");
const { TruthSchema } = await import("../schemas/truth.ts");
const { latticePosition } = await import("./lattice-frame.ts");

let captured: Captured = {};
let wafer: { stats: Statistics; where: Where } | null = null;
const timed = StageTimer.prototype.run;
StageTimer.prototype.run = function run<T>(name: string, stage: () => T): T {
  const out = timed.call(this, name, stage) as T;
  // The bin stage hands on the working map with the gate's overview beside it.
  if (name === "bin") captured.work = (out as { work: FloatMap }).work;
  else if (name === "rim") captured.wafer = out as WaferPlace;
  else if (name === "noise") captured.noise = out as Noise;
  else if (name === "lattice") captured.lattice = out as Lattice;
  else if (name === "dieToDie") captured.compared = out as Captured["compared"];
  else if (name === "threshold" && captured.lattice && captured.compared) {
    const { work, wafer: place, noise, lattice, compared } = captured as Required<Captured>;
    if (work && place && noise && lattice && compared.comparisonSigma !== null) {
      const thresholds = out as SeedThresholds;
      wafer = {
        stats: measure(
          work,
          place,
          noise,
          lattice,
          compared.residual,
          compared.edgeMask,
          compared.comparisonSigma,
          thresholds,
          Number.NaN,
        ),
        where: where(work, place, lattice, thresholds.score, compared.edgeMask),
      };
    }
  } else if (name === "segment" && wafer)
    // The score's tail is measured on what segmentation left as noise (score-tail.ts).
    wafer.stats.scoreTail = (out as { thresholds: DetectionThresholds }).thresholds.scoreTail;
  return out;
};

const rows: unknown[] = [];
const images = positionals.filter((p) => /\.(png|tiff?)$/i.test(p));
for (const path of images) {
  // One image: its statistics and where the score's tail lies, with no evaluation or reference.
  const { decodeGray } = await import("../lib/gray-image.ts");
  captured = {};
  wafer = null;
  detect(await decodeGray(await readFile(path)));
  const measured = wafer as { stats: Statistics; where: Where } | null;
  console.log(path, JSON.stringify(measured));
}
for (const dir of positionals.filter((p) => !images.includes(p))) {
  // Every lot's truth first: the reference needs each wafer's drawn noise as it is scored.
  const truthOf = new Map<string, TruthWafer>();
  const { readdir } = await import("node:fs/promises");
  for (const lot of await readdir(join(dir, "lots"))) {
    const path = join(dir, "lots", lot, "truth.json");
    const truth = TruthSchema.parse(JSON.parse(await readFile(path, "utf8")));
    for (const t of truth.wafers) truthOf.set(join(dir, "lots", lot, t.fileName), t);
  }
  let last: { image: GrayImage; captured: Captured; measured: typeof wafer } | null = null;
  const evaluation = await evaluateDirectory(join(dir, "lots"), {
    useLotHints: false,
    detector: (image, hints) => {
      captured = {};
      wafer = null;
      const result = detect(image, hints);
      last = { image, captured, measured: wafer };
      return result;
    },
    onWafer: (w) => {
      const seen = last as { image: GrayImage; captured: Captured; measured: typeof wafer } | null;
      last = null;
      const truth = truthOf.get(join(w.lot, w.fileName));
      if (!seen?.measured || !truth || w.answered !== "inspected") return;
      const { wafer: place, noise, lattice } = seen.captured as Required<Captured>;
      const ref = reference(
        seen.image,
        place,
        noise.level * 1,
        lattice as Lattice,
        truth.noiseSigma,
      );
      const missed = w.score.truthMatches.flatMap((m, i) =>
        m < 0 ? [truth.defects[i]?.class] : [],
      );
      const row = {
        file: join(w.lot, w.fileName),
        size: w.width,
        bitDepth: w.bitDepth,
        artefacts: w.artefacts ?? [],
        drawnNoise: truth.noiseSigma,
        pitch: truth.diePitchPx,
        truthDefects: w.truthDefects,
        missed,
        falseAlarms: w.score.reportMatched.filter((m) => !m).length,
        wafer: seen.measured.stats,
        reference: ref,
        where: seen.measured.where,
      };
      rows.push(row);
      const s = row.wafer;
      console.error(
        `${row.file} [${row.artefacts.join(",")}] cmp ${(s.comparisonSigma / ref.comparisonSigma).toFixed(2)} score0 ${((s.scoreSigmas[0] ?? 0) / (ref.scoreSigmas[0] ?? 1)).toFixed(2)} minHigh ${(s.minHigh / ref.minHigh).toFixed(2)} pixTail ${s.pixelTail.toFixed(2)}/${ref.pixelTail.toFixed(2)} scoreTail ${s.scoreTail.toFixed(2)}/${ref.scoreTail.toFixed(2)} missed ${missed.join(",")}`,
      );
    },
  });
  const m = evaluation.metrics;
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  console.log(
    `${dir}: ${m.inSpecWafers} in spec (${m.cleanWafers} clean), found ${m.found}/${m.truthDefects}, recall ${pct(m.recall)}, precision ${pct(m.precision)}, class ${pct(m.classAccuracy)}, wafer-level ${pct(m.waferAccuracy)}, false alarms ${m.falseAlarms} (${m.falseAlarmsPerCleanWafer.toFixed(3)} per clean wafer)`,
  );
  for (const w of evaluation.wafers) {
    const missed = w.score.truthMatches.flatMap((t, i) => (t < 0 ? [i] : [])).join(" ");
    const fa = w.score.reportMatched.filter((r) => !r).length;
    if (missed || fa)
      console.log(`  ${join(w.lot, w.fileName)}: missed ${missed}, false alarms ${fa}`);
  }
}
await writeFile(values.out, `${JSON.stringify(rows, null, 1)}\n`);
