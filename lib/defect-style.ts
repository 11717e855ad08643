// Colours and labels shared by every picture of a lot (overlay, wafer map, console), one per defect class.
import type { DefectClass } from "../schemas/common.ts";

/** Saturated hues that stand out on a grey wafer and from each other. */
export const CLASS_COLOURS: Record<DefectClass, string> = {
  particle: "#ff2d55",
  scratch: "#ff9500",
  void: "#bf5af2",
  stain: "#0a84ff",
  edge_chip: "#30d158",
  unknown: "#ffd60a",
};

/** KLARF class numbers: 0 is conventionally "unclassified", so ours start at 1. */
export const CLASS_NUMBERS: Record<DefectClass, number> = {
  particle: 1,
  scratch: 2,
  void: 3,
  stain: 4,
  edge_chip: 5,
  unknown: 6,
};
