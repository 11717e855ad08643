// CDK entry (`npm run synth`, `npx cdk deploy`): the waferflow stack from template.yaml and the `npm run build` output.
import { buildApp, MissingBuildError } from "./stack.ts";

try {
  buildApp().app.synth();
} catch (error) {
  if (!(error instanceof MissingBuildError)) throw error;
  console.error(`waferflow synth: ${error.message}`);
  process.exit(1);
}
