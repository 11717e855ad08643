// A local SNS speaking the awsQuery protocol: topics from the template, published messages to JSONL and listeners.

import { randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { escapeXml } from "../lib/xml.ts";
import { ServiceApiError } from "./errors.ts";
import { type LocalService, startService } from "./http.ts";
import { queryProtocolError } from "./sigv4.ts";

export interface PublishedMessage {
  subject?: string;
  /** With MessageStructure json: the `default` text, what non-e-mail subscribers get. */
  message: string;
  attributes: Record<string, string>;
}

export interface LocalSns extends LocalService {
  subscribe(topicArn: string, listener: (message: PublishedMessage) => void): () => void;
}

const NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/";
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_ATTRIBUTES = 10;

function respond(response: ServerResponse, action: string, result: string): void {
  const body = `<?xml version="1.0"?>\n<${action}Response xmlns="${NAMESPACE}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
  response.writeHead(200, { "content-type": "text/xml" }).end(body);
}

function respondError(response: ServerResponse, error: ServiceApiError): void {
  const type = error.statusCode >= 500 ? "Receiver" : "Sender";
  const body = `<?xml version="1.0"?>\n<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>${type}</Type><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
  response.writeHead(error.statusCode, { "content-type": "text/xml" }).end(body);
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null || value === "") {
    throw new ServiceApiError("InvalidParameter", `Invalid parameter: ${name} is required`);
  }
  return value;
}

/** MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue}: String and Number types (our functions send String and String.Array). */
function messageAttributes(params: URLSearchParams): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (let n = 1; ; n++) {
    const prefix = `MessageAttributes.entry.${n}`;
    const name = params.get(`${prefix}.Name`);
    if (name === null) break;
    const dataType = params.get(`${prefix}.Value.DataType`);
    if (!dataType || !/^(String|Number)(\..+)?$/.test(dataType)) {
      throw new ServiceApiError(
        "InvalidParameterValue",
        `The message attribute '${name}' has an invalid message attribute type '${dataType ?? ""}'`,
      );
    }
    const value = params.get(`${prefix}.Value.StringValue`);
    if (value === null || value === "") {
      throw new ServiceApiError(
        "InvalidParameterValue",
        `The message attribute '${name}' must contain non-empty message attribute value`,
      );
    }
    attributes[name] = value;
  }
  if (Object.keys(attributes).length > MAX_ATTRIBUTES) {
    throw new ServiceApiError(
      "InvalidParameterValue",
      `Number of message attributes [${Object.keys(attributes).length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}]`,
    );
  }
  return attributes;
}

/** MessageStructure json: an object of strings per protocol, of which `default` is required. */
function perProtocol(raw: string): { default: string; email?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const record = parsed as Record<string, unknown> | undefined;
  if (!record || typeof record !== "object" || typeof record.default !== "string") {
    throw new ServiceApiError(
      "InvalidParameter",
      "Invalid parameter: Message Structure - No default entry in JSON message body",
    );
  }
  if (Object.values(record).some((value) => typeof value !== "string")) {
    throw new ServiceApiError(
      "InvalidParameter",
      "Invalid parameter: Message Structure - JSON message body failed to parse",
    );
  }
  return record as { default: string; email?: string };
}

export async function startSns(options: {
  port: number;
  dataDir: string;
  topics: Array<{ name: string; arn: string }>;
  log: (line: string) => void;
}): Promise<LocalSns> {
  const topics = new Map<string, string>(options.topics.map((t) => [t.arn, t.name]));
  const listeners = new Map<string, Set<(message: PublishedMessage) => void>>();
  const messageDir = join(options.dataDir, "sns");
  mkdirSync(messageDir, { recursive: true });

  const topicNamed = (arn: string) => {
    const name = topics.get(arn);
    if (!name) throw new ServiceApiError("NotFound", "Topic does not exist", 404);
    return name;
  };

  const publish = (params: URLSearchParams): string => {
    const topicArn = required(params, "TopicArn");
    const topicName = topicNamed(topicArn);
    const raw = required(params, "Message");
    if (Buffer.byteLength(raw) > MAX_MESSAGE_BYTES) {
      throw new ServiceApiError("InvalidParameter", "Invalid parameter: Message too long");
    }
    const structured = params.get("MessageStructure") === "json" ? perProtocol(raw) : undefined;
    const message = structured ? structured.default : raw;
    const subject = params.get("Subject") ?? undefined;
    // SNS rejects what e-mail subjects cannot carry.
    if (subject !== undefined && (subject.length > 100 || !/^[\x20-\x7e]+$/.test(subject))) {
      throw new ServiceApiError(
        "InvalidParameter",
        "Invalid parameter: Subject must be 1-100 printable ASCII characters without line breaks",
      );
    }
    const attributes = messageAttributes(params);
    const messageId = randomUUID();
    const record = {
      messageId,
      topicArn,
      timestamp: new Date().toISOString(),
      ...(subject !== undefined ? { subject } : {}),
      message,
      ...(structured?.email !== undefined ? { email: structured.email } : {}),
      attributes,
    };
    appendFileSync(join(messageDir, `${topicName}.jsonl`), `${JSON.stringify(record)}\n`);
    const delivered: PublishedMessage = {
      ...(subject !== undefined ? { subject } : {}),
      message,
      attributes,
    };
    for (const listener of listeners.get(topicArn) ?? []) {
      try {
        listener(delivered);
      } catch (error) {
        options.log(`sns: a listener of ${topicName} threw: ${String(error)}`);
      }
    }
    return messageId;
  };

  const service = await startService({
    port: options.port,
    label: "SNS",
    maxBodyBytes: 2 * MAX_MESSAGE_BYTES,
    // A form POST any web page can send must not pass for a report: only signed calls count.
    refusal: queryProtocolError,
    replyError: respondError,
    log: options.log,
    handle: ({ request, body }, response) => {
      if (request.method !== "POST") {
        throw new ServiceApiError("InvalidAction", "Only POST form requests are supported");
      }
      const params = new URLSearchParams(body.toString("utf8"));
      const action = params.get("Action") ?? "";
      switch (action) {
        case "ListTopics": {
          const members = [...topics.keys()]
            .map((arn) => `<member><TopicArn>${escapeXml(arn)}</TopicArn></member>`)
            .join("");
          respond(response, action, `<Topics>${members}</Topics>`);
          return;
        }
        case "Publish": {
          const messageId = publish(params);
          respond(response, action, `<MessageId>${messageId}</MessageId>`);
          return;
        }
        default:
          throw new ServiceApiError(
            "InvalidAction",
            `The local SNS does not support the action '${action}'`,
          );
      }
    },
  });
  return {
    ...service,
    subscribe(topicArn, listener) {
      topicNamed(topicArn);
      const set = listeners.get(topicArn) ?? new Set();
      set.add(listener);
      listeners.set(topicArn, set);
      return () => set.delete(listener);
    },
  };
}
