// Writes a lot's pictures and KLARF next to its report and makes the links people open.
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { lotKeys } from "../../lib/keys.ts";
import type { Report } from "../../schemas/report.ts";
import { dependencyFailure } from "../errors.ts";
import { writeKlarf } from "./klarf.ts";
import { renderWaferMap } from "./wafer-map.ts";

export const CONTENT_TYPES = {
  webp: "image/webp",
  svg: "image/svg+xml",
  klarf: "text/plain; charset=utf-8",
} as const;

export async function putObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array | string,
  contentType: string,
): Promise<void> {
  try {
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }),
    );
  } catch (error) {
    throw dependencyFailure(`writing s3://${bucket}/${key}`, error);
  }
}

/** The lot's KLARF and wafer map, stored next to its report; the report names them. */
export async function writeLotArtifacts(
  report: Report,
  deps: { s3: S3Client; bucket: string },
): Promise<Report> {
  const klarfKey = lotKeys.klarf(report.lotId);
  const waferMapKey = lotKeys.waferMap(report.lotId);
  // Two independent objects: written side by side, so the report waits for one round trip.
  await Promise.all([
    putObject(deps.s3, deps.bucket, klarfKey, writeKlarf(report), CONTENT_TYPES.klarf),
    putObject(deps.s3, deps.bucket, waferMapKey, renderWaferMap(report), CONTENT_TYPES.svg),
  ]);
  return { ...report, artifacts: { klarfKey, waferMapKey } };
}

export interface LinkDeps {
  s3: S3Client;
  bucket: string;
  /** The console's base URL (local stack); without it links are presigned S3 URLs. */
  linkBaseUrl?: string;
  /** Lifetime of presigned links; SigV4 allows 7 days at most. */
  linkTtlSeconds?: number;
}

export async function linkTo(key: string, deps: LinkDeps): Promise<string> {
  if (deps.linkBaseUrl) return `${deps.linkBaseUrl.replace(/\/$/, "")}/files/${key}`;
  return getSignedUrl(deps.s3, new GetObjectCommand({ Bucket: deps.bucket, Key: key }), {
    expiresIn: deps.linkTtlSeconds ?? 7 * 24 * 3600,
  });
}

/** The report with links to itself, its KLARF, wafer map and overlays, and the console page. */
export async function withLinks(report: Report, deps: LinkDeps): Promise<Report> {
  const links: NonNullable<Report["links"]> = { report: await linkTo(report.reportKey, deps) };
  if (report.artifacts) {
    links.klarf = await linkTo(report.artifacts.klarfKey, deps);
    links.waferMap = await linkTo(report.artifacts.waferMapKey, deps);
  }
  if (deps.linkBaseUrl) {
    links.console = `${deps.linkBaseUrl.replace(/\/$/, "")}/lots/${encodeURIComponent(report.lotId)}`;
  }
  const images = await Promise.all(
    report.images.map(async (image) =>
      image.overlayKey ? { ...image, overlayUrl: await linkTo(image.overlayKey, deps) } : image,
    ),
  );
  return { ...report, links, images };
}
