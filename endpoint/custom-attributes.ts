// Parses X-Amzn-SageMaker-Custom-Attributes into detection hints, naming the attribute that is wrong.
import {
  type DetectionHints,
  DetectionHintsSchema,
  PREVIEW_MAX_SIDE_LIMIT,
} from "../schemas/detection.ts";
import { CustomAttributeError } from "./errors.ts";

export const CUSTOM_ATTRIBUTES_HEADER = "x-amzn-sagemaker-custom-attributes";

/** SageMaker refuses longer headers, so a longer one cannot have come through a real endpoint. */
const MAX_HEADER_LENGTH = 1024;

const KNOWN_ATTRIBUTES = [
  "notch_angle_deg",
  "wafer_diameter_mm",
  "die_pitch_mm",
  "preview_px",
] as const;
type KnownAttribute = (typeof KNOWN_ATTRIBUTES)[number];

function isKnown(key: string): key is KnownAttribute {
  return (KNOWN_ATTRIBUTES as readonly string[]).includes(key);
}

function parseNumber(key: string, text: string): number {
  // Number("") is 0 and Number("0x10") is 16: demand a plain decimal so typos do not pass.
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new CustomAttributeError(`custom attribute ${key}: '${text}' is not a number`);
  }
  return Number(text);
}

/** What a request's custom attributes ask for: detection hints, and optionally a preview of the image. */
export interface InvocationAttributes {
  hints: DetectionHints;
  /** Longest side of the preview the answer should carry (`preview_px`); none when absent. */
  previewMaxSide?: number;
}

/** The detection hints alone (see parseInvocationAttributes). */
export function parseCustomAttributes(header: string | undefined): DetectionHints {
  return parseInvocationAttributes(header).hints;
}

/**
 * `notch_angle_deg=90; wafer_diameter_mm=300, die_pitch_mm=10x12; preview_px=1024` → hints and
 * the preview size. Pairs are split on ';' or ','; keys are case-insensitive; an unknown key is
 * refused so a typo does not silently turn into a detection without the hint.
 */
export function parseInvocationAttributes(header: string | undefined): InvocationAttributes {
  if (header === undefined || header.trim() === "") return { hints: {} };
  let previewMaxSide: number | undefined;
  if (header.length > MAX_HEADER_LENGTH) {
    throw new CustomAttributeError(
      `custom attributes are ${header.length} characters; at most ${MAX_HEADER_LENGTH} are allowed`,
    );
  }
  const raw: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const pair of header.split(/[;,]/)) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    if (eq < 0) {
      throw new CustomAttributeError(`custom attribute '${pair.trim()}' is not a key=value pair`);
    }
    const key = pair.slice(0, eq).trim().toLowerCase();
    const value = pair.slice(eq + 1).trim();
    if (!isKnown(key)) {
      throw new CustomAttributeError(
        `unknown custom attribute '${key}'; known: ${KNOWN_ATTRIBUTES.join(", ")}`,
      );
    }
    if (seen.has(key)) throw new CustomAttributeError(`custom attribute ${key} is given twice`);
    seen.add(key);
    if (value === "") throw new CustomAttributeError(`custom attribute ${key} has no value`);
    switch (key) {
      case "notch_angle_deg": {
        // Angles are periodic, so -90 and 450 mean what 270 and 90 mean.
        const angle = parseNumber(key, value);
        raw.notchAngleDeg = ((angle % 360) + 360) % 360;
        break;
      }
      case "wafer_diameter_mm":
        raw.waferDiameterMm = parseNumber(key, value);
        break;
      case "die_pitch_mm": {
        const parts = value.split(/[xX*]/);
        if (parts.length > 2) {
          throw new CustomAttributeError(`custom attribute ${key}: '${value}' is not N or NxM`);
        }
        const x = parseNumber(key, (parts[0] ?? "").trim());
        const y = parts[1] === undefined ? x : parseNumber(key, parts[1].trim());
        raw.diePitchMm = { x, y };
        break;
      }
      case "preview_px": {
        const side = parseNumber(key, value);
        if (!Number.isInteger(side) || side < 1 || side > PREVIEW_MAX_SIDE_LIMIT) {
          throw new CustomAttributeError(
            `custom attribute ${key}: '${value}' must be a whole number of pixels from 1 to ${PREVIEW_MAX_SIDE_LIMIT}`,
          );
        }
        previewMaxSide = side;
        break;
      }
    }
  }
  const parsed = DetectionHintsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? "");
    const attribute =
      {
        notchAngleDeg: "notch_angle_deg",
        waferDiameterMm: "wafer_diameter_mm",
        diePitchMm: "die_pitch_mm",
      }[field] ?? field;
    const hint = attribute === "wafer_diameter_mm" ? " (must be 200 or 300)" : "";
    throw new CustomAttributeError(
      `custom attribute ${attribute}: ${issue?.message ?? "invalid"}${hint}`,
      { cause: parsed.error },
    );
  }
  return previewMaxSide === undefined
    ? { hints: parsed.data }
    : { hints: parsed.data, previewMaxSide };
}
