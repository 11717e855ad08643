// AWS SDK v3 clients built the same way for Lambda and the embedded local stack; only the environment differs.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * Endpoints, credentials and region come from the SDK's own environment variables
 * (AWS_ENDPOINT_URL_<SERVICE> locally). Nothing else differs: the embedded stack's S3 takes what
 * the SDK's defaults send (path-style URLs, which the SDK picks for an IP endpoint; aws-chunked
 * bodies with trailing checksums), so the clients we test are configured as the ones we ship.
 */
const COMMON_CONFIG = { maxAttempts: 3 };

export function createS3Client(): S3Client {
  return new S3Client(COMMON_CONFIG);
}

/**
 * For the edge agent: it retries every request itself (edge-agent/retry.ts, with backoff sized for
 * a factory link), so the SDK must not retry underneath it and multiply the attempts.
 */
export function createAgentS3Client(): S3Client {
  return new S3Client({ ...COMMON_CONFIG, maxAttempts: 1 });
}

export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(COMMON_CONFIG), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createSfnClient(): SFNClient {
  return new SFNClient(COMMON_CONFIG);
}

export function createSnsClient(): SNSClient {
  return new SNSClient(COMMON_CONFIG);
}

export function createSageMakerRuntimeClient(): SageMakerRuntimeClient {
  // The detector is CPU-bound and may queue requests: allow for it rather than retrying early.
  return new SageMakerRuntimeClient({ ...COMMON_CONFIG, maxAttempts: 2 });
}
