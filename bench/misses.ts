// Lists, per in-spec wafer of a quality run, the true defects not found, the false alarms and a wrong wafer verdict.

import type { WaferEvaluation } from "../qa/evaluate.ts";
import type { BBox } from "../schemas/common.ts";
import type { TruthWafer } from "../schemas/truth.ts";

/** One scored wafer with what is needed to name its misses: its truth and what the detector reported. */
export interface WaferForMisses {
  evaluation: WaferEvaluation;
  truth: Pick<TruthWafer, "defects" | "diePitchPx" | "noiseSigma">;
  reports: ReadonlyArray<{ class: string; bbox: BBox }>;
}

const box = (b: BBox) => `(${b.x}, ${b.y}) ${b.width}x${b.height}`;

/**
 * The wafer-level verdict as `summarise` scores it: right when the wafer was inspected without
 * error and reported defects exactly when it has some.
 */
export function waferVerdictWrong(w: WaferEvaluation): boolean {
  const clean = w.truthDefects === 0;
  return w.answered === "unusable" || Boolean(w.error) || clean !== (w.reports === 0);
}

/**
 * Text lines naming every miss, false alarm and wrong verdict, one block per in-spec wafer that
 * has any (out-of-spec images are judged on being refused, which the per-kind table shows).
 */
export function missLines(wafers: readonly WaferForMisses[]): string[] {
  const lines: string[] = [];
  for (const { evaluation: w, truth, reports } of wafers) {
    if (w.expected === "unusable") continue;
    const missed = w.score.truthMatches.flatMap((match, i) =>
      match < 0 && truth.defects[i] ? [truth.defects[i]] : [],
    );
    const falseAlarms = reports.filter((_, j) => !w.score.reportMatched[j]);
    const wrong = waferVerdictWrong(w);
    if (missed.length === 0 && falseAlarms.length === 0 && !wrong) continue;
    const pitch = truth.diePitchPx ? `pitch ${truth.diePitchPx.x}x${truth.diePitchPx.y}` : "bare";
    const artefacts = w.artefacts?.length ? w.artefacts.join(", ") : "no artefacts";
    lines.push(
      `${w.lot.split(/[\\/]/).pop()}/${w.fileName}: ${w.width} px, ${w.bitDepth} bit, ${w.surface} (${pitch}), noise ${truth.noiseSigma}, ${artefacts}; ${w.truthDefects} true, ${w.reports} reported${wrong ? "; WAFER VERDICT WRONG" : ""}${w.error ? `; error: ${w.error}` : ""}${w.answered === "unusable" ? `; refused: ${(w.reasons ?? []).join("; ")}` : ""}`,
    );
    for (const d of missed)
      lines.push(
        `  missed ${d.class} at ${box(d.bbox)}, contrast ${(100 * d.contrast).toFixed(1)}% of full scale`,
      );
    for (const r of falseAlarms) lines.push(`  false alarm ${r.class} at ${box(r.bbox)}`);
  }
  return lines;
}
