// The --ports flag of `waferflow local` and the client files it writes (env file, AWS CLI profile).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { parsePorts, writeClientFiles } from "../../local/client-files.ts";
import { LocalStackError } from "../../local/errors.ts";

describe("--ports", () => {
  it("reads service=port pairs", () => {
    assert.deepEqual(parsePorts("s3=4566, dynamodb=4567,sfn=4568,sns=4569,endpoint=4570"), {
      s3: 4566,
      dynamodb: 4567,
      sfn: 4568,
      sns: 4569,
      endpoint: 4570,
    });
    assert.deepEqual(parsePorts(""), {});
  });

  it("names what is wrong", () => {
    assert.throws(() => parsePorts("s4=1"), /s4=1.*s3, dynamodb, sfn, sns, endpoint/);
    assert.throws(() => parsePorts("s3=0"), /s3=0: the port must be 1-65535/);
    assert.throws(() => parsePorts("s3=12x"), LocalStackError);
    assert.throws(() => parsePorts("s3=4566,sns=4566"), /port 4566 to two services/);
  });
});

describe("client files", () => {
  it("writes an env file and an AWS CLI profile with the endpoints, for the owner only", () => {
    const dir = mkdtempSync(join(tmpdir(), "waferflow-client-"));
    const files = writeClientFiles(dir, {
      credentials: { accessKeyId: "KEY", secretAccessKey: "SECRET" },
      region: "us-east-1",
      endpoints: {
        s3: "http://127.0.0.1:1",
        dynamodb: "http://127.0.0.1:2",
        sfn: "http://127.0.0.1:3",
        sns: "http://127.0.0.1:4",
        sagemaker: "http://127.0.0.1:5",
      },
      bucket: "b",
    });
    const env = readFileSync(files.envFile, "utf8");
    assert.match(env, /^AWS_ACCESS_KEY_ID=KEY$/m);
    assert.match(env, /^AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:2$/m);
    assert.match(env, /^AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http:\/\/127\.0\.0\.1:5$/m);
    assert.match(env, /^WAFERFLOW_BUCKET=b$/m);
    assert.match(
      readFileSync(files.credentialsFile, "utf8"),
      /\[waferflow-local\]\naws_access_key_id = KEY/,
    );
    assert.match(
      readFileSync(files.configFile, "utf8"),
      /sfn =\n {2}endpoint_url = http:\/\/127\.0\.0\.1:3/,
    );
    for (const file of Object.values(files)) assert.equal(statSync(file).mode & 0o077, 0);
  });
});
