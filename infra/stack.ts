// The CDK view of waferflow: includes template.yaml as it is and swaps each local path for an uploaded asset.
import { existsSync, readdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { DockerImageAsset, Platform } from "aws-cdk-lib/aws-ecr-assets";
import { Asset } from "aws-cdk-lib/aws-s3-assets";
import { CfnInclude } from "aws-cdk-lib/cloudformation-include";
import { App, type CfnResource, Stack, type StackProps } from "aws-cdk-lib/core";
import type { Construct } from "constructs";
import { acknowledgeAcceptedFindings, addNagPacks } from "./nag.ts";
import { loadTemplate, REPO_ROOT, TEMPLATE_PATH } from "./template.ts";

/** Where `npm run build` writes what ships, in the layout `sam build` writes. */
export const DEFAULT_BUILD_DIR = resolve(REPO_ROOT, ".aws-sam/build");

export class MissingBuildError extends Error {
  override name = "MissingBuildError";
}

export interface WaferflowStackProps extends StackProps {
  /** Values for template.yaml's Parameters (EndpointName, ModelImageUri, ...). */
  parameters?: Record<string, string>;
  /** The `npm run build` output: one folder per function and per layer, named by logical id. */
  buildDir?: string;
  /** Build the model image as an asset and use it as ModelImageUri (which creates the endpoint). */
  modelImage?: ModelImageSource;
}

export interface ModelImageSource {
  /** The build context; default the repository root. */
  directory?: string;
  /** The Dockerfile, relative to the context; default endpoint/Dockerfile. */
  file?: string;
}

/** A folder that must hold something: an empty or missing build folder would deploy nothing. */
function assertBuilt(folder: string, what: string): void {
  if (!existsSync(folder) || !statSync(folder).isDirectory() || readdirSync(folder).length === 0) {
    throw new MissingBuildError(
      `${what}: ${folder} is missing or empty; run \`npm run build\` first (or point the buildDir context at the build output)`,
    );
  }
}

export class WaferflowStack extends Stack {
  readonly template: CfnInclude;

  constructor(scope: Construct, id: string, props: WaferflowStackProps = {}) {
    super(scope, id, props);
    const buildDir = resolve(props.buildDir ?? DEFAULT_BUILD_DIR);
    const source = loadTemplate(TEMPLATE_PATH);
    const resources = Object.entries(source.Resources);
    const ofType = (type: string) => resources.filter(([, resource]) => resource.Type === type);

    // Every folder first, so a missing build is one clear error before anything is hashed.
    const functions = ofType("AWS::Serverless::Function");
    const layers = ofType("AWS::Serverless::LayerVersion");
    for (const [logicalId] of functions) {
      assertBuilt(resolve(buildDir, logicalId), `function ${logicalId}`);
    }
    for (const [logicalId] of layers) {
      assertBuilt(resolve(buildDir, logicalId), `layer ${logicalId}`);
    }

    const parameters = { ...props.parameters };
    if (props.modelImage) {
      const image = new DockerImageAsset(this, "ModelImage", {
        directory: props.modelImage.directory ?? REPO_ROOT,
        file: props.modelImage.file ?? "endpoint/Dockerfile",
        platform: Platform.LINUX_AMD64,
        // The build context is the repository; what the Dockerfile does not copy stays out of the hash.
        exclude: [
          "node_modules",
          ".git",
          "cdk.out",
          ".aws-sam",
          ".waferflow",
          "inbox",
          "bench/out",
        ],
      });
      parameters.ModelImageUri = image.imageUri;
    }

    this.template = new CfnInclude(this, "Waferflow", {
      templateFile: TEMPLATE_PATH,
      parameters,
    });

    const s3Location = (asset: Asset) => ({ Bucket: asset.s3BucketName, Key: asset.s3ObjectKey });
    for (const [logicalId] of functions) {
      const code = new Asset(this, `${logicalId}Code`, { path: resolve(buildDir, logicalId) });
      this.resource(logicalId).addPropertyOverride("CodeUri", s3Location(code));
    }
    for (const [logicalId] of layers) {
      const content = new Asset(this, `${logicalId}Content`, {
        path: resolve(buildDir, logicalId),
      });
      this.resource(logicalId).addPropertyOverride("ContentUri", s3Location(content));
    }
    for (const [logicalId, resource] of ofType("AWS::Serverless::StateMachine")) {
      const uri = resource.Properties?.DefinitionUri;
      if (typeof uri !== "string") continue;
      // The ASL as it is in the repository; SAM applies DefinitionSubstitutions to the S3 copy too.
      const definition = new Asset(this, `${logicalId}Definition`, {
        path: resolve(REPO_ROOT, uri),
      });
      this.resource(logicalId).addPropertyOverride("DefinitionUri", s3Location(definition));
    }

    acknowledgeAcceptedFindings(this, this.template);
  }

  resource(logicalId: string): CfnResource {
    return this.template.getResource(logicalId);
  }
}

export interface BuildAppOptions {
  outdir?: string;
  buildDir?: string;
  modelImage?: ModelImageSource;
  /** Run cdk-nag (AWS Solutions, Serverless) on synth; default true, so no synth skips it. */
  nag?: boolean;
}

/** The app; options not given come from CDK context (`cdk synth -c buildDir=... -c modelImageAsset=true`). */
export function buildApp(options: BuildAppOptions = {}): { app: App; stack: WaferflowStack } {
  const app = new App(options.outdir ? { outdir: options.outdir } : {});
  const context = (key: string): unknown => app.node.tryGetContext(key);
  const buildDir = options.buildDir ?? (context("buildDir") as string | undefined);
  const imageFromContext = ["true", true].includes(context("modelImageAsset") as never);
  const modelImage = options.modelImage ?? (imageFromContext ? {} : undefined);
  const stack = new WaferflowStack(app, "Waferflow", {
    ...(buildDir ? { buildDir: resolve(buildDir) } : {}),
    ...(modelImage ? { modelImage } : {}),
  });
  if (options.nag !== false) addNagPacks(app);
  return { app, stack };
}
