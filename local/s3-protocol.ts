// Messages between the local stack and its s3rver child process.

export interface S3ChildConfig {
  port: number;
  directory: string;
  buckets: string[];
  /** The one key pair requests must be signed with (SigV4); s3rver itself checks no V4 signature. */
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** An object that was created in S3, with what EventBridge's "Object Created" event needs. */
export interface S3ObjectCreated {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  requestId: string;
  sourceIp: string;
  time: string;
  reason: string;
}

export type S3ChildMessage =
  | { type: "ready"; port: number }
  | { type: "failed"; message: string }
  | { type: "object-created"; object: S3ObjectCreated };
