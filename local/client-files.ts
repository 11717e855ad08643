// What a client needs to reach the embedded stack (credentials, region, endpoints), written to the data dir and parsed from --ports.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LocalStackError } from "./errors.ts";

export const LOCAL_PROFILE = "waferflow-local";
const SERVICES = ["s3", "dynamodb", "sfn", "sns", "endpoint"] as const;
export type LocalService = (typeof SERVICES)[number];

/** `s3=4566,dynamodb=4567,...` -> ports by service; a clear error for anything else. */
export function parsePorts(text: string): Partial<Record<LocalService, number>> {
  const ports: Partial<Record<LocalService, number>> = {};
  for (const entry of text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [service, value, extra] = entry.split("=");
    if (!SERVICES.includes(service as LocalService) || value === undefined || extra !== undefined) {
      throw new LocalStackError(
        `--ports entry '${entry}' must be <service>=<port> with service one of ${SERVICES.join(", ")}`,
      );
    }
    const port = Number(value);
    if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
      throw new LocalStackError(`--ports ${service}=${value}: the port must be 1-65535`);
    }
    if (Object.values(ports).includes(port)) {
      throw new LocalStackError(`--ports gives port ${port} to two services`);
    }
    ports[service as LocalService] = port;
  }
  return ports;
}

export interface ClientSettings {
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  endpoints: { s3: string; dynamodb: string; sfn: string; sns: string; sagemaker: string };
  bucket: string;
}

/** Environment variables the AWS SDKs and CLI (2.13+) read, per service. */
export function clientEnvironment(settings: ClientSettings): Record<string, string> {
  const { endpoints } = settings;
  return {
    AWS_ACCESS_KEY_ID: settings.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: settings.credentials.secretAccessKey,
    AWS_REGION: settings.region,
    AWS_DEFAULT_REGION: settings.region,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SFN: endpoints.sfn,
    AWS_ENDPOINT_URL_SNS: endpoints.sns,
    ...(endpoints.sagemaker ? { AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: endpoints.sagemaker } : {}),
    WAFERFLOW_BUCKET: settings.bucket,
  };
}

/**
 * Writes `aws.env` (KEY=value lines to source) and an AWS CLI profile `waferflow-local`
 * (`aws/credentials`, `aws/config`) into the data dir; returns their paths. Only the fixed local
 * key pair is written, readable by the owner alone.
 */
export function writeClientFiles(dataDir: string, settings: ClientSettings) {
  const envFile = join(dataDir, "aws.env");
  const profileDir = join(dataDir, "aws");
  const credentialsFile = join(profileDir, "credentials");
  const configFile = join(profileDir, "config");
  mkdirSync(profileDir, { recursive: true });
  const env = clientEnvironment(settings);
  writeFileSync(
    envFile,
    `# The embedded stack's client settings (waferflow local); load with: set -a; . ${envFile}; set +a\n${Object.entries(
      env,
    )
      .map(([key, value]) => `${key}=${value}`)
      .join("\n")}\n`,
    { mode: 0o600 },
  );
  writeFileSync(
    credentialsFile,
    `[${LOCAL_PROFILE}]\naws_access_key_id = ${settings.credentials.accessKeyId}\naws_secret_access_key = ${settings.credentials.secretAccessKey}\n`,
    { mode: 0o600 },
  );
  const { endpoints } = settings;
  const service = (name: string, url: string) =>
    url ? `${name} =\n  endpoint_url = ${url}\n` : "";
  writeFileSync(
    configFile,
    `[profile ${LOCAL_PROFILE}]\nregion = ${settings.region}\nservices = ${LOCAL_PROFILE}\ns3 =\n  addressing_style = path\n\n[services ${LOCAL_PROFILE}]\n${service("s3", endpoints.s3)}${service("dynamodb", endpoints.dynamodb)}${service("sfn", endpoints.sfn)}${service("sns", endpoints.sns)}${service("sagemaker_runtime", endpoints.sagemaker)}`,
    { mode: 0o600 },
  );
  return { envFile, credentialsFile, configFile };
}
