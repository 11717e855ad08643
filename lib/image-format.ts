// What image format a file's first bytes declare (PNG or TIFF): extensions and Content-Types lie, signatures rarely do.

export type ImageFormat = "png" | "tiff";

const SIGNATURES: ReadonlyArray<{ format: ImageFormat; bytes: readonly number[] }> = [
  { format: "png", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  // Classic TIFF (42) and BigTIFF (43), little- and big-endian.
  { format: "tiff", bytes: [0x49, 0x49, 0x2a, 0x00] },
  { format: "tiff", bytes: [0x4d, 0x4d, 0x00, 0x2a] },
  { format: "tiff", bytes: [0x49, 0x49, 0x2b, 0x00] },
  { format: "tiff", bytes: [0x4d, 0x4d, 0x00, 0x2b] },
];

/** How many leading bytes `sniffImageFormat` needs to see: the longest signature. */
export const SIGNATURE_BYTES = Math.max(...SIGNATURES.map((s) => s.bytes.length));

/** PNG or TIFF by signature, or undefined for anything else (and for too few bytes to tell). */
export function sniffImageFormat(head: Uint8Array): ImageFormat | undefined {
  return SIGNATURES.find(
    ({ bytes }) => head.length >= bytes.length && bytes.every((byte, i) => head[i] === byte),
  )?.format;
}

/** The media type of a format, as S3 objects and the endpoint's requests carry it. */
export function contentTypeOf(format: ImageFormat): "image/png" | "image/tiff" {
  return format === "png" ? "image/png" : "image/tiff";
}

/** A WebP file by its RIFF container signature ("RIFF", four bytes of length, "WEBP"). */
export function isWebpFile(bytes: Uint8Array): boolean {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  return bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP";
}
