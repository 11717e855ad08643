// A state machine for aws-local-stepfunctions whose schema validation is skipped only for a definition that already passed it with the same library version (the verdict is remembered on disk).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";

/**
 * Where passed validations are remembered: beside Node's compile cache, inside node_modules so a
 * reinstall (a new library version) starts empty. The version is in the key as well.
 */
export const DEFAULT_ASL_CACHE_DIR = fileURLToPath(
  new URL("../node_modules/.cache/waferflow/asl-validated/", import.meta.url),
);

/** The library's version, part of every key: another version may judge a definition otherwise. */
const LIBRARY_VERSION = (() => {
  const entry = createRequire(import.meta.url).resolve("aws-local-stepfunctions");
  const manifest = join(dirname(entry), "..", "package.json");
  return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
})();

/** The key of one definition exactly as it will run, for this library version. */
export function validationKey(definition: StateMachineDefinition): string {
  return createHash("sha256")
    .update(`aws-local-stepfunctions@${LIBRARY_VERSION}\n`)
    .update(JSON.stringify(definition))
    .digest("hex");
}

/**
 * `new StateMachine(definition)` validates the definition against the ASL schema, JSONPaths and
 * ARNs, compiling the schema validator anew each time: 0.35-0.5 s of CPU, paid by every stack
 * start (a test run starts about 25) for the same few definitions. A definition that passed once
 * is marked by its key; with the mark, the machine is built without validating again. A
 * definition that fails is never marked, so it fails, with the library's message, every time.
 * The mark is a cache: an unwritable folder only means validating every time.
 */
export function validatedStateMachine(
  definition: StateMachineDefinition,
  cacheDir: string = DEFAULT_ASL_CACHE_DIR,
): StateMachine {
  const mark = join(cacheDir, validationKey(definition));
  if (existsSync(mark)) {
    return new StateMachine(definition, { validationOptions: { noValidate: true } });
  }
  const machine = new StateMachine(definition);
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(mark, "");
  } catch {
    // Read-only install: nothing remembered, nothing lost but the time.
  }
  return machine;
}
