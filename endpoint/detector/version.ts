// The detector's version: a release number for its algorithms plus a hash of its thresholds table.
import { createHash } from "node:crypto";
import type { ModelInfo } from "../../schemas/detection.ts";
import {
  CLASSIFY,
  COARSE_TRACE,
  COMPARISON_FLOOR,
  DETECTION,
  DIE_DIFFERENCE_SECOND_READING,
  FAULT_SPREAD,
  FOOTPRINT_FLUX,
  INTERPOLATION_ERROR,
  LATTICE,
  LATTICE_LINE,
  LATTICE_SEARCH,
  LINE_SEED,
  MERGE,
  PIXEL_TAIL,
  REPEAT,
  RIM,
  RIM_READING,
  SCORE,
  SCORE_TAIL,
  SEEDED_TRACE,
  SENSOR_FAULT,
  SPEC,
  SPOT_STATISTIC,
  STREET_PHASE,
  STREET_PHASE_ROW,
} from "./thresholds.ts";

/** Bump when a stage's algorithm changes; threshold changes change the hash on their own. */
export const DETECTOR_RELEASE = "2.19.0";

/** sha-256 of the thresholds table, first 12 hex digits. */
export const THRESHOLDS_HASH = createHash("sha256")
  .update(
    JSON.stringify({
      CLASSIFY,
      DETECTION,
      LATTICE,
      LATTICE_LINE,
      LATTICE_SEARCH,
      LINE_SEED,
      MERGE,
      PIXEL_TAIL,
      RIM,
      SCORE,
      SPEC,
      REPEAT,
      SENSOR_FAULT,
      RIM_READING,
      FAULT_SPREAD,
      STREET_PHASE,
      COMPARISON_FLOOR,
      FOOTPRINT_FLUX,
      STREET_PHASE_ROW,
      DIE_DIFFERENCE_SECOND_READING,
      SCORE_TAIL,
      SEEDED_TRACE,
      INTERPOLATION_ERROR,
      SPOT_STATISTIC,
      COARSE_TRACE,
    }),
  )
  .digest("hex")
  .slice(0, 12);

/**
 * What a second stage trained on this detector's output records (ONNX metadata
 * `waferflow.detector_version`) and what the endpoint checks before loading it.
 */
export const DETECTOR_VERSION = `${DETECTOR_RELEASE}+${THRESHOLDS_HASH}`;

/** The classical model's name and version; here, so a server can name it without loading the detector. */
export const DETECTOR_INFO: ModelInfo = { name: "waferflow-classical", version: DETECTOR_VERSION };
