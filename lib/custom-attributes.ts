// Detection hints from a lot's metadata, written as X-Amzn-SageMaker-Custom-Attributes by DetectDefects and read back by the endpoint: one table for both ends.
import {
  type DetectionHints,
  DetectionHintsSchema,
  PREVIEW_MAX_SIDE_LIMIT,
} from "../schemas/detection.ts";
import type { LotMetadata } from "../schemas/lot.ts";
import { describeZodError } from "./zod-issues.ts";

export const CUSTOM_ATTRIBUTES_HEADER = "x-amzn-sagemaker-custom-attributes";

/** SageMaker refuses longer headers, so a longer one cannot have come through a real endpoint. */
const MAX_HEADER_LENGTH = 1024;

/** Each hint's attribute name on the wire. */
const ATTRIBUTE_OF = {
  notchAngleDeg: "notch_angle_deg",
  waferDiameterMm: "wafer_diameter_mm",
  diePitchMm: "die_pitch_mm",
} as const satisfies Record<keyof DetectionHints, string>;

/** Not hints: ask the endpoint for a picture of the image it decoded, plain or with the overlay drawn on it. */
const PICTURE_ATTRIBUTE_OF = {
  previewMaxSide: "preview_px",
  overlayMaxSide: "overlay_px",
} as const;

type Attribute =
  | (typeof ATTRIBUTE_OF)[keyof typeof ATTRIBUTE_OF]
  | (typeof PICTURE_ATTRIBUTE_OF)[keyof typeof PICTURE_ATTRIBUTE_OF];
const ATTRIBUTES: Attribute[] = [
  ...Object.values(ATTRIBUTE_OF),
  ...Object.values(PICTURE_ATTRIBUTE_OF),
];

/** An X-Amzn-SageMaker-Custom-Attributes pair is unknown or malformed (the endpoint answers 400). */
export class CustomAttributeError extends Error {
  override name = "CustomAttributeError";
}

/** The hints a lot's metadata gives the detector: a square die pitch becomes x = y. */
export function hintsFromMetadata(
  metadata: Pick<LotMetadata, "notchAngleDeg" | "waferDiameterMm" | "diePitchMm">,
): DetectionHints {
  const hints: DetectionHints = {};
  if (metadata.notchAngleDeg !== undefined) hints.notchAngleDeg = metadata.notchAngleDeg;
  if (metadata.waferDiameterMm !== undefined) hints.waferDiameterMm = metadata.waferDiameterMm;
  const pitch = metadata.diePitchMm;
  if (pitch !== undefined) {
    hints.diePitchMm = typeof pitch === "number" ? { x: pitch, y: pitch } : { ...pitch };
  }
  return hints;
}

/** The pictures a request asks for, by their longest side (each absent when not asked). */
export interface PictureRequest {
  /** The image alone (`preview_px`). */
  previewMaxSide?: number;
  /** The operator's overlay: the image with its defects and notch marked (`overlay_px`). */
  overlayMaxSide?: number;
}

/** What a request's custom attributes ask for: detection hints, and optionally pictures of the image. */
export interface InvocationAttributes extends PictureRequest {
  hints: DetectionHints;
}

/**
 * Hints (and the pictures' sizes, when asked) as the header's `key=value` pairs
 * (`overlay_px=1024;die_pitch_mm=10x12`), or undefined when there are none.
 */
export function encodeCustomAttributes(
  hints: DetectionHints,
  pictures: PictureRequest = {},
): string | undefined {
  const pairs: string[] = [];
  for (const [field, attribute] of Object.entries(PICTURE_ATTRIBUTE_OF)) {
    const side = pictures[field as keyof PictureRequest];
    if (side !== undefined) pairs.push(`${attribute}=${side}`);
  }
  if (hints.notchAngleDeg !== undefined) {
    pairs.push(`${ATTRIBUTE_OF.notchAngleDeg}=${hints.notchAngleDeg}`);
  }
  if (hints.waferDiameterMm !== undefined) {
    pairs.push(`${ATTRIBUTE_OF.waferDiameterMm}=${hints.waferDiameterMm}`);
  }
  const pitch = hints.diePitchMm;
  if (pitch !== undefined) {
    const value = pitch.x === pitch.y ? `${pitch.x}` : `${pitch.x}x${pitch.y}`;
    pairs.push(`${ATTRIBUTE_OF.diePitchMm}=${value}`);
  }
  return pairs.length ? pairs.join(";") : undefined;
}

function isAttribute(key: string): key is Attribute {
  return (ATTRIBUTES as readonly string[]).includes(key);
}

function parseNumber(key: string, text: string): number {
  // Number("") is 0 and Number("0x10") is 16: demand a plain decimal so typos do not pass.
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new CustomAttributeError(`custom attribute ${key}: '${text}' is not a number`);
  }
  return Number(text);
}

/** The detection hints alone (see parseInvocationAttributes). */
export function parseCustomAttributes(header: string | undefined): DetectionHints {
  return parseInvocationAttributes(header).hints;
}

/**
 * `notch_angle_deg=90; wafer_diameter_mm=300, die_pitch_mm=10x12; overlay_px=1024` → hints and
 * the pictures' sizes. Pairs are split on ';' or ','; keys are case-insensitive; an unknown key is
 * refused so a typo does not silently turn into a detection without the hint.
 */
export function parseInvocationAttributes(header: string | undefined): InvocationAttributes {
  if (header === undefined || header.trim() === "") return { hints: {} };
  const pictures: PictureRequest = {};
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
    if (!isAttribute(key)) {
      throw new CustomAttributeError(
        `unknown custom attribute '${key}'; known: ${ATTRIBUTES.join(", ")}`,
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
      case PICTURE_ATTRIBUTE_OF.previewMaxSide:
      case PICTURE_ATTRIBUTE_OF.overlayMaxSide: {
        const side = parseNumber(key, value);
        if (!Number.isInteger(side) || side < 1 || side > PREVIEW_MAX_SIDE_LIMIT) {
          throw new CustomAttributeError(
            `custom attribute ${key}: '${value}' must be a whole number of pixels from 1 to ${PREVIEW_MAX_SIDE_LIMIT}`,
          );
        }
        pictures[key === "preview_px" ? "previewMaxSide" : "overlayMaxSide"] = side;
        break;
      }
    }
  }
  const parsed = DetectionHintsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = describeZodError(parsed.error, {
      label: (path) => {
        const [field = "", ...rest] = path.split(".");
        const attribute = ATTRIBUTE_OF[field as keyof typeof ATTRIBUTE_OF] ?? field;
        return `custom attribute ${[attribute, ...rest].join(".")}`;
      },
    });
    // zod words a failed union of literals as just "Invalid input": say which values are allowed.
    const diameterWrong = parsed.error.issues.some((issue) => issue.path[0] === "waferDiameterMm");
    const allowed = diameterWrong ? " (wafer_diameter_mm must be 200 or 300)" : "";
    throw new CustomAttributeError(`${problems}${allowed}`, { cause: parsed.error });
  }
  return { hints: parsed.data, ...pictures };
}
