// S3's multipart part-size bounds the agent checks against: apart from upload.ts, so the agent's command line can check --part-size-mib without loading the uploader.

export const MIB = 1024 * 1024;
/** S3 refuses smaller parts (except the last one). */
export const MIN_PART_SIZE_BYTES = 5 * MIB;
