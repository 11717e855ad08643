// CDK entry (`npm run cdk:synth`): synthesises the waferflow stack from template.yaml.
import { buildApp } from "./stack.ts";

buildApp().app.synth();
