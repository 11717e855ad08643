// AWS SDK v3 clients built the same way for Lambda and the embedded local stack; only the environment differs.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * Endpoints come from the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables. Against a local
 * endpoint, S3 must be path-style, and checksums only when required: s3rver stores the
 * aws-chunked CRC32 framing as object bytes otherwise (our SHA-256 guards integrity instead).
 */
function isLocal(env: NodeJS.ProcessEnv): boolean {
  return env.WAFERFLOW_LOCAL === "1" || Boolean(env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
}

function commonConfig(env: NodeJS.ProcessEnv) {
  return {
    maxAttempts: 3,
    ...(isLocal(env)
      ? {
          requestChecksumCalculation: "WHEN_REQUIRED" as const,
          responseChecksumValidation: "WHEN_REQUIRED" as const,
        }
      : {}),
  };
}

export function createS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  return new S3Client({ ...commonConfig(env), forcePathStyle: isLocal(env) });
}

/**
 * For the edge agent: it retries every request itself (edge-agent/retry.ts, with backoff sized for
 * a factory link), so the SDK must not retry underneath it and multiply the attempts.
 */
export function createAgentS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  return new S3Client({ ...commonConfig(env), maxAttempts: 1, forcePathStyle: isLocal(env) });
}

export function createDocumentClient(env: NodeJS.ProcessEnv = process.env): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(commonConfig(env)), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createSfnClient(env: NodeJS.ProcessEnv = process.env): SFNClient {
  return new SFNClient(commonConfig(env));
}

export function createSnsClient(env: NodeJS.ProcessEnv = process.env): SNSClient {
  return new SNSClient(commonConfig(env));
}

export function createSageMakerRuntimeClient(
  env: NodeJS.ProcessEnv = process.env,
): SageMakerRuntimeClient {
  // The detector is CPU-bound and may queue requests: allow for it rather than retrying early.
  return new SageMakerRuntimeClient({ ...commonConfig(env), maxAttempts: 2 });
}
