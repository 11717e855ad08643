// The plain-data description of one synthetic wafer, drawn from a seed before any pixel is rendered.
import type { Point } from "../schemas/common.ts";
import type { ArtefactDesign, OutOfSpecDesign } from "./artefacts.ts";
import type { DieGrid, WaferFrame } from "./geometry.ts";

export type SynthDefectClass = "particle" | "scratch" | "void" | "stain" | "edge_chip";
export const SYNTH_DEFECT_CLASSES: readonly SynthDefectClass[] = [
  "particle",
  "scratch",
  "void",
  "stain",
  "edge_chip",
];

/** A rectangle inside a die cell, in cell units ([0,1] on both axes), with its own level. */
export interface MotifRect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  level: number;
}

export interface PatternDesign {
  grid: DieGrid;
  /** Street width as a fraction of the pitch, per axis. */
  streetFraction: Point;
  streetLevel: number;
  dieLevel: number;
  motif: MotifRect[];
}

export interface Illumination {
  /** Linear gain change from the wafer centre to its rim, along gradientAngle. */
  gradient: number;
  gradientAngleRad: number;
  /** Gain is 1 + vignette*(0.5 - r^2), r in wafer radii. */
  vignette: number;
}

export type DefectShape =
  | { kind: "particle"; center: Point; radius: number }
  | { kind: "scratch"; points: Point[]; width: number }
  | {
      kind: "void";
      center: Point;
      radius: number;
      rimWidth: number;
      interior: number;
      /** Width (px) over which the outer rim fades in; absent = sharp (area coverage). */
      rimSoftness?: number;
    }
  | {
      kind: "stain";
      center: Point;
      radius: number;
      harmonics: Array<{ order: number; amplitude: number; phase: number }>;
      /** Depth of the uneven thickness inside the stain, 0-1. */
      mottle: number;
      /** Plane waves (wavelength in stain radii) whose sum makes that unevenness. */
      mottleWaves: Array<{ angle: number; wavelength: number; phase: number }>;
    }
  | { kind: "edge_chip"; discs: Array<{ center: Point; radius: number }> };

export interface DefectDesign {
  shape: DefectShape;
  /** Circle that holds the whole defect, used to keep defects apart and inside the wafer. */
  boundCenter: Point;
  boundRadius: number;
  /** Contrast as a multiple of the detection threshold max(5 sigma, 4% of local level). */
  contrastFactor: number;
  preferBright: boolean;
}

export interface WaferDesign {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  format: "png" | "tiff";
  frame: WaferFrame;
  /** Mean wafer surface level as a fraction of full scale, before illumination. */
  waferLevel: number;
  chuckLevel: number;
  notchDepthPx: number;
  illumination: Illumination;
  /** Gaussian sensor noise, fraction of full scale. */
  noiseSigma: number;
  noiseSeed: number;
  pattern: PatternDesign | null;
  defects: DefectDesign[];
  /** Camera and process artefacts of the spec (absent: an ideal camera). */
  artefacts?: ArtefactDesign;
  /** Set when the image is deliberately outside the spec (to be reported unusable). */
  outOfSpec?: OutOfSpecDesign;
}
