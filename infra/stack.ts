// The CDK view of waferflow: includes template.yaml as it is, so no resource is ever defined twice.
import { App, Stack, type StackProps } from "aws-cdk-lib";
import { CfnInclude } from "aws-cdk-lib/cloudformation-include";
import type { Construct } from "constructs";
import { TEMPLATE_PATH } from "./template.ts";

export interface WaferflowStackProps extends StackProps {
  /** Values for template.yaml's Parameters (EndpointName, ModelImageUri, ...). */
  parameters?: Record<string, string>;
}

export class WaferflowStack extends Stack {
  readonly template: CfnInclude;

  constructor(scope: Construct, id: string, props: WaferflowStackProps = {}) {
    super(scope, id, props);
    this.template = new CfnInclude(this, "Waferflow", {
      templateFile: TEMPLATE_PATH,
      parameters: props.parameters,
    });
  }
}

export function buildApp(outdir?: string): { app: App; stack: WaferflowStack } {
  const app = new App(outdir ? { outdir } : {});
  const stack = new WaferflowStack(app, "Waferflow");
  return { app, stack };
}
