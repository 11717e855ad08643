// The S3 key layout of a lot, and sanitising of names that arrive from outside.
import { LotIdSchema } from "../schemas/common.ts";

export class UnsafeNameError extends Error {
  override name = "UnsafeNameError";
}

/**
 * Turns an untrusted file name into a safe single key segment: no directories, no '..',
 * no control characters, nothing but [A-Za-z0-9._-]; refuses what would end up empty.
 */
export function safeSegment(name: string): string {
  const base = name.replaceAll("\\", "/").split("/").pop() ?? "";
  const cleaned = base
    .normalize("NFKC")
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/\.{2,}/g, ".")
    .replace(/^[.]+/, "");
  if (cleaned.length === 0 || cleaned.length > 200) {
    throw new UnsafeNameError(`file name '${name}' cannot be made into a safe key`);
  }
  return cleaned;
}

export function assertLotId(lotId: string): string {
  const parsed = LotIdSchema.safeParse(lotId);
  if (!parsed.success) {
    throw new UnsafeNameError(`invalid lot id '${lotId}': ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

export const LOTS_PREFIX = "lots/";
export const MANIFEST_FILE = "manifest.json";
export const ACCEPTED_MANIFEST_FILE = "accepted-manifest.json";
export const QUARANTINE_PREFIX = "quarantine/";

export const lotKeys = {
  prefix: (lotId: string) => `${LOTS_PREFIX}${assertLotId(lotId)}/`,
  image: (lotId: string, fileName: string) =>
    `${LOTS_PREFIX}${assertLotId(lotId)}/images/${safeSegment(fileName)}`,
  manifest: (lotId: string) => `${LOTS_PREFIX}${assertLotId(lotId)}/${MANIFEST_FILE}`,
  /**
   * The manifest StartLot accepted for the lot id, written once (never overwritten): what the
   * lot's executions read, and what a different manifest under the same id is compared with.
   */
  acceptedManifest: (lotId: string) =>
    `${LOTS_PREFIX}${assertLotId(lotId)}/${ACCEPTED_MANIFEST_FILE}`,
  result: (lotId: string, fileName: string) =>
    `${LOTS_PREFIX}${assertLotId(lotId)}/results/${safeSegment(fileName)}.json`,
  report: (lotId: string) => `${LOTS_PREFIX}${assertLotId(lotId)}/report.json`,
  klarf: (lotId: string) => `${LOTS_PREFIX}${assertLotId(lotId)}/report.klarf`,
  waferMap: (lotId: string) => `${LOTS_PREFIX}${assertLotId(lotId)}/wafer-map.svg`,
  overlay: (lotId: string, fileName: string) =>
    `${LOTS_PREFIX}${assertLotId(lotId)}/overlays/${safeSegment(fileName)}.webp`,
};

/** Where a manifest that failed validation is kept, for people to look at. */
export function quarantineKey(originalKey: string, at: Date): string {
  const stamp = at.toISOString().replace(/[:.]/g, "-");
  const safe = originalKey
    .split("/")
    .filter((p) => p && p !== "." && p !== "..")
    .map(safeSegment)
    .join("/");
  return `${QUARANTINE_PREFIX}${stamp}/${safe}`;
}

/** The lot id a manifest key names, or undefined when the key is not a lot manifest. */
export function lotIdFromManifestKey(key: string): string | undefined {
  const match = /^lots\/([^/]+)\/manifest\.json$/.exec(key);
  if (!match?.[1]) return undefined;
  return LotIdSchema.safeParse(match[1]).success ? match[1] : undefined;
}
