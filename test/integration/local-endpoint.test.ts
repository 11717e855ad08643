// The repository's own template.yaml on the local stack: its model endpoint answers the SageMaker runtime client.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { InvokeEndpointCommand } from "@aws-sdk/client-sagemaker-runtime";
import { beforeAll, describe, it } from "vitest";
import { createSageMakerRuntimeClient } from "../../lib/aws.ts";
import type { LocalStack } from "../../local/stack.ts";
import { InvocationResponseSchema } from "../../schemas/detection.ts";
import { sharedStack } from "./helpers/shared-stack.ts";

const WAFER = resolve(import.meta.dirname, "../fixtures/lot-e2e/wafer-001.png");

describe("local stack on the repository's template, with the model endpoint", () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = sharedStack();
  });

  it("points the handlers' configuration at the template's resources", () => {
    assert.equal(stack.env.BUCKET_NAME, stack.names.bucket);
    assert.equal(stack.env.TABLE_NAME, stack.names.table);
    assert.equal(stack.env.STATE_MACHINE_ARN, stack.names.stateMachineArn);
    assert.equal(stack.env.REPORT_TOPIC_ARN, stack.names.reportTopicArn);
    assert.equal(stack.env.ALERT_TOPIC_ARN, stack.names.alertTopicArn);
    assert.equal(stack.env.ENDPOINT_NAME, stack.names.endpointName);
    assert.equal(stack.env.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, stack.endpoints.sagemaker);
  });

  it("serves InvokeEndpoint for the template's endpoint name", async () => {
    const response = await createSageMakerRuntimeClient().send(
      new InvokeEndpointCommand({
        EndpointName: stack.names.endpointName,
        ContentType: "image/png",
        Body: readFileSync(WAFER),
      }),
    );
    const detection = InvocationResponseSchema.parse(
      JSON.parse(Buffer.from(response.Body ?? []).toString("utf8")),
    );
    assert.ok(detection.wafer.radiusPx > 0);
  });

  it("refuses an endpoint name the template does not declare", async () => {
    await assert.rejects(
      createSageMakerRuntimeClient().send(
        new InvokeEndpointCommand({
          EndpointName: "not-our-endpoint",
          ContentType: "image/png",
          Body: readFileSync(WAFER),
        }),
      ),
      (error: Error) => error.name === "ValidationError",
    );
  });
});
