// `npm run synth`: builds what ships (when this checkout has `npm run build`), then has the CDK CLI write cdk.out/.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { REPO_ROOT } from "../infra/template.ts";

const packageJson = JSON.parse(readFileSync(resolve(REPO_ROOT, "package.json"), "utf8")) as {
  scripts?: Record<string, string>;
};

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { cwd: REPO_ROOT, stdio: "inherit" });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (packageJson.scripts?.build) run("npm", ["run", "build"]);
// cdk.json names the app; extra arguments (-c modelImageAsset=true, -c buildDir=...) pass through.
run(resolve(REPO_ROOT, "node_modules/.bin/cdk"), ["synth", "--quiet", ...process.argv.slice(2)]);
