// Conditional writes (If-None-Match: *) for the local S3: s3rver ignores the header on PUT, AWS S3 answers 412 when the key exists.
import { s3Error } from "./s3-uploads.ts";

interface ConditionalContext {
  method: string;
  path: string;
  querystring: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
}

interface ObjectStore {
  existsObject(bucket: string, key: string): Promise<boolean>;
}

const PRECONDITION_FAILED = s3Error(
  412,
  "PreconditionFailed",
  "At least one of the pre-conditions you specified did not hold",
  { Condition: "If-None-Match" },
);

/** Bucket and key of a path-style object URL, or undefined for bucket-level requests. */
function objectOf(path: string): { bucket: string; key: string } | undefined {
  const [, bucket, ...rest] = path.split("/");
  if (!bucket || rest.length === 0 || rest.join("/") === "") return undefined;
  return { bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join("/") };
}

/**
 * Koa middleware: PutObject and CompleteMultipartUpload with `If-None-Match: *` fail with 412
 * PreconditionFailed when the key already holds an object, as on AWS (since 2024). Writes to
 * one key are serialised so two such writes racing cannot both succeed.
 */
export function conditionalWrites(store: () => ObjectStore) {
  const busy = new Map<string, Promise<void>>();
  return async (ctx: ConditionalContext, next: () => Promise<void>): Promise<void> => {
    const query = new URLSearchParams(ctx.querystring);
    const isPut = ctx.method === "PUT" && !query.has("uploadId") && !query.has("partNumber");
    const isComplete = ctx.method === "POST" && query.has("uploadId");
    const target = objectOf(ctx.path);
    if (ctx.headers["if-none-match"] !== "*" || !(isPut || isComplete) || !target) {
      await next();
      return;
    }
    const id = `${target.bucket}/${target.key}`;
    while (busy.has(id)) await busy.get(id);
    let release = () => {};
    busy.set(
      id,
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    );
    try {
      if (await store().existsObject(target.bucket, target.key)) {
        ctx.status = PRECONDITION_FAILED.status;
        ctx.type = "application/xml";
        ctx.body = PRECONDITION_FAILED.body;
        return;
      }
      await next();
    } finally {
      busy.delete(id);
      release();
    }
  };
}
