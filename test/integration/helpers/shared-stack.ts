// The integration run's shared embedded stack (test/setup/shared-stack.ts) as a LocalStack: the same names, endpoints and waits, over the stack's own APIs and files.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { inject } from "vitest";
import { createSfnClient } from "../../../lib/aws.ts";
import type { PublishedMessage } from "../../../local/sns.ts";
import type { ExecutionOutcome, LocalStack } from "../../../local/stack.ts";

const POLL_MS = 100;
const DEFAULT_WAIT_MS = 120_000;

/**
 * The shared stack, for a file that needs no stack of its own. Its environment goes into this
 * worker's process.env, as startLocalStack does, so the clients of lib/aws.ts reach it. Lots,
 * messages and executions of other files are there too: tests pick theirs by lot id.
 */
export function sharedStack(): LocalStack {
  const connection = inject("sharedStack");
  for (const [key, value] of Object.entries(connection.env)) process.env[key] = value;
  for (const key of ["AWS_SESSION_TOKEN", "AWS_PROFILE"]) delete process.env[key];
  const { names, dataDir } = connection;
  const topicFile = (topic: "reports" | "alerts") => {
    const arn = topic === "reports" ? names.reportTopicArn : names.alertTopicArn;
    return join(dataDir, "sns", `${arn.split(":").at(-1)}.jsonl`);
  };
  const notAvailable = () => {
    throw new Error("faults are not injected into the shared stack: start a stack of your own");
  };
  return {
    env: connection.env,
    endpoints: connection.endpoints,
    names,
    dataDir,
    faults: { throttleEndpoint: notAvailable, stopModelServer: notAvailable },
    /** Messages published from now on, read from the topic's JSONL file as the stack appends them. */
    onMessage(topic, listener) {
      const file = topicFile(topic);
      let offset = existsSync(file) ? statSync(file).size : 0;
      let pending = "";
      const read = () => {
        if (!existsSync(file)) return;
        const size = statSync(file).size;
        if (size <= offset) return;
        const text = readFileSync(file).subarray(offset, size).toString("utf8");
        offset = size;
        const lines = (pending + text).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines.filter(Boolean)) {
          const record = JSON.parse(line) as PublishedMessage;
          listener({
            ...(record.subject !== undefined ? { subject: record.subject } : {}),
            message: record.message,
            attributes: record.attributes,
          });
        }
      };
      const timer = setInterval(read, POLL_MS);
      // What was published before the unsubscribe is delivered, as the stack's own onMessage does.
      return () => {
        clearInterval(timer);
        read();
      };
    },
    async waitForExecution(name, timeoutMs = DEFAULT_WAIT_MS): Promise<ExecutionOutcome> {
      const sfn = createSfnClient();
      const executionArn = `${names.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const described = await sfn
          .send(new DescribeExecutionCommand({ executionArn }))
          .catch((error: Error) => {
            if (error.name === "ExecutionDoesNotExist") return undefined;
            throw error;
          });
        if (described && described.status !== "RUNNING") {
          return {
            status: described.status ?? "UNKNOWN",
            ...(described.output !== undefined
              ? { output: JSON.parse(described.output) as unknown }
              : {}),
            ...(described.error ? { error: described.error } : {}),
            ...(described.cause ? { cause: described.cause } : {}),
          };
        }
        if (Date.now() > deadline) {
          throw new Error(
            described
              ? `execution '${name}' is still ${described.status} after ${timeoutMs} ms`
              : `no execution named '${name}' started within ${timeoutMs} ms`,
          );
        }
        await new Promise((wake) => setTimeout(wake, POLL_MS));
      }
    },
    // The stack belongs to the run: globalSetup stops it.
    stop: async () => {},
  };
}

/** The shared stack's log lines so far. */
export function sharedStackLog(): string[] {
  return readFileSync(inject("sharedStack").logFile, "utf8").split("\n").filter(Boolean);
}
